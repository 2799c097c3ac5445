import { isIP } from 'node:net';
import { usageError } from '../errors.js';
import { showInput } from '../request/input-errors.js';
import { resolveLokOptions, SHIM_OPTIONS, type FlagDef, type LokOptions, type OptionKey, type RawLokValues } from '../request/options.js';
import type { ServerSource } from '../request/server-request.js';
import { parseServerSource } from '../request/source.js';

export type Transport = 'stdio' | 'sse' | 'streamable-http';

/** Where an HTTP transport listens on the host, and where the server listens in its sandbox. */
export interface HttpListen {
  host: string;
  /** Undefined: pick a free port. */
  port: number | undefined;
  targetPort: number | undefined;
}

/** What `mcp-lok run` or `start` was asked to do. */
export type RunInvocation =
  | { kind: 'help' }
  | {
    kind: 'run';
    transport: Transport;
    /** `start` of a stdio server without --transport: served over streamable HTTP (said on stderr). */
    transportDefaulted: boolean;
    source: ServerSource;
    /** The server source as typed (for `list` and for starting it again). */
    sourceText: string;
    args: string[];
    lok: LokOptions;
    http: HttpListen;
    /** `start --json`: print what started as JSON for scripts. */
    json: boolean;
    /** `--auth`: clients must send a bearer token, on loopback too (beyond loopback they always must). */
    auth: boolean;
  };

export const DEFAULT_BIND_HOST = '127.0.0.1';
/** As app/serve-http.ts's DEFAULT_TARGET_PORT (a test checks): not imported, to keep parsing light. */
const DEFAULT_TARGET_PORT_TEXT = '8080';
const TRANSPORTS: readonly Transport[] = ['stdio', 'sse', 'streamable-http'];

export type RunCommand = 'run' | 'start';
type OwnKey = 'transport' | 'port' | 'host' | 'auth' | 'targetPort' | 'json' | 'help';

/** A flag that belongs to `run`/`start` themselves: its help, and which commands take it. */
export interface RunFlagDef {
  group: 'run' | 'general';
  flags: readonly string[];
  value?: string;
  /** Shown in help; per command where they differ. */
  default?: string | Readonly<Record<RunCommand, string>>;
  description: string;
  commands: readonly RunCommand[];
  /** Only the HTTP transports use it: refused for a stdio server. */
  http?: true;
}

const BOTH: readonly RunCommand[] = ['run', 'start'];

/**
 * The flags of `run` and `start` beyond the sandbox's (SHIM_OPTIONS' mcp-lok group, which both
 * take too). With them it is the one table: parseRunArgs accepts exactly the flags runOptions
 * lists, and renderRunHelp shows exactly those, so a flag cannot be parsed without being in help.
 */
export const RUN_FLAGS: Readonly<Record<OwnKey, RunFlagDef>> = {
  transport: {
    group: 'run', flags: ['--transport'], value: TRANSPORTS.join('|'), commands: BOTH, default: { run: 'stdio', start: 'streamable-http' },
    description: 'How clients reach the server.',
  },
  port: {
    group: 'run', flags: ['--port'], value: 'PORT', commands: BOTH, http: true,
    description: 'Host port for HTTP transports (default: a free one).',
  },
  host: {
    group: 'run', flags: ['--host'], value: 'ADDRESS', commands: BOTH, http: true, default: DEFAULT_BIND_HOST,
    description: 'Listen address; 0.0.0.0 exposes it to the network, and clients then need the bearer token.',
  },
  auth: {
    group: 'run', flags: ['--auth'], commands: BOTH, http: true,
    description: 'Require the bearer token on loopback too.',
  },
  targetPort: {
    group: 'run', flags: ['--target-port'], value: 'PORT', commands: BOTH, http: true, default: DEFAULT_TARGET_PORT_TEXT,
    description: 'Port the server listens on in its sandbox (given to it as PORT and MCP_PORT).',
  },
  json: {
    group: 'general', flags: ['--json'], commands: ['start'],
    description: 'Print {"name", "url", "mode", "token", "alreadyRunning"} instead of `NAME URL [TOKEN]`.',
  },
  help: { group: 'general', flags: ['-h', '--help'], commands: BOTH, description: 'Show this help.' },
};

/** One flag `run` or `start` takes: theirs, or a sandbox option they share with mcp-lok-npx. */
export type RunOption =
  | { kind: 'own'; key: OwnKey; def: RunFlagDef }
  | { kind: 'lok'; key: keyof LokOptions; def: FlagDef };

function listRunOptions(command: RunCommand): RunOption[] {
  const own = (Object.entries(RUN_FLAGS) as Array<[OwnKey, RunFlagDef]>)
    .filter(([, def]) => def.commands.includes(command))
    .map(([key, def]): RunOption => ({ kind: 'own', key, def }));
  const lok = (Object.entries(SHIM_OPTIONS) as Array<[OptionKey, FlagDef]>)
    .filter(([, def]) => def.group === 'mcp-lok' && !def.shimOnly)
    .map(([key, def]): RunOption => ({ kind: 'lok', key: key as keyof LokOptions, def }));
  return [...own, ...lok];
}

const OPTIONS_BY_COMMAND: Readonly<Record<RunCommand, readonly RunOption[]>> = { run: listRunOptions('run'), start: listRunOptions('start') };

/** Returns every flag `command` takes, in table order: what the parser accepts and the help lists. */
export function runOptions(command: RunCommand): readonly RunOption[] {
  return OPTIONS_BY_COMMAND[command];
}

/** Returns the option `command` takes for a flag such as `--port` or `-e`, or undefined. */
export function findRunOption(flag: string, command: RunCommand): RunOption | undefined {
  return OPTIONS_BY_COMMAND[command].find((o) => o.def.flags.includes(flag));
}

function parsePortValue(flag: string, text: string, hint: string): number {
  const port = Number(text);
  if (!/^\d{1,5}$/.test(text) || port < 1 || port > 65535) throw usageError(`Expected \`${flag}\` to be a port from 1 to 65535, got ${showInput(text)}.`, hint);
  return port;
}

function parseBindHost(text: string, hint: string): string {
  if (text === 'localhost' || isIP(text) !== 0) return text;
  throw usageError(`Expected \`--host\` to be an IP address of this machine such as 127.0.0.1 (or 0.0.0.0 for every interface), got ${showInput(text)}.`, hint);
}

/** One leading option: its flag (without an inline `=value`), that inline value, and the reader of its value (inline, else the next argument). */
export interface LeadingOption {
  flag: string;
  inline: string | undefined;
  value: () => string;
}

/**
 * Walks the options before the first operand (or past `--`), as `docker run` reads them,
 * handing each to `take`; a result from `take` ends the walk (`--help`). Returns that result,
 * or the index of the first operand.
 */
export function walkLeadingOptions<T>(argv: readonly string[], hint: string, take: (option: LeadingOption) => T | undefined): { result: T } | { operands: number } {
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') return { operands: i + 1 };
    if (!arg.startsWith('-') || arg === '-') break;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    const value = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[++i];
      if (next === undefined || (next.startsWith('-') && next !== '-')) throw usageError(`Missing the value of \`${flag}\`.`, hint);
      return next;
    };
    const result = take({ flag, inline, value });
    if (result !== undefined) return { result };
  }
  return { operands: i };
}

/**
 * Returns the invocation of `mcp-lok run` or `start`. Like `docker run`, options come before
 * the server source; everything after it (an optional `--` aside) goes to the server.
 */
export function parseRunArgs(argv: string[], env: Readonly<Record<string, string | undefined>>, command: RunCommand = 'run'): RunInvocation {
  const HINT = `Run \`mcp-lok ${command} --help\`.`;
  const raw: RawLokValues = {};
  let transport: Transport | undefined;
  const http: HttpListen = { host: DEFAULT_BIND_HOST, port: undefined, targetPort: undefined };
  const httpFlags: string[] = [];
  let json = false;
  let auth = false;
  const walked = walkLeadingOptions(argv, HINT, ({ flag, inline, value }) => {
    const option = findRunOption(flag, command);
    if (!option) throw usageError(`Unknown option ${showInput(flag)}; options go before the image or npx:// package.`, HINT);
    if (option.kind === 'lok') {
      (raw[option.key] ??= []).push(option.def.value ? value() : inline ?? 'true');
      return undefined;
    }
    if (option.key === 'help') return { kind: 'help' } as const;
    if (option.def.http) httpFlags.push(flag);
    if (!option.def.value && inline !== undefined) throw usageError(`\`${flag}\` takes no value.`, HINT);
    switch (option.key) {
      case 'transport': {
        const t = value();
        if (!(TRANSPORTS as readonly string[]).includes(t)) throw usageError(`Expected \`--transport\` to be stdio, sse or streamable-http, got ${showInput(t)}.`, HINT);
        transport = t as Transport;
        break;
      }
      case 'json': json = true; break;
      case 'auth': auth = true; break;
      case 'port': http.port = parsePortValue(flag, value(), HINT); break;
      case 'targetPort': http.targetPort = parsePortValue(flag, value(), HINT); break;
      case 'host': http.host = parseBindHost(value(), HINT); break;
    }
    return undefined;
  });
  if ('result' in walked) return walked.result;
  const lok = resolveLokOptions(raw, env);
  const [first, ...rest] = argv.slice(walked.operands);
  if (first === undefined) throw usageError('Missing the server to run: an image reference or npx://package.', HINT);
  // A background server is reached over HTTP: stdio would have no client to talk to.
  const chosen: Transport = transport ?? (command === 'start' ? 'streamable-http' : 'stdio');
  if (chosen === 'stdio' && command === 'start') {
    throw usageError('A background server needs an HTTP transport for clients to reach it.', 'Use `--transport streamable-http` (the default for start) or `sse`, or `mcp-lok run` for stdio.');
  }
  if (chosen === 'stdio' && httpFlags.length > 0) {
    throw usageError(`\`${httpFlags[0]}\` belongs to the HTTP transports; this server runs over stdio.`, 'Add `--transport streamable-http` or `--transport sse`.');
  }
  const args = rest[0] === '--' ? rest.slice(1) : rest;
  return {
    kind: 'run', transport: chosen, transportDefaulted: transport === undefined && chosen !== 'stdio',
    source: parseServerSource(first), sourceText: first, args, lok, http, json, auth,
  };
}
