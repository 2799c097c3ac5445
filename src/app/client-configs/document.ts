import type { ArrayNode, Span } from './text-edits.js';

/** One server entry of a config file, with where its command and arguments are written. */
export interface FoundEntry {
  name: string;
  /** The Claude Code project the entry belongs to (`projects[PATH]` in ~/.claude.json), if any. */
  project: string | undefined;
  /** The keys leading to the entry in the file: what a wrap record is kept under. */
  key: string[];
  /** The keys from the entry to its command and its arguments (Zed's older form nests them in `command`). */
  commandPath: string[];
  argsPath: string[];
  command: { value: unknown; span: Span } | undefined;
  args: (ArrayNode & { value: unknown }) | undefined;
  /** The variables the client sets for the server: `env`'s keys (and Codex's `env_vars`). */
  envNames: string[];
  /** The value texts of `env`, as written: kept out of diffs. */
  secretTexts: string[];
  /** VS Code's `envFile`: variables from a file, whose names are not in the config. */
  envFile: string | undefined;
  /** The client connects to a URL: nothing runs on this machine. */
  remote: boolean;
  /** Why the entry's command or arguments could not be found in the text (so it is not edited). */
  unlocated?: string;
}

/** A parsed config file: its entries, its whole value, and how to write and read values in its syntax. */
export interface ConfigDocument {
  format: 'json' | 'toml';
  entries: FoundEntry[];
  value: unknown;
  /** Parses a text of this format (to check that an edit changed only what it meant to). */
  parse: (text: string) => unknown;
  /** Returns a string as a value text of this format. */
  literal: (value: string) => string;
}

/** Returns the value at a path of keys, or undefined. */
export function valueAt(root: unknown, path: readonly string[]): unknown {
  let at: unknown = root;
  for (const key of path) {
    if (at === null || typeof at !== 'object' || !Object.hasOwn(at, key)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

/** Returns a deep copy of `root` with the value at `path` replaced (the path must exist). */
export function withValueAt(root: unknown, path: readonly string[], value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path as [string, ...string[]];
  if (Array.isArray(root)) {
    const copy = [...root] as unknown[];
    copy[Number(head)] = withValueAt(copy[Number(head)], rest, value);
    return copy;
  }
  const copy: Record<string, unknown> = { ...(root as Record<string, unknown>) };
  copy[head] = withValueAt(copy[head], rest, value);
  return copy;
}

/** Returns true when two parsed values are equal (plain data: objects, arrays, scalars, dates). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return Number.isNaN(a) && Number.isNaN(b);
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
