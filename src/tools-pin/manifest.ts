// A tool manifest, pure: which fields of a tool are pinned, their hash, and how a tool as seen
// differs from the tool as pinned. A server that changes a tool's description (instructions
// for the model) or its schema after the user chose it is the "rug pull" this exists to show.
import { createHash } from 'node:crypto';
import { appendJsonPath } from '../sandbox/profile-json.js';

/** What a client and its model see of a tool: the fields that are pinned, in this order. */
export const PINNED_FIELDS = ['name', 'title', 'description', 'inputSchema', 'outputSchema', 'annotations'] as const;
export type PinnedField = (typeof PINNED_FIELDS)[number];

/** A tool as pinned: its pinned fields only, as the server sent them. */
export interface PinnedTool {
  name: string;
  title?: unknown;
  description?: unknown;
  inputSchema?: unknown;
  outputSchema?: unknown;
  annotations?: unknown;
}

/** A tool as recorded in a pin: its hash and its pinned fields (kept to show a diff later). */
export interface PinEntry {
  hash: string;
  tool: PinnedTool;
}

/** How the tools a server listed compare with its pin. */
export interface ManifestComparison {
  /** Listed, not in the pin. */
  added: PinnedTool[];
  /** Listed with a definition other than the pinned one. */
  changed: Array<{ before: PinnedTool; after: PinnedTool }>;
  /** In the pin, not listed (only from a complete list). */
  removed: PinnedTool[];
  /** Names listed exactly as pinned. */
  same: string[];
}

/** One change of a JSON value (a schema, annotations) at a JSON path. */
export interface PathChange {
  path: string;
  change: 'added' | 'removed' | 'changed';
  before?: unknown;
  after?: unknown;
}

/** How one pinned field differs: text fields show both texts, the others the paths that differ. */
export type FieldDiff =
  | { field: 'title' | 'description'; kind: 'text'; before: unknown; after: unknown }
  | { field: 'inputSchema' | 'outputSchema' | 'annotations'; kind: 'json'; changes: PathChange[] };

/** A tool that is new, changed or gone, with what changed. */
export interface ToolDiff {
  name: string;
  change: 'added' | 'changed' | 'removed';
  fields: FieldDiff[];
}

/** The most path changes shown for one field; the rest are counted. */
const MAX_PATH_CHANGES = 40;

/** Returns true for a JSON object (not an array, not null). */
function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Returns the tool's pinned fields, or undefined when it is not a tool (an object with a
 * non-empty string name): what a client would not accept cannot be pinned or shown either.
 */
export function pickPinnedFields(value: unknown): PinnedTool | undefined {
  if (!isObject(value) || typeof value.name !== 'string' || value.name === '') return undefined;
  const tool: PinnedTool = { name: value.name };
  for (const field of PINNED_FIELDS) {
    if (field !== 'name' && Object.hasOwn(value, field) && value[field] !== undefined) tool[field] = value[field];
  }
  return tool;
}

/** Returns JSON text with every object's keys sorted, recursively: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item === undefined ? null : item)).join(',')}]`;
  if (isObject(value)) {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Returns a tool's hash: `sha256:` and the hex SHA-256 of its pinned fields' canonical JSON. */
export function hashTool(tool: PinnedTool): string {
  return `sha256:${createHash('sha256').update(canonicalJson(tool)).digest('hex')}`;
}

/** Returns the pin entries of a list of tools, by name (a name listed twice keeps its first definition). */
export function pinTools(tools: readonly PinnedTool[]): Record<string, PinEntry> {
  const pinned: Record<string, PinEntry> = Object.create(null) as Record<string, PinEntry>;
  for (const tool of tools) if (!Object.hasOwn(pinned, tool.name)) pinned[tool.name] = { hash: hashTool(tool), tool };
  return pinned;
}

/**
 * Returns how listed tools compare with a pin. Each listed definition is compared on its own,
 * so a name listed twice with two definitions is changed if either differs. Only a complete
 * list (every page) can say that a pinned tool is gone.
 */
export function compareManifests(pinned: Readonly<Record<string, PinEntry>>, seen: readonly PinnedTool[], complete: boolean): ManifestComparison {
  const result: ManifestComparison = { added: [], changed: [], removed: [], same: [] };
  const listed = new Set<string>();
  const counted = new Set<string>();
  for (const tool of seen) {
    listed.add(tool.name);
    const hash = hashTool(tool);
    const key = `${tool.name}\0${hash}`;
    if (counted.has(key)) continue;
    counted.add(key);
    const pin = Object.hasOwn(pinned, tool.name) ? pinned[tool.name] : undefined;
    if (!pin) result.added.push(tool);
    else if (pin.hash !== hash) result.changed.push({ before: pin.tool, after: tool });
    else result.same.push(tool.name);
  }
  if (complete) for (const [name, pin] of Object.entries(pinned)) if (!listed.has(name)) result.removed.push(pin.tool);
  return result;
}

/** Returns the changes between two JSON values, by JSON path from `$`. */
export function diffJson(before: unknown, after: unknown, path = '$', out: PathChange[] = []): PathChange[] {
  if (before === undefined && after === undefined) return out;
  if (before === undefined) { out.push({ path, change: 'added', after }); return out; }
  if (after === undefined) { out.push({ path, change: 'removed', before }); return out; }
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    for (const key of keys) diffJson(Object.hasOwn(before, key) ? before[key] : undefined, Object.hasOwn(after, key) ? after[key] : undefined, appendJsonPath(path, key), out);
    return out;
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    for (let i = 0; i < Math.max(before.length, after.length); i++) diffJson(i < before.length ? before[i] : undefined, i < after.length ? after[i] : undefined, appendJsonPath(path, i), out);
    return out;
  }
  if (canonicalJson(before) !== canonicalJson(after)) out.push({ path, change: 'changed', before, after });
  return out;
}

/** Returns what differs between a tool as pinned and as seen (either may be absent: added, removed). */
export function diffTool(before: PinnedTool | undefined, after: PinnedTool | undefined): ToolDiff {
  const name = after?.name ?? before?.name ?? '';
  const change = !before ? 'added' : !after ? 'removed' : 'changed';
  const fields: FieldDiff[] = [];
  // A new tool shows all it says; a gone one only its name.
  if (after) {
    for (const field of ['title', 'description'] as const) {
      if (canonicalJson(before?.[field]) !== canonicalJson(after[field])) fields.push({ field, kind: 'text', before: before?.[field], after: after[field] });
    }
    for (const field of ['inputSchema', 'outputSchema', 'annotations'] as const) {
      const changes = before ? diffJson(before[field], after[field]) : after[field] === undefined ? [] : [{ path: '$', change: 'added' as const, after: after[field] }];
      if (changes.length > 0) fields.push({ field, kind: 'json', changes });
    }
  }
  return { name, change, fields };
}

/** Returns the tool diffs of a comparison: added, changed, removed, each sorted by name. */
export function diffComparison(comparison: ManifestComparison): ToolDiff[] {
  const byName = (a: ToolDiff, b: ToolDiff): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return [
    ...comparison.added.map((t) => diffTool(undefined, t)).sort(byName),
    ...comparison.changed.map((c) => diffTool(c.before, c.after)).sort(byName),
    ...comparison.removed.map((t) => diffTool(t, undefined)).sort(byName),
  ];
}

// Controls, invisible and direction-changing characters, and the Unicode tag block (text a
// model reads and a terminal does not show): written as escapes, so a diff hides nothing.
const HIDDEN = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]|\udb40[\udc00-\udc7f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Returns a value as one line of JSON for people: strings quoted, invisible characters written
 * as `\uXXXX`, and, with `maxChars`, cut short with the count of what was left out.
 */
export function showValue(value: unknown, maxChars = Infinity): string {
  if (value === undefined) return '(none)';
  const text = typeof value === 'string' ? value : canonicalJson(value);
  const cut = text.length > maxChars ? text.slice(0, maxChars) : text;
  const quoted = (typeof value === 'string' ? JSON.stringify(cut) : cut)
    .replace(HIDDEN, (c) => c.split('').map((u) => `\\u${u.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''));
  return cut.length < text.length ? `${quoted}… (${text.length - cut.length} more characters)` : quoted;
}

/**
 * Returns a tool diff as lines for people (without a prefix): what happened to the tool, then
 * an indented line per changed text (old and new) or schema path. `maxChars` shortens long texts.
 */
export function describeToolDiff(diff: ToolDiff, maxChars = Infinity): string[] {
  const name = showValue(diff.name, 200);
  const head = diff.change === 'added' ? `tool ${name} is new` : diff.change === 'removed' ? `tool ${name} is gone` : `tool ${name} changed (${diff.fields.map((f) => f.field).join(', ')})`;
  const lines = [head];
  for (const f of diff.fields) {
    if (f.kind === 'text' && diff.change === 'added') {
      lines.push(`  ${f.field}: ${showValue(f.after, maxChars)}`);
      continue;
    }
    if (f.kind === 'text') {
      lines.push(`  ${f.field} was: ${showValue(f.before, maxChars)}`, `  ${f.field} now: ${showValue(f.after, maxChars)}`);
      continue;
    }
    if (diff.change === 'added') {
      lines.push(`  ${f.field}: ${showValue(f.changes[0]?.after, maxChars)}`);
      continue;
    }
    for (const c of f.changes.slice(0, MAX_PATH_CHANGES)) {
      const where = `${f.field} ${showValue(c.path, 200).slice(1, -1)}`;
      if (c.change === 'added') lines.push(`  ${where} added: ${showValue(c.after, maxChars)}`);
      else if (c.change === 'removed') lines.push(`  ${where} removed (was ${showValue(c.before, maxChars)})`);
      else lines.push(`  ${where} changed: ${showValue(c.before, maxChars)} -> ${showValue(c.after, maxChars)}`);
    }
    if (f.changes.length > MAX_PATH_CHANGES) lines.push(`  ${f.field}: and ${f.changes.length - MAX_PATH_CHANGES} more changes`);
  }
  return lines;
}
