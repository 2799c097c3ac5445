// Pure parts of `npm run compat`: its arguments, what a server's three columns amount to, whether
// that meets the issue's goal, and the Markdown table. No I/O here.
import type { CompatServer, DocumentedFlags } from './catalog.js';

type RefusedTools = NonNullable<CompatServer['refusedTools']>;

export type ColumnName = 'pure' | 'documented' | 'bare';

/** What one way of starting a server gave: its tools, or why it gave none. */
export interface ColumnResult {
  /** False when the column was not run (documented = pure, or no network namespace for bare npx). */
  ran: boolean;
  ok: boolean;
  /** Tool names, sorted. */
  tools: string[];
  /** Digest of the full tool definitions (names, descriptions, schemas). */
  digest?: string;
  /** Why it listed nothing (or why it did not run). */
  error?: string;
  timedOut?: boolean;
  /** The first and last lines of the server's stderr. */
  stderrLines?: string;
  ms?: number;
  probe?: { ok: boolean; text: string };
}

export interface ServerResult {
  name: string;
  /** The version each side ran: npx's choice (`bare`) and mcp-lok's install (`lok`). */
  versions: { bare?: string; lok?: string };
  downloads: number;
  args: string[];
  env: string[];
  /** What the documented column added, in words; empty when it is the pure drop-in. */
  needs: DocumentedFlags[];
  refused?: string;
  refusedTools?: RefusedTools;
  columns: Record<ColumnName, ColumnResult>;
  verdict: Verdict;
  /** Containers the suite had to remove itself after a column (mcp-lok should have). */
  leaked: string[];
}

export type VerdictKind = 'drop-in' | 'needs' | 'other-version' | 'fails' | 'bare-fails';

export interface Verdict {
  kind: VerdictKind;
  /** `drop-in`, `needs -e X`, `other version`, `fails`, `bare npx fails`. */
  label: string;
  why: string;
}

export interface CompatArgs {
  only?: string[];
  json: boolean;
  check: boolean;
  out?: string;
  timeoutMs: number;
  installTimeoutMs: number;
  help: boolean;
}

/** Returns the suite's options from argv, or throws an Error whose message is one line for people. */
export function parseCompatArgs(argv: string[]): CompatArgs {
  const args: CompatArgs = { json: false, check: false, timeoutMs: 90_000, installTimeoutMs: 600_000, help: false };
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`Expected a value after \`${flag}\`.`);
    return v;
  };
  const seconds = (text: string, flag: string): number => {
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`Expected \`${flag}\` to be a number of seconds such as \`90\`, got \`${text}\`.`);
    return Math.round(n * 1000);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const take = (): string => { if (inline !== undefined) return inline; const v = value(i, flag); i++; return v; };
    switch (flag) {
      case '--only': args.only = take().split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--json': args.json = true; break;
      case '--check': args.check = true; break;
      case '--out': args.out = take(); break;
      case '--timeout': args.timeoutMs = seconds(take(), flag); break;
      case '--install-timeout': args.installTimeoutMs = seconds(take(), flag); break;
      case '-h': case '--help': args.help = true; break;
      default: throw new Error(`Unknown option \`${arg}\`; see \`npm run compat -- --help\`.`);
    }
  }
  if (args.only && args.only.length === 0) throw new Error('Expected `--only` to name servers, such as `--only @modelcontextprotocol/server-memory`.');
  return args;
}

/** Returns the catalog entries `--only` names, in catalog order; throws naming any it does not know. */
export function selectServers(catalog: readonly CompatServer[], only: readonly string[] | undefined): CompatServer[] {
  if (!only) return [...catalog];
  const unknown = only.filter((n) => !catalog.some((s) => s.name === n));
  if (unknown.length > 0) throw new Error(`Not in the compat catalog: ${unknown.join(', ')}. Known: ${catalog.map((s) => s.name).join(', ')}.`);
  return catalog.filter((s) => only.includes(s.name));
}

/** Returns true when two columns listed the same tool names. */
export function sameTools(a: ColumnResult, b: ColumnResult): boolean {
  return a.ok && b.ok && a.tools.length === b.tools.length && a.tools.every((t, i) => t === b.tools[i]);
}

/** Returns true when a column lists what bare npx lists, less the tools the sandbox refuses by design (when given). */
export function listsLike(column: ColumnResult, bare: ColumnResult, refused?: RefusedTools): boolean {
  if (sameTools(column, bare)) return true;
  if (!refused || !column.ok || !bare.ok) return false;
  const expected = bare.tools.filter((t) => !t.startsWith(refused.prefix));
  return column.tools.length === expected.length && column.tools.every((t, i) => t === expected[i]);
}

/** Returns true when a column does what bare npx does: the same tools, and the probe (if any) with the same success. */
function behavesLike(column: ColumnResult, bare: ColumnResult, refused?: RefusedTools): boolean {
  if (!listsLike(column, bare, refused)) return false;
  return !bare.probe || column.probe?.ok === bare.probe.ok;
}

/** Returns the names one list has that the other lacks, as `+a -b`. */
export function toolDiff(column: ColumnResult, bare: ColumnResult): string {
  const added = column.tools.filter((t) => !bare.tools.includes(t)).map((t) => `+${t}`);
  const missing = bare.tools.filter((t) => !column.tools.includes(t)).map((t) => `-${t}`);
  return [...added, ...missing].join(' ');
}

const tools = (n: number): string => `${n} tool${n === 1 ? '' : 's'}`;

const clip = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;
const ERRORISH = /error|fail|cannot|can't|could not|missing|required|not set|please (set|provide)|denied|refused|ENOENT|EROFS|EACCES|ENETUNREACH|EAI_AGAIN|ENOTFOUND|invalid|unsupported|not found/i;
const THROWN = /(^|\s|\]: )([A-Z]\w*)?Error: /;
const GENERIC = /^MCP error -32000: Connection closed$/;

/**
 * Returns the one line that best says why a column failed: the last thrown error in its stderr
 * (`Error: ...`, stack frames skipped), else the last error-like line, else the client's error.
 */
export function shortReason(column: ColumnResult, max = 160): string {
  const lines = (column.stderrLines ?? '').replace(ANSI, '').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !/^at /.test(l));
  const serverLines = lines.filter((l) => !l.startsWith('mcp-lok: ') || /refused|cannot|not /i.test(l));
  const reversed = [...serverLines].reverse();
  const errorLine = reversed.find((l) => THROWN.test(l)) ?? reversed.find((l) => ERRORISH.test(l));
  const closed = column.error === undefined || GENERIC.test(column.error);
  const text = column.timedOut
    ? `${column.error ?? 'timed out'}${serverLines.length > 0 ? `; last stderr: ${errorLine ?? serverLines.at(-1)}` : ''}`
    : errorLine ?? (closed ? serverLines.at(-1) : undefined) ?? column.error ?? 'no reason given';
  return clip(text, max);
}

/** Returns what a column amounts to, for a table cell: `12 tools`, `12 tools, differ`, `fails`, `timed out`, `not run`. */
export function columnCell(column: ColumnResult, bare: ColumnResult, refused?: RefusedTools): string {
  if (!column.ran) return 'not run';
  if (!column.ok) return column.timedOut ? 'timed out' : 'fails';
  const differs = !bare.ok || sameTools(column, bare) ? '' : listsLike(column, bare, refused) ? `, no ${refused?.prefix}*` : ', differ';
  const probe = column.probe ? `; ${column.probe.ok ? 'probe ok' : 'probe fails'}` : '';
  return `${tools(column.tools.length)}${differs}${probe}`;
}

/** Returns what a server's three columns amount to: a drop-in, needs the documented flags, another version, fails, or cannot be compared. */
export function classify(result: Pick<ServerResult, 'columns' | 'needs' | 'versions' | 'refusedTools'>): Verdict {
  const { pure, documented, bare } = result.columns;
  const refused = result.refusedTools;
  if (!bare.ok) {
    const lok = pure.ok ? `; mcp-lok-npx lists ${tools(pure.tools.length)}` : '';
    return { kind: 'bare-fails', label: 'bare npx fails', why: `${bare.ran ? 'bare npx, no network' : 'bare npx not run'}: ${shortReason(bare)}${lok}` };
  }
  const { bare: npxVersion, lok: lokVersion } = result.versions;
  if (npxVersion && lokVersion && npxVersion !== lokVersion) {
    const lists = pure.ok ? `lists ${tools(pure.tools.length)} to npx's ${bare.tools.length}` : `fails: ${shortReason(pure)}`;
    return { kind: 'other-version', label: 'runs another version', why: `mcp-lok-npx ran ${lokVersion}, npx ${npxVersion}; pure drop-in ${lists}` };
  }
  const without = refused && !sameTools(pure, bare) ? ` without ${refused.prefix}* tools` : '';
  if (behavesLike(pure, bare, refused)) return { kind: 'drop-in', label: `drop-in${without}`, why: without ? refused?.why ?? '' : '' };
  const failure = (column: ColumnResult): string => {
    if (!column.ok) return shortReason(column);
    if (!listsLike(column, bare, refused)) return `lists different tools: ${toolDiff(column, bare)}`;
    return clip(`${column.probe ? 'probe fails' : 'probe differs'}: ${column.probe?.text ?? 'no probe result'}`, 80);
  };
  if (documented.ran && result.needs.length > 0 && behavesLike(documented, bare, refused)) {
    const need = result.needs.map((n) => n.need).join(' and ');
    const onlyProbe = listsLike(pure, bare, refused);
    return {
      kind: 'needs',
      label: `${onlyProbe ? 'lists as drop-in; writes need' : 'needs'} ${need}`,
      why: `${result.needs.map((n) => n.why).join('; ')} (pure drop-in: ${failure(pure)})`,
    };
  }
  return { kind: 'fails', label: 'fails', why: `pure drop-in: ${failure(pure)}${documented.ran ? `; documented: ${failure(documented)}` : ''}` };
}

/**
 * Returns why a server misses the issue's goal, or undefined when it meets it: bare npx lists
 * its tools, mcp-lok-npx runs the same version, and the pure drop-in lists the same tools (less
 * those the sandbox refuses by design) with the probe call (if any) succeeding as under npx,
 * or, where the sandbox must refuse what the server is given (a host folder), the documented
 * column does.
 */
export function checkServer(result: Pick<ServerResult, 'columns' | 'refused' | 'refusedTools' | 'versions'>): string | undefined {
  const { pure, documented, bare } = result.columns;
  const refused = result.refusedTools;
  if (!bare.ok) return `bare npx did not list its tools (${shortReason(bare)}), so nothing can be compared`;
  const { bare: npxVersion, lok: lokVersion } = result.versions;
  if (npxVersion && lokVersion && npxVersion !== lokVersion) return `mcp-lok-npx ran ${lokVersion} where npx ran ${npxVersion}`;
  if (behavesLike(pure, bare, refused)) return undefined;
  if (result.refused) {
    if (behavesLike(documented, bare, refused)) return undefined;
    return `neither the pure drop-in nor the documented flags list what bare npx lists (${result.refused} is refused by design; documented: ${documented.ok ? toolDiff(documented, bare) : shortReason(documented)})`;
  }
  if (pure.ok && listsLike(pure, bare, refused)) return `the pure drop-in lists the same tools, but its probe ${pure.probe?.ok ? 'succeeds' : 'fails'} where bare npx's ${bare.probe?.ok ? 'succeeds' : 'fails'} (${pure.probe?.text.slice(0, 120) ?? 'no probe result'})`;
  return `the pure drop-in does not list what bare npx lists (${pure.ok ? toolDiff(pure, bare) : shortReason(pure)})`;
}

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** Returns the Markdown table of results: package, version, the three columns, the result and why. */
export function renderMarkdown(results: readonly ServerResult[]): string {
  const rows = results.map((r) => {
    const { pure, documented, bare } = r.columns;
    const doc = r.needs.length === 0 ? 'same as pure' : columnCell(documented, bare, r.refusedTools);
    const { bare: npxVersion, lok: lokVersion } = r.versions;
    const version = npxVersion && lokVersion && npxVersion !== lokVersion ? `${lokVersion} (npx: ${npxVersion})` : lokVersion ?? npxVersion ?? '?';
    return `| \`${r.name}\` | ${version} | ${columnCell(pure, bare, r.refusedTools)} | ${doc} | ${columnCell(bare, bare)} | ${cell(r.verdict.label)} | ${cell(r.verdict.why)} |`;
  });
  return [
    '| package | version | pure drop-in | documented | bare npx (no network) | result | why |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

/** Returns the one-line tally: how many are drop-ins, need flags, fail, or cannot be compared. */
export function summarize(results: readonly ServerResult[]): string {
  const count = (kind: VerdictKind): number => results.filter((r) => r.verdict.kind === kind).length;
  const listed = results.length - count('bare-fails');
  return `${results.length} server${results.length === 1 ? '' : 's'}: bare npx listed ${listed}; of those, mcp-lok-npx listed ${count('drop-in')} as a pure drop-in, ${count('needs')} with the documented flags, ${count('other-version')} in another version, ${count('fails')} not at all.`;
}
