// What `wrap` and `unwrap` do to one server entry, decided from the entry alone: pure.
import { LokError } from '../../errors.js';
import { parseNpxArgs } from '../../request/npx-args.js';
import { parseEnvEntry } from '../../request/option-values.js';
import { resolveLokOptions } from '../../request/options.js';
import { sameValue, type ConfigDocument, type FoundEntry } from './document.js';
import type { WrapRecord } from '../../state/wrap-records.js';
import { editArrayFront, sliceSpan, type Edit } from './text-edits.js';

/** How a config starts mcp-lok-npx: its absolute path, or (Windows) node and the script. */
export interface ShimCommand {
  command: string;
  /** Arguments before the server's own: the script, when `command` is node. */
  prefix: string[];
}

/** What `wrap` does with an entry. */
export type WrapDecision =
  | { kind: 'wrap'; command: string; args: string[]; drop: number; insert: string[]; forwarded: string[]; notes: string[] }
  | { kind: 'wrapped' }
  | { kind: 'skip'; reason: string };

/** Variables that describe the host, not the server: forwarding them would break the sandbox's own. */
const HOST_VARIABLES = /^(PATH|HOME|NODE_PATH|npm_config_\w*|NPM_CONFIG_\w*)$/;
/** mcp-lok-npx's own settings: it reads them from the entry's env itself, and never hands them to the server. */
const LOK_SETTINGS = /^MCP_LOK_/i;

/** Returns the last segment of a path written for any platform. */
function baseName(path: string): string {
  return path.split(/[\\/]/).at(-1) ?? path;
}

function isNpx(command: string): boolean {
  return /^npx(\.(cmd|exe|ps1))?$/i.test(baseName(command));
}

/** Returns true when an entry already starts mcp-lok-npx (by any path, or as node's script). */
export function isShimCommand(command: string, args: readonly unknown[]): boolean {
  if (/^mcp-lok-npx(\.cmd|\.ps1|\.exe)?$/i.test(baseName(command))) return true;
  return /^node(\.exe)?$/i.test(baseName(command)) && typeof args[0] === 'string' && /^mcp-lok-npx(\.js)?$/i.test(baseName(args[0]));
}

/** Returns how many leading arguments start npx (0 for `npx`, 2 for Windows' `cmd /c npx`), or undefined when the entry does not run npx. */
export function npxPrefixLength(command: string, args: readonly unknown[]): number | undefined {
  if (isNpx(command)) return 0;
  const [flag, second] = args;
  if (/^cmd(\.exe)?$/i.test(baseName(command)) && typeof flag === 'string' && /^\/c$/i.test(flag) && typeof second === 'string' && isNpx(second)) return 2;
  return undefined;
}

function whyNotNpx(command: string): string {
  const base = baseName(command);
  if (/^docker(\.exe)?$|^podman(\.exe)?$/i.test(base)) return `runs ${base}, not npx: run its image with \`mcp-lok run IMAGE\` instead`;
  if (/^(uvx|uv|python3?|pipx)(\.exe)?$/i.test(base)) return `runs ${base} (Python), not npx: mcp-lok-npx runs npm packages`;
  if (/^(bunx|pnpm|yarn|pnpx)(\.cmd|\.exe)?$/i.test(base)) return `runs ${base}, not npx: change it to npx to wrap it`;
  return `runs ${base}, not npx`;
}

function stringArray(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;
}

/**
 * Returns how to wrap an entry: its npx command becomes mcp-lok-npx (by `shim`), each
 * variable of its `env` but the host's and mcp-lok-npx's own settings is forwarded with
 * `-e NAME`, and npx's options stay; or why not.
 * `env` is what mcp-lok-npx will read its MCP_LOK_* settings from.
 */
export function decideWrap(entry: FoundEntry, shim: ShimCommand, env: Readonly<Record<string, string | undefined>>): WrapDecision {
  if (entry.remote) return { kind: 'skip', reason: 'connects to a URL: nothing runs on this machine' };
  if (entry.command === undefined) return { kind: 'skip', reason: 'has no command' };
  const command = entry.command.value;
  if (typeof command !== 'string') return { kind: 'skip', reason: 'its command is not a string' };
  const args = entry.args === undefined ? [] : stringArray(entry.args.value);
  if (!args) return { kind: 'skip', reason: 'its args are not a list of strings' };
  if (isShimCommand(command, args)) return { kind: 'wrapped' };
  const drop = npxPrefixLength(command, args);
  if (drop === undefined) return { kind: 'skip', reason: whyNotNpx(command) };
  if (entry.unlocated) return { kind: 'skip', reason: `${entry.unlocated}; edit it by hand` };
  const rest = args.slice(drop);
  if (rest.length === 0 || !entry.args) return { kind: 'skip', reason: 'runs npx without a package' };
  const notes: string[] = [];
  const forwarded: string[] = [];
  for (const name of entry.envNames) {
    if (!parseEnvEntry(name)) notes.push(`its variable ${JSON.stringify(name)} is not a name \`-e\` takes: not forwarded`);
    else if (HOST_VARIABLES.test(name)) notes.push(`${name} is not forwarded: the sandbox has its own`);
    else if (LOK_SETTINGS.test(name)) notes.push(`${name} is a setting of mcp-lok-npx, which reads it from this env: not passed to the server`);
    else forwarded.push(name);
  }
  if (entry.envFile) notes.push(`the variables of its envFile reach the server only when named: add \`-e NAME\` for each to its args`);
  const insert = [...shim.prefix, ...forwarded.flatMap((name) => ['-e', name])];
  const wrappedArgs = [...insert, ...rest];
  try {
    const invocation = parseNpxArgs(wrappedArgs.slice(shim.prefix.length), env);
    if (invocation.kind !== 'run') return { kind: 'skip', reason: 'asks npx for its help or version, not a server' };
  } catch (error) {
    if (error instanceof LokError) return { kind: 'skip', reason: `mcp-lok-npx would refuse its arguments: ${error.message}` };
    throw error;
  }
  return { kind: 'wrap', command: shim.command, args: wrappedArgs, drop, insert, forwarded, notes };
}

/** Returns the edits that wrap an entry, and the record that undoes them. */
export function wrapEdits(text: string, doc: ConfigDocument, entry: FoundEntry, decision: Extract<WrapDecision, { kind: 'wrap' }>): { edits: Edit[]; record: Omit<WrapRecord, 'file' | 'client' | 'at'> } {
  const command = entry.command;
  const args = entry.args;
  if (!command || !args) throw new Error('wrapEdits: the entry has no command or args');
  const front = editArrayFront(text, args, decision.drop, decision.insert.map(doc.literal));
  return {
    edits: [{ ...command.span, content: doc.literal(decision.command) }, front],
    record: {
      key: entry.key, name: entry.name,
      original: { command: sliceSpan(text, command.span), args: sliceSpan(text, args.span) },
      wrapped: { command: decision.command, args: decision.args },
      inserted: decision.insert.length,
      replaced: text.slice(front.offset, front.offset + front.length),
    },
  };
}

/** What `unwrap` does with an entry. */
export type UnwrapDecision =
  | { kind: 'restore'; edits: Edit[]; how: 'exact' | 'kept-changes' | 'derived' }
  | { kind: 'skip'; reason: string }
  | { kind: 'not-wrapped' };

const DEFAULT_LOK = resolveLokOptions({}, {});

/**
 * Returns how to undo the wrap of an entry: with its record, the very bytes it replaced (the
 * arguments the user added since are kept); without one, the npx command its wrapped form
 * implies, when that form is exactly what `wrap` writes.
 */
export function decideUnwrap(text: string, doc: ConfigDocument, entry: FoundEntry, record: WrapRecord | undefined): UnwrapDecision {
  const command = entry.command;
  const args = entry.args;
  const argv = stringArray(args?.value);
  if (!command || typeof command.value !== 'string' || !args || !argv || !isShimCommand(command.value, argv)) {
    return record ? { kind: 'skip', reason: 'no longer runs mcp-lok-npx: left as it is' } : { kind: 'not-wrapped' };
  }
  if (record) {
    if (command.value !== record.wrapped.command) return { kind: 'skip', reason: `its command changed since the wrap (now ${command.value}): restore it by hand` };
    if (sameValue(argv, record.wrapped.args)) {
      return { kind: 'restore', how: 'exact', edits: [{ ...command.span, content: record.original.command }, { ...args.span, content: record.original.args }] };
    }
    const inserted = record.wrapped.args.slice(0, record.inserted);
    const kept = args.elements[record.inserted];
    if (kept && sameValue(argv.slice(0, record.inserted), inserted)) {
      const first = args.elements[0] as { offset: number };
      return {
        kind: 'restore', how: 'kept-changes',
        edits: [{ ...command.span, content: record.original.command }, { offset: first.offset, length: kept.offset - first.offset, content: record.replaced }],
      };
    }
    return { kind: 'skip', reason: 'the arguments mcp-lok put in front changed since the wrap: restore it by hand' };
  }
  // No record (another machine's wrap, a removed state folder): undo exactly what wrap writes, nothing else.
  const script = /^node(\.exe)?$/i.test(baseName(command.value)) ? 1 : 0;
  let at = script;
  while (argv[at] === '-e' && entry.envNames.includes(argv[at + 1] ?? '')) at += 2;
  const rest = argv.slice(at);
  try {
    const invocation = parseNpxArgs(rest, {});
    if (invocation.kind !== 'run' || !sameValue(invocation.lok, DEFAULT_LOK) || !args.elements[at]) throw new Error('mcp-lok options');
  } catch {
    return { kind: 'skip', reason: 'it uses mcp-lok options npx does not have, and there is no record of its npx form: edit it by hand' };
  }
  return { kind: 'restore', how: 'derived', edits: [{ ...command.span, content: doc.literal('npx') }, editArrayFront(text, args, at, [])] };
}
