// Background servers: the one place that turns a typed start request into a supervised
// server (the CLI's `start` and the management server's `start_server` both come here), and
// starts a stopped one again from its record.
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { splitLines } from '../lines.js';
import type { Context } from './context.js';
import { EXIT, LokError, type ErrorCode } from '../errors.js';
import { isLoopbackHost } from '../http/host-check.js';
import { isSupervised, readRecord, serverLogPath } from '../state/records.js';
import type { BackgroundSpec, SupervisorMessage, SupervisorRequest } from './supervisor-protocol.js';
import { listenError } from '../http/listen-error.js';
import { checkRecordedSpec } from '../request/recorded-spec.js';
import type { ServerRequest } from '../request/server-request.js';
import { imageShortName, slugName } from '../sandbox/names.js';
import type { HttpTransport, ServeMode } from './serve-http.js';
import { findServer } from './servers.js';
import { PACKAGE_ROOT } from '../package-root.js';

const SUPERVISOR = join(PACKAGE_ROOT, 'dist', 'src', 'supervisor', 'main.js');
/** Bytes of randomness in a listener's bearer token (192 bits). */
const TOKEN_BYTES = 24;

/** Returns a readable default name from the server source: `server-memory`, `my-image`. */
export function defaultServerName(sourceText: string): string {
  const base = sourceText.startsWith('npx://')
    ? sourceText.slice('npx://'.length).replace(/^@[^/]+\//, '').replace(/@.*$/, '')
    : imageShortName(sourceText);
  return slugName(base, 50);
}

/** Resolves with a free port on `host`, or with `port` once it is known to be free. */
export function reservePort(host: string, port: number | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error) => reject(listenError(error, { host, port: port ?? 0 })));
    server.listen({ host, port: port ?? 0, exclusive: true }, () => {
      const bound = (server.address() as { port: number }).port;
      server.close(() => resolve(bound));
    });
  });
}

/** Returns a new bearer token for a listener. */
export function newToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

/** Returns the token a listener needs: always beyond loopback, on loopback only when asked for. */
export function chooseToken(host: string, auth: boolean): string | undefined {
  return auth || !isLoopbackHost(host) ? newToken() : undefined;
}

async function chooseName(ctx: Context, wanted: string | undefined, sourceText: string, engine: string | undefined): Promise<string> {
  const endpoint = await ctx.engine(engine);
  const taken = async (name: string): Promise<boolean> => readRecord(ctx.paths.state, name) !== undefined || (await findServer(endpoint, name)) !== undefined;
  if (wanted) {
    const record = readRecord(ctx.paths.state, wanted);
    if (record) {
      throw new LokError('NAME_IN_USE', `A server named "${wanted}" already exists (${isSupervised(record) ? 'running' : 'stopped'}).`, {
        exitCode: EXIT.failure, hint: isSupervised(record) ? 'Choose another --name.' : `Start it again with \`mcp-lok start ${wanted}\`, or remove it with \`mcp-lok rm ${wanted}\`.`,
      });
    }
    if (await findServer(endpoint, wanted)) {
      throw new LokError('NAME_IN_USE', `The name "${wanted}" is used by another mcp-lok server.`, { exitCode: EXIT.failure, hint: 'Choose another --name.' });
    }
    return wanted;
  }
  const base = defaultServerName(sourceText);
  for (let n = 1; n < 100; n++) {
    const name = n === 1 ? base : `${base}-${n}`;
    if (!(await taken(name))) return name;
  }
  throw new LokError('NAME_IN_USE', `Every name from "${base}" to "${base}-99" is taken.`, { exitCode: EXIT.failure, hint: 'Choose one with --name.' });
}

/** Spawns the supervisor in its own session and relays its progress until the server is ready. */
function spawnSupervisor(ctx: Context, name: string, request: SupervisorRequest): Promise<Extract<SupervisorMessage, { type: 'ready' }>> {
  const logPath = serverLogPath(ctx.paths.state, name);
  mkdirSync(dirname(logPath), { recursive: true, mode: 0o700 });
  const log = openSync(logPath, 'a', 0o600);
  const child = spawn(process.execPath, [SUPERVISOR], { detached: true, stdio: ['pipe', log, log, 'pipe'], env: process.env });
  closeSync(log);
  child.stdin?.end(JSON.stringify(request));
  return new Promise((resolve, reject) => {
    let outcome: SupervisorMessage | undefined;
    const report = child.stdio[3] as NodeJS.ReadableStream;
    report.on('data', splitLines((line) => {
      const message = JSON.parse(line) as SupervisorMessage;
      if (message.type === 'log') ctx.stderr.write(`${message.line}\n`);
      else outcome = message;
    }));
    report.on('close', () => {
      child.unref();
      if (outcome?.type === 'ready') resolve(outcome);
      else if (outcome?.type === 'error') reject(new LokError(outcome.code as ErrorCode, outcome.message, { exitCode: outcome.exitCode, hint: outcome.hint }));
      else reject(new LokError('INTERNAL', `The supervisor of "${name}" stopped before the server was ready.`, { exitCode: EXIT.failure, hint: `See ${logPath}.` }));
    });
  });
}

/** A typed request to start a server in the background. */
export interface BackgroundStart {
  /** Undefined: derived from the source. */
  name: string | undefined;
  sourceText: string;
  server: ServerRequest;
  transport: HttpTransport;
  host: string;
  /** Undefined: a free one. */
  port: number | undefined;
  targetPort: number | undefined;
  /** Require a bearer token on loopback too (beyond loopback it is always required). */
  auth: boolean;
}

/** A background server that is ready. */
export interface Started {
  name: string;
  url: string;
  mode: ServeMode;
  /** The bearer token clients must send, when the listener requires one. */
  token: string | undefined;
  /** The server was already running (`start NAME` of a running one): nothing was started. */
  already: boolean;
}

/**
 * Starts a server in the background under a supervisor, relaying progress to ctx.stderr, and
 * resolves once clients can connect.
 */
export async function startBackground(ctx: Context, start: BackgroundStart): Promise<Started> {
  const name = await chooseName(ctx, start.name, start.sourceText, start.server.lok.engine);
  const port = await reservePort(start.host, start.port);
  if (!isLoopbackHost(start.host)) ctx.stderr.write(`mcp-lok: listening on ${start.host}: other machines that can reach this address can use ${name} with its token.\n`);
  const spec: BackgroundSpec = {
    name, sourceText: start.sourceText, server: { ...start.server, lok: { ...start.server.lok, name } },
    transport: start.transport, host: start.host, port, targetPort: start.targetPort, token: chooseToken(start.host, start.auth),
  };
  const ready = await spawnSupervisor(ctx, name, { spec, restart: false });
  return { name, url: ready.url, mode: ready.mode, token: spec.token, already: false };
}

/** What a caller checks before a stopped server is started again: the request it will run. */
export type ApproveRestart = (spec: BackgroundSpec) => Promise<void>;

/**
 * Starts a stopped background server again from its record: the same request, profile and
 * token as before, after checking the recorded request again (the record is a file anyone
 * with the user's rights can edit) and, when given, `approve` (the management server asks
 * for the same flags and confirmation as a new start).
 */
export async function restartBackground(ctx: Context, name: string, approve?: ApproveRestart): Promise<Started> {
  const record = readRecord(ctx.paths.state, name);
  if (!record) {
    throw new LokError('NOT_FOUND', `No background server is named "${name}".`, { exitCode: EXIT.failure, hint: 'Run `mcp-lok list --all` to see them, or give an image or npx:// package to start a new one.' });
  }
  if (isSupervised(record)) return { name, url: record.url, mode: record.mode ?? 'proxy', token: record.spec?.token, already: true };
  if (!record.spec) {
    throw new LokError('INVALID_INPUT', `"${name}" was started by an older mcp-lok and cannot be started again as it was.`, { exitCode: EXIT.failure, hint: `Remove it with \`mcp-lok rm ${name}\` and start it anew.` });
  }
  const spec = checkRecordedSpec(record.spec, name);
  await approve?.(spec);
  await reservePort(spec.host, spec.port);
  const ready = await spawnSupervisor(ctx, name, { spec, mode: record.mode === 'bridge' || record.mode === 'proxy' ? record.mode : undefined, restart: true });
  return { name, url: ready.url, mode: ready.mode, token: spec.token, already: false };
}
