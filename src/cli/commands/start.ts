import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT, LokError, type ErrorCode } from '../../errors.js';
import { listenError } from '../../services/listen-error.js';
import { loadProfile } from '../../services/profiles.js';
import { findServer } from '../../services/servers.js';
import { isSupervised, readRecord, serverLogPath } from '../../state/records.js';
import type { SupervisorMessage, SupervisorRequest } from '../../supervisor/protocol.js';
import type { ManagerContext } from '../manager-context.js';
import { isLoopbackHost } from '../../proxy/host-check.js';
import { parseRunArgs } from '../run-args.js';

const SUPERVISOR = fileURLToPath(new URL('../../supervisor/main.js', import.meta.url));

/** Returns a readable default name from the server source: `server-memory`, `my-image`. */
export function defaultServerName(sourceText: string): string {
  const base = sourceText.startsWith('npx://')
    ? sourceText.slice('npx://'.length).replace(/^@[^/]+\//, '').replace(/@.*$/, '')
    : (sourceText.replace(/@.*$/, '').split('/').pop() ?? '').replace(/:.*$/, '');
  const slug = base.replace(/[^a-zA-Z0-9_.-]+/g, '-').replace(/^[-_.]+/, '').slice(0, 50);
  return slug || 'server';
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

async function chooseName(ctx: ManagerContext, wanted: string | undefined, sourceText: string): Promise<string> {
  const endpoint = await ctx.engine();
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
function spawnSupervisor(ctx: ManagerContext, name: string, request: SupervisorRequest): Promise<Extract<SupervisorMessage, { type: 'ready' }>> {
  const logPath = serverLogPath(ctx.paths.state, name);
  mkdirSync(dirname(logPath), { recursive: true, mode: 0o700 });
  const log = openSync(logPath, 'a', 0o600);
  const child = spawn(process.execPath, [SUPERVISOR], { detached: true, stdio: ['pipe', log, log, 'pipe'], env: process.env });
  closeSync(log);
  child.stdin?.end(JSON.stringify(request));
  return new Promise((resolve, reject) => {
    let pending = '';
    let outcome: SupervisorMessage | undefined;
    const report = child.stdio[3] as NodeJS.ReadableStream;
    report.setEncoding('utf8');
    report.on('data', (text: string) => {
      pending += text;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const message = JSON.parse(pending.slice(0, nl)) as SupervisorMessage;
        pending = pending.slice(nl + 1);
        if (message.type === 'log') ctx.stderr.write(`${message.line}\n`);
        else outcome = message;
      }
    });
    report.on('close', () => {
      child.unref();
      if (outcome?.type === 'ready') resolve(outcome);
      else if (outcome?.type === 'error') reject(new LokError(outcome.code as ErrorCode, outcome.message, { exitCode: outcome.exitCode, hint: outcome.hint }));
      else reject(new LokError('INTERNAL', `The supervisor of "${name}" stopped before the server was ready.`, { exitCode: EXIT.failure, hint: `See ${logPath}.` }));
    });
  });
}

/** A background server that is ready, as `start` reports it. */
export interface Started {
  name: string;
  url: string;
  mode: 'proxy' | 'bridge';
  /** The server was already running (`start NAME` of a running one): nothing was started. */
  already: boolean;
  /** `--json` was given. */
  json: boolean;
}

/**
 * Starts a server in the background from `start`'s arguments (or a stopped one again, from
 * `[NAME]`), relaying progress to ctx.stderr, and resolves once clients can connect. The CLI
 * and the management server's `start_server` tool both come here.
 */
export async function startBackground(ctx: ManagerContext, argv: string[]): Promise<Started | 'help'> {
  const again = argv.length === 1 && argv[0] !== undefined && !argv[0].startsWith('-') ? readRecord(ctx.paths.state, argv[0]) : undefined;
  if (again && isSupervised(again)) return { name: again.name, url: again.url, mode: again.mode ?? 'proxy', already: true, json: false };
  const userArgv = again ? again.argv : argv;
  const invocation = parseRunArgs(userArgv, ctx.env, 'start');
  if (invocation.kind === 'help') return 'help';
  // A bad profile is bad input: refused here, before a name, a port or a supervisor exists.
  loadProfile(invocation.lok.profile, { configDir: ctx.paths.config, cwd: process.cwd() });
  const name = again ? again.name : await chooseName(ctx, invocation.lok.name, invocation.sourceText);
  const port = await reservePort(invocation.http.host, invocation.http.port ?? again?.port);
  if (!isLoopbackHost(invocation.http.host)) {
    ctx.stderr.write(`mcp-lok: listening on ${invocation.http.host}: other machines that can reach this address can use ${name}.\n`);
  }
  const ready = await spawnSupervisor(ctx, name, {
    argv: ['--name', name, '--port', String(port), ...userArgv], userArgv, mode: again?.mode, restart: again !== undefined,
  });
  if (invocation.transportDefaulted) ctx.stderr.write(`mcp-lok: serving ${name} over streamable HTTP (use --transport sse for the older SSE transport).\n`);
  return { name, url: ready.url, mode: ready.mode, already: false, json: !again && invocation.json };
}

/**
 * `mcp-lok start`: the same as `run` over HTTP, sent to the background under a supervisor;
 * prints the name and the URL clients should use. `mcp-lok start NAME` starts a stopped one again.
 */
export async function runStart(ctx: ManagerContext, argv: string[]): Promise<number> {
  const started = await startBackground(ctx, argv);
  if (started === 'help') {
    ctx.stdout.write((await import('../help.js')).renderRunHelp('start'));
    return EXIT.ok;
  }
  if (started.already) {
    ctx.stderr.write(`${started.name} is already running.\n`);
  } else {
    const how = started.mode === 'bridge' ? 'a stdio server bridged to HTTP, one sandbox per client session' : 'it serves HTTP itself, behind mcp-lok\'s proxy';
    ctx.stderr.write(`mcp-lok: ${started.name}: ${how}; \`mcp-lok logs ${started.name}\` shows its output, \`mcp-lok stop ${started.name}\` stops it.\n`);
  }
  ctx.stdout.write(started.json
    ? `${JSON.stringify({ name: started.name, url: started.url, mode: started.mode, alreadyRunning: started.already })}\n`
    : `${started.name} ${started.url}\n`);
  return EXIT.ok;
}
