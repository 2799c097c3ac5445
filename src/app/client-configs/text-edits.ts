// Edits to a config file's text: byte ranges replaced, everything else left as it was, so
// comments, spacing and key order survive and `unwrap` can put the old bytes back.

/** A range of a text: where a value starts and how long it is. */
export interface Span {
  offset: number;
  length: number;
}

/** Replace `length` characters at `offset` with `content` (the shape jsonc-parser uses). */
export interface Edit extends Span {
  content: string;
}

/** An array value as found in a file: its own span and each element's. */
export interface ArrayNode {
  span: Span;
  elements: Span[];
}

/** Returns the text with non-overlapping edits applied (in any order). */
export function applyEdits(text: string, edits: readonly Edit[]): string {
  const sorted = [...edits].sort((a, b) => a.offset - b.offset);
  let out = '';
  let at = 0;
  for (const edit of sorted) {
    if (edit.offset < at) throw new Error('overlapping edits');
    out += text.slice(at, edit.offset) + edit.content;
    at = edit.offset + edit.length;
  }
  return out + text.slice(at);
}

/** Returns the text of a span. */
export function sliceSpan(text: string, span: Span): string {
  return text.slice(span.offset, span.offset + span.length);
}

/**
 * Returns what goes between two elements of this array in its own style: the separator its
 * first two elements have when that is only a comma and spacing, else a comma and the line
 * break and indentation before the first element (or a space, on one line).
 */
export function arraySeparator(text: string, array: ArrayNode): string {
  const [first, second] = array.elements;
  if (!first) return ', ';
  if (second) {
    const between = text.slice(first.offset + first.length, second.offset);
    if (/^[ \t]*,[ \t]*(\r?\n[ \t]*)?$/.test(between)) return between;
  }
  const before = text.slice(array.span.offset + 1, first.offset);
  const lastBreak = before.lastIndexOf('\n');
  if (lastBreak === -1) return ', ';
  const indent = before.slice(lastBreak + 1);
  return /^[ \t]*$/.test(indent) ? `,${before[lastBreak - 1] === '\r' ? '\r' : ''}\n${indent}` : ', ';
}

/**
 * Returns the edit that drops the first `drop` elements of an array and puts `insert` (value
 * texts, in the file's syntax) before the rest, in the array's own layout. At least one
 * element must stay: the edit ends where that element starts, so nothing after it moves.
 */
export function editArrayFront(text: string, array: ArrayNode, drop: number, insert: readonly string[]): Edit {
  const first = array.elements[0];
  const kept = array.elements[drop];
  if (!first || !kept) throw new Error('editArrayFront: no element would be left');
  const separator = arraySeparator(text, array);
  return { offset: first.offset, length: kept.offset - first.offset, content: insert.map((item) => item + separator).join('') };
}

/** Returns the offsets at which each line of the text starts. */
export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/** Returns the 0-based line holding an offset, given the text's line starts. */
export function lineAt(starts: readonly number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((starts[mid] ?? 0) <= offset) lo = mid; else hi = mid - 1;
  }
  return lo;
}
