import { applyEdits, lineAt, lineStarts, type Edit } from './text-edits.js';

/** How a diff is labelled and what it must not show. */
export interface DiffOptions {
  oldLabel: string;
  newLabel: string;
  /** Lines of context around each change. */
  context?: number;
  /** Value texts (as written in the file) to print as `"…"`: the variables' values, which are often keys. */
  secrets?: readonly string[];
}

interface Block { os: number; oe: number; ns: number; ne: number }

function countBreaks(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** Returns the changed line ranges, old and new, of edits (sorted, merged where they touch). */
function changedBlocks(text: string, edits: readonly Edit[]): Block[] {
  const starts = lineStarts(text);
  const blocks: Block[] = [];
  let shift = 0;
  const real = edits.filter((e) => e.content !== text.slice(e.offset, e.offset + e.length));
  for (const edit of real.sort((a, b) => a.offset - b.offset)) {
    const os = lineAt(starts, edit.offset);
    // The line where the edit ends changes too (its tail moves), even when the edit ends at its start.
    const oe = lineAt(starts, edit.offset + edit.length);
    const delta = countBreaks(edit.content) - countBreaks(text.slice(edit.offset, edit.offset + edit.length));
    const block = { os, oe, ns: os + shift, ne: os + shift + (oe - os) + delta };
    shift += delta;
    const last = blocks.at(-1);
    // Changes on the same or the next line form one block: its old lines, then its new ones.
    if (last && os <= last.oe + 1) { last.oe = Math.max(last.oe, oe); last.ne = block.ne; } else blocks.push(block);
  }
  return blocks;
}

function splitLines(text: string): string[] {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  if (text.endsWith('\n')) lines.pop();
  return lines;
}

/**
 * Returns a unified diff of what the edits change (`''` when they change nothing), built from
 * the edits themselves: each changed line once, with context, and no secret values.
 */
export function renderEditDiff(text: string, edits: readonly Edit[], options: DiffOptions): string {
  const next = applyEdits(text, edits);
  if (next === text) return '';
  const context = options.context ?? 3;
  const oldLines = splitLines(text);
  const newLines = splitLines(next);
  const secrets = (options.secrets ?? []).filter((s) => s.length >= 6).sort((a, b) => b.length - a.length);
  const hide = (line: string): string => secrets.reduce((l, s) => l.split(s).join(s.startsWith("'") ? "'…'" : '"…"'), line);
  const blocks = changedBlocks(text, edits);
  const hunks: Block[][] = [];
  for (const block of blocks) {
    const current = hunks.at(-1);
    const previous = current?.at(-1);
    if (current && previous && block.os - previous.oe - 1 <= 2 * context) current.push(block); else hunks.push([block]);
  }
  const out = [`--- ${options.oldLabel}`, `+++ ${options.newLabel}`];
  for (const hunk of hunks) {
    const first = hunk[0] as Block;
    const last = hunk.at(-1) as Block;
    const oldStart = Math.max(0, first.os - context);
    const oldEnd = Math.min(oldLines.length - 1, last.oe + context);
    const newStart = first.ns - (first.os - oldStart);
    const newEnd = Math.min(newLines.length - 1, last.ne + (oldEnd - last.oe));
    out.push(`@@ -${oldStart + 1},${oldEnd - oldStart + 1} +${newStart + 1},${newEnd - newStart + 1} @@`);
    let at = oldStart;
    for (const block of hunk) {
      for (; at < block.os; at++) out.push(` ${hide(oldLines[at] ?? '')}`);
      for (let i = block.os; i <= Math.min(block.oe, oldLines.length - 1); i++) out.push(`-${hide(oldLines[i] ?? '')}`);
      for (let i = block.ns; i <= Math.min(block.ne, newLines.length - 1); i++) out.push(`+${hide(newLines[i] ?? '')}`);
      at = block.oe + 1;
    }
    for (; at <= oldEnd; at++) out.push(` ${hide(oldLines[at] ?? '')}`);
  }
  return `${out.join('\n')}\n`;
}
