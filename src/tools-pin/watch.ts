// The message-level half: one watch per server process (a stdio run, a bridged session) looks at
// the server's tools/list results and the client's tools/call requests. It pins the first
// complete list, reports what differs from the pin later (stderr and the pin's event log), and
// under enforce hides changed tools from the client and refuses calls to them.
import { createHash } from 'node:crypto';
import { withLock } from '../state/lock.js';
import { appendToolEvent, readToolPin, toolPinLockPath, writeToolPin, type ToolPinRecord } from '../state/tool-pins.js';
import { approveCommand, type ToolPinTarget } from './identity.js';
import { compareManifests, describeToolDiff, diffComparison, hashTool, pickPinnedFields, PINNED_FIELDS, type PinnedTool, type ToolDiff } from './manifest.js';
import { createPin, extendPin, isPinnedDefinition, mayCallTool, samePending, updatePending, type PinMode } from './pin.js';

/**
 * Matches in JSON text a key that reads as `"tools"` to a client that matches keys
 * case-insensitively (Go's encoding/json, with simple folding: `ſ` is an `s`), any of its
 * letters written as a `\u` escape: `"tools"`, `"Tools"`, `"TOOLS"`, `"toolſ"`, `"\u0054ools"`.
 */
const TOOLS_KEY = /"(?:[tT]|\\u00[57]4)(?:[oO]|\\u00[46][fF]){2}(?:[lL]|\\u00[46][cC])(?:[sS\u017f]|\\u00[57]3|\\u017[fF])"/;
/** The same on bytes read as latin1 (`ſ` is the two bytes C5 BF). */
const TOOLS_KEY_LATIN1 = /"(?:[tT]|\\u00[57]4)(?:[oO]|\\u00[46][fF]){2}(?:[lL]|\\u00[46][cC])(?:[sS]|\xc5\xbf|\\u00[57]3|\\u017[fF])"/;
/**
 * What the byte scanner looks for in a server's output (bytes read as latin1): such a key
 * spelled without escapes (a spelling with one holds `\u`, the other needle).
 */
export const TOOLS_KEY_NEEDLE = /"[tT][oO]{2}[lL](?:[sS]|\xc5\xbf)"/;
/** How much of a changed text goes to stderr; `mcp-lok approve` and the event log show all. */
const STDERR_TEXT_CHARS = 400;
/** The JSON-RPC error code of a refused call: invalid params, as servers answer an unknown tool. */
export const REFUSED_CALL_CODE = -32602;

/** Returns true when a server's line might hold a tools list (for any client: see TOOLS_KEY): the cheap test before any parse. */
export function mayHoldToolsList(line: string): boolean {
  return line.includes('"tools"') || TOOLS_KEY.test(line);
}

/** The same test on bytes (the line scanner's). */
export function mayHoldToolsListBytes(line: Buffer): boolean {
  return line.includes('"tools"') || TOOLS_KEY_LATIN1.test(line.toString('latin1'));
}

/** Returns true when a client's line might call or list tools (any `tools`, or escapes that could spell it). */
export function mayConcernTools(line: string | Buffer): boolean {
  return line.includes('tools') || line.includes('\\u');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Returns a key as a case-insensitive reader compares it (Go's encoding/json folds `K` to `k` and `ſ` to `s` too). */
function foldKey(key: string): string {
  return key.toUpperCase().toLowerCase();
}

/**
 * Returns the object without the keys that are not one of `names` but fold to one: a client
 * that matches keys case-insensitively (Go's encoding/json, last key winning) would read a
 * `"Description"` or `"Tools"` beside the pinned one instead of it. The same object when it has none.
 */
function withoutFoldedTwins(value: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  const folded = new Set(names.map(foldKey));
  const twins = Object.keys(value).filter((k) => !names.includes(k) && folded.has(foldKey(k)));
  if (twins.length === 0) return value;
  const copy = { ...value };
  for (const k of twins) delete copy[k];
  return copy;
}

/** Returns the values of an object's keys that are `name` or fold to it (what a case-insensitive client may read as it), in order. */
function foldedValues(value: Record<string, unknown>, name: string): unknown[] {
  return Object.keys(value).filter((k) => k === name || foldKey(k) === name).map((k) => value[k]);
}

/**
 * Returns the tools of a JSON-RPC response whose result lists tools, else undefined: every
 * array under a key that is or folds to `tools`, in a result under a key that is or folds to
 * `result` (a case-insensitive client reads `"Result": {"Tools": [...]}` as a tools list, and
 * the last of several), with the result a JavaScript client reads (or, without one, the last).
 */
function listedTools(message: unknown): { result: Record<string, unknown>; tools: unknown[] } | undefined {
  if (!isObject(message) || !Object.keys(message).some((k) => foldKey(k) === 'id')) return undefined;
  const results = foldedValues(message, 'result').filter(isObject);
  const lists = results.flatMap((r) => foldedValues(r, 'tools').filter((t): t is unknown[] => Array.isArray(t)));
  const result = isObject(message.result) ? message.result : results.at(-1);
  if (lists.length === 0 || result === undefined) return undefined;
  return { result, tools: lists.length === 1 ? lists[0] as unknown[] : lists.flat() };
}

/** Processes who reported what: each distinct change is said once per process, whatever the number of sessions. */
const REPORTED = new Set<string>();
/** Past this many distinct changes a process forgets what it said (and may say a change again). */
const MAX_REPORTED = 4096;

export interface ToolsWatchOptions {
  stateDir: string;
  locksDir: string;
  target: ToolPinTarget;
  mode: PinMode;
  /** Writes one line for people (stderr; a background server's goes to its log). */
  log: (line: string) => void;
  now: () => number;
  /** Say nothing when a server is first pinned (`-q`). */
  quiet?: boolean;
}

/** Watches one server's stdio for tools; see the module comment. */
export class ToolsWatch {
  readonly #o: ToolsWatchOptions;
  /** Pages of a list still coming (a page with a nextCursor was seen). */
  #pages: PinnedTool[] | undefined;
  /** Hashes this process has seen listed, by tool name (the last list's). */
  readonly #seen = new Map<string, Set<string>>();
  #work: Promise<void> = Promise.resolve();
  #damagedSaid = false;
  /**
   * This process is pinning a first list that comes in pages: its first page made the pin (a
   * server whose every page has a nextCursor, or a client that reads one page, would otherwise
   * never be pinned, and every start would be a "first use"); its later pages join the pin.
   */
  #pinningPages = false;

  constructor(options: ToolsWatchOptions) {
    this.#o = options;
  }

  get mode(): PinMode {
    return this.#o.mode;
  }

  /** Resolves once what was seen so far is recorded (the pin, pending changes, the event log). */
  settled(): Promise<void> {
    return this.#work;
  }

  /**
   * Looks at one line from the server. Returns the line to give the client: the same one, or
   * under enforce a tools list without the tools that differ from the pin (re-serialized), or
   * undefined to drop it (a line that names tools but is not JSON, under enforce).
   */
  serverLine(line: string): string | undefined {
    if (!mayHoldToolsList(line)) return line;
    let value: unknown;
    try { value = JSON.parse(line); } catch { return this.#o.mode === 'enforce' ? undefined : line; }
    const messages = Array.isArray(value) ? value : [value];
    let replaced = false;
    const out = messages.map((m) => {
      const replacement = this.serverMessage(m);
      if (replacement === undefined) return m;
      replaced = true;
      return replacement;
    });
    return replaced ? JSON.stringify(Array.isArray(value) ? out : out[0]) : line;
  }

  /**
   * Looks at one parsed message from the server (a line's, or an HTTP body's). Returns its
   * replacement under enforce when it lists tools (without those the pin does not allow; always
   * a new object, to be serialized again), else undefined: keep it as it came.
   */
  serverMessage(message: unknown): unknown {
    const found = listedTools(message);
    if (!found) return undefined;
    const kept = this.#review(found.tools, typeof found.result.nextCursor === 'string');
    if (this.#o.mode !== 'enforce') return undefined;
    const tools = (kept ?? found.tools).map((entry) => (isObject(entry) ? withoutFoldedTwins(entry, PINNED_FIELDS) : entry));
    return { ...withoutFoldedTwins(message as Record<string, unknown>, ['result']), result: { ...withoutFoldedTwins(found.result, ['tools']), tools } };
  }

  /**
   * Looks at one line from the client. Returns undefined to pass it on, or under enforce, for a
   * call of a tool the pin does not allow, `{ reply }`: the JSON-RPC error line for the client
   * (none for a notification) and `forward`, what is left of the line for the server (a batch
   * without the refused calls; undefined when nothing is).
   */
  clientLine(line: string): { reply: string[]; forward: string | undefined } | undefined {
    if (this.#o.mode !== 'enforce' || !mayConcernTools(line)) return undefined;
    let value: unknown;
    try { value = JSON.parse(line); } catch { return undefined; }
    const messages = Array.isArray(value) ? value : [value];
    const reply: string[] = [];
    const keep: unknown[] = [];
    for (const message of messages) {
      const refusal = this.clientMessage(message);
      if (refusal === undefined) { keep.push(message); continue; }
      const id = (message as { id?: unknown }).id;
      // A refused notification is dropped: there is nothing to answer.
      if (typeof id === 'string' || typeof id === 'number') reply.push(JSON.stringify({ jsonrpc: '2.0', id, error: refusal }));
    }
    if (keep.length === messages.length) return undefined;
    const forward = keep.length === 0 ? undefined : Array.isArray(value) ? JSON.stringify(keep) : line;
    return { reply, forward };
  }

  /**
   * Looks at one parsed message from the client. Under enforce, returns the JSON-RPC error
   * (`code`, `message` naming `mcp-lok approve X`) that refuses a call of a tool the pin does not
   * allow, which must then not reach the server; else undefined.
   */
  clientMessage(message: unknown): { code: number; message: string } | undefined {
    if (this.#o.mode !== 'enforce' || !isObject(message) || message.method !== 'tools/call' || !isObject(message.params)) return undefined;
    const name = message.params.name;
    if (typeof name !== 'string') return undefined;
    const record = this.#read();
    if (record === undefined) return undefined;
    if (record !== 'damaged' && mayCallTool(record, name, this.#seen.get(name))) return undefined;
    const { identity } = this.#o.target;
    const why = record === 'damaged'
      ? `mcp-lok cannot read the tool pin of ${identity}, so no tool may be called (--pin-tools enforce)`
      : Object.hasOwn(record.tools, name)
        ? `Tool ${JSON.stringify(name)} of ${identity} changed since it was pinned and is held back until approved (--pin-tools enforce)`
        : `Tool ${JSON.stringify(name)} of ${identity} is not in its pinned tools and is held back until approved (--pin-tools enforce)`;
    const text = `${why}: the user can review the change and run \`${approveCommand(identity)}\`.`;
    this.#o.log(`mcp-lok: refused a call of ${JSON.stringify(name).slice(0, 200)}: ${text}`);
    return { code: REFUSED_CALL_CODE, message: text };
  }

  /** Reads the pin now (approvals happen in other processes); 'damaged' when the file cannot be read as one. */
  #read(): ToolPinRecord | undefined | 'damaged' {
    try {
      return readToolPin(this.#o.stateDir, this.#o.target.id);
    } catch {
      if (!this.#damagedSaid) {
        this.#damagedSaid = true;
        this.#o.log(`mcp-lok: the tool pin of ${this.#o.target.identity} cannot be read; remove it (mcp-lok approve says where) to pin the tools again.`);
      }
      return 'damaged';
    }
  }

  /**
   * Takes one page of a tools list: checks it against the pin and records it. Returns, under
   * enforce, the entries the client may see; undefined leaves the page as it was.
   */
  #review(entries: unknown[], more: boolean): unknown[] | undefined {
    const page: PinnedTool[] = [];
    for (const entry of entries) {
      const tool = pickPinnedFields(entry);
      if (tool) page.push(tool);
    }
    // A page with a cursor starts or continues a list; the page without one completes it.
    const all = [...(this.#pages ?? []), ...page];
    this.#pages = more ? all : undefined;
    const complete = !more;
    const seenNow = complete ? all : page;
    if (complete) this.#seen.clear();
    for (const tool of seenNow) {
      let hashes = this.#seen.get(tool.name);
      if (!hashes) this.#seen.set(tool.name, hashes = new Set());
      hashes.add(hashTool(tool));
    }
    const record = this.#read();
    // A first list's pages, until one completes it, pin as they come (see #pinningPages).
    const firstList = record === undefined || this.#pinningPages;
    this.#pinningPages = firstList && !complete;
    this.#record(seenNow, complete, firstList);
    if (this.#o.mode !== 'enforce' || firstList) return undefined;
    if (record === 'damaged') return [];
    return entries.filter((entry) => {
      const tool = pickPinnedFields(entry);
      return tool !== undefined && isPinnedDefinition(record, tool);
    });
  }

  /**
   * Records a list in the background, under the pin's lock: the first list pins (page by page
   * when it comes in pages: `firstList`), later ones note what differs.
   */
  #record(seen: PinnedTool[], complete: boolean, firstList: boolean): void {
    const { stateDir, locksDir, target } = this.#o;
    this.#work = this.#work.then(() => withLock(toolPinLockPath(locksDir, target.id), async () => {
      const record = this.#read();
      if (record === 'damaged') return;
      const now = new Date(this.#o.now()).toISOString();
      if (!record) {
        this.#pin(createPin(target, seen, now));
        return;
      }
      if (firstList) {
        // A later page of the list that made the pin (or another first use's, at the same time): its new tools join it.
        const joined = extendPin(record, seen, now);
        if (joined !== record) writeToolPin(stateDir, joined);
        return;
      }
      const comparison = compareManifests(record.tools, seen, complete);
      const enforced = this.#o.mode === 'enforce';
      const pending = updatePending(record.pending, comparison, complete, now, enforced);
      if (!samePending(record.pending, pending)) writeToolPin(stateDir, { ...record, pending, updatedAt: now });
      this.#report(record, diffComparison(comparison), now);
    })).catch((error: unknown) => {
      this.#o.log(`mcp-lok: could not record the tools of ${target.identity}: ${error instanceof Error ? error.message : String(error)}`);
    });
  }

  #pin(record: ToolPinRecord): void {
    const { stateDir, target, mode } = this.#o;
    writeToolPin(stateDir, record);
    const count = Object.keys(record.tools).length;
    const line = `pinned the ${count} tool${count === 1 ? '' : 's'} of ${target.identity} (first use): a new, changed or removed tool will be reported${mode === 'enforce' ? ', and hidden until approved' : ''}.`;
    appendToolEvent(stateDir, target.id, { time: record.pinnedAt, kind: 'pinned', identity: target.identity, mode, lines: [line, ...Object.keys(record.tools).sort().map((n) => `  ${JSON.stringify(n)}`)] });
    if (!this.#o.quiet) this.#o.log(`mcp-lok: ${line}`);
  }

  /** Says each change not yet said by this process: one line per tool and its diff, on stderr and in the event log. */
  #report(record: ToolPinRecord, diffs: ToolDiff[], now: string): void {
    const { stateDir, target, mode } = this.#o;
    const fresh = diffs.filter((d) => {
      // A hash, not the diff: a server that changes a long description at every list must not grow a supervisor.
      const key = createHash('sha256').update(`${target.id}\0${d.name}\0${d.change}\0${JSON.stringify(d.fields)}`).digest('base64');
      if (REPORTED.has(key)) return false;
      if (REPORTED.size >= MAX_REPORTED) REPORTED.clear();
      REPORTED.add(key);
      return true;
    });
    if (fresh.length === 0) return;
    const command = approveCommand(target.identity);
    const since = `since ${target.identity}'s tools were pinned on ${record.pinnedAt.slice(0, 10)}`;
    const action = mode === 'enforce' ? `hidden from the client until \`${command}\`` : `\`${command}\` reviews and accepts it`;
    const lines: string[] = [];
    const full: string[] = [];
    for (const diff of fresh) {
      const [head = '', ...rest] = describeToolDiff(diff, STDERR_TEXT_CHARS);
      lines.push(`${target.identity}: ${head} ${since}; ${action}.`, ...rest);
      const [, ...all] = describeToolDiff(diff);
      full.push(`${target.identity}: ${head} ${since}; ${action}.`, ...all);
    }
    for (const line of lines) this.#o.log(`mcp-lok: ${line}`);
    appendToolEvent(stateDir, target.id, { time: now, kind: 'changed', identity: target.identity, mode, lines: full, diff: fresh });
  }
}
