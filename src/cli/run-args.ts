import { isIP } from 'node:net';
import { usageError } from '../errors.js';
import { showInput } from '../request/input-errors.js';
import { findOption, resolveLokOptions, type LokOptions, type RawLokValues } from '../request/options.js';
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
const TRANSPORTS: readonly Transport[] = ['stdio', 'sse', 'streamable-http'];
function parsePortValue(flag: string, text: string, hint: string): number {
  const port = Number(text);
  if (!/^\d{1,5}$/.test(text) || port < 1 || port > 65535) throw usageError(`Expected \`${flag}\` to be a port from 1 to 65535, got ${showInput(text)}.`, hint);
  return port;
}

function parseBindHost(text: string, hint: string): string {
  if (text === 'localhost' || isIP(text) !== 0) return text;
  throw usageError(`Expected \`--host\` to be an IP address of this machine such as 127.0.0.1 (or 0.0.0.0 for every interface), got ${showInput(text)}.`, hint);
}

/**
 * Returns the invocation of `mcp-lok run` or `start`. Like `docker run`, options come before
 * the server source; everything after it (an optional `--` aside) goes to the server.
 */
export function parseRunArgs(argv: string[], env: Readonly<Record<string, string | undefined>>, command: 'run' | 'start' = 'run'): RunInvocation {
  const HINT = `Run \`mcp-lok ${command} --help\`.`;
  const raw: RawLokValues = {};
  let transport: Transport | undefined;
  const http: HttpListen = { host: DEFAULT_BIND_HOST, port: undefined, targetPort: undefined };
  const httpFlags: string[] = [];
  let json = false;
  let auth = false;
  let i = 0;
  const value = (flag: string, inline: string | undefined): string => {
    if (inline !== undefined) return inline;
    const next = argv[++i];
    if (next === undefined || (next.startsWith('-') && next !== '-')) throw usageError(`Missing the value of \`${flag}\`.`, HINT);
    return next;
  };
  for (; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') { i++; break; }
    if (!arg.startsWith('-') || arg === '-') break;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    if (flag === '-h' || flag === '--help') return { kind: 'help' };
    if (flag === '--transport') {
      const t = value(flag, inline);
      if (!(TRANSPORTS as readonly string[]).includes(t)) throw usageError(`Expected \`--transport\` to be stdio, sse or streamable-http, got ${showInput(t)}.`, HINT);
      transport = t as Transport;
      continue;
    }
    if (flag === '--json' && command === 'start' && inline === undefined) { json = true; continue; }
    if (flag === '--auth' && inline === undefined) { auth = true; httpFlags.push(flag); continue; }
    if (flag === '--port') { http.port = parsePortValue('--port', value(flag, inline), HINT); httpFlags.push('--port'); continue; }
    if (flag === '--target-port') { http.targetPort = parsePortValue(flag, value(flag, inline), HINT); httpFlags.push(flag); continue; }
    if (flag === '--host') { http.host = parseBindHost(value(flag, inline), HINT); httpFlags.push(flag); continue; }
    const found = findOption(flag);
    if (!found || found.def.group !== 'mcp-lok') throw usageError(`Unknown option ${showInput(flag)}; options go before the image or npx:// package.`, HINT);
    const key = found.key as keyof LokOptions;
    (raw[key] ??= []).push(found.def.value ? value(flag, inline) : inline ?? 'true');
  }
  const lok = resolveLokOptions(raw, env);
  const [first, ...rest] = argv.slice(i);
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
