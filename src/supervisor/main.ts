// The supervisor of one background server (`mcp-lok start`): in its own session, writing to
// the server's log file, it owns the listener (reverse proxy or stdio bridge), restarts a
// crashed server with backoff, and on SIGTERM (`mcp-lok stop`) stops everything and exits.
// Its record in the state directory is what `list` reads; its containers carry its pid, so
// if it is killed outright their reapers and the next sweep remove them.
import { Socket } from 'node:net';
import { createProcessContext } from '../app/context.js';
import { LokError } from '../errors.js';
import { machineNames } from '../http/machine-names.js';
import { serveHttp, type HttpServing, type ServeStatus } from '../app/serve-http.js';
import { keepLogRotated, logMaxBytes } from '../state/log-rotation.js';
import { currentOwner } from '../state/owner.js';
import { readRecord, removeRecord, serverLogPath, writeRecord, type ServerRecord } from '../state/records.js';
import { REPORT_FD, type SupervisorMessage, type SupervisorRequest } from '../app/supervisor-protocol.js';

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk: string) => { text += chunk; });
    process.stdin.on('end', () => resolve(text));
    process.stdin.on('error', reject);
  });
}

function timestamp(): string {
  return new Date().toISOString();
}

async function main(): Promise<void> {
  const report = new Socket({ fd: REPORT_FD, readable: false, writable: true });
  let reporting = true;
  report.on('error', () => { reporting = false; });
  const send = (message: SupervisorMessage): void => { if (reporting) report.write(`${JSON.stringify(message)}\n`); };
  // The typed request its front end built and checked; nothing in it is parsed as options.
  // JSON has no Infinity: `--refresh-after never` arrives as null.
  const request = JSON.parse(await readStdin(), (key, value: unknown) => (key === 'refreshAfterMs' && value === null ? Infinity : value)) as SupervisorRequest;
  const { spec } = request;
  const ctx = createProcessContext({ debug: spec.server.lok.debug });
  // Lines for the log file only (the supervisor's own bookkeeping; `start` prints the error itself).
  const logOnly = (line: string): void => { process.stderr.write(`${timestamp()} ${line}\n`); };
  ctx.log = (line) => {
    logOnly(line);
    send({ type: 'log', line });
  };
  const { state } = ctx.paths;
  const { name, port } = spec;
  keepLogRotated(serverLogPath(state, name), { maxBytes: logMaxBytes(process.env) });
  const record: ServerRecord = {
    name, spec, transport: spec.transport, host: spec.host, port,
    url: '', mode: request.mode, source: spec.sourceText, profile: spec.server.profile.name, allows: [],
    supervisor: currentOwner(), state: 'starting', restarts: readRecord(state, name)?.restarts ?? 0,
    startedAt: timestamp(), updatedAt: timestamp(),
  };
  const save = (): void => { record.updatedAt = timestamp(); writeRecord(state, record); };
  save();
  logOnly(`mcp-lok: starting ${name} (supervisor ${process.pid})`);
  let serving: HttpServing;
  try {
    serving = await serveHttp(ctx, {
      ...spec.server, quiet: false, launcher: 'start',
      transport: spec.transport, listen: { host: spec.host, port }, targetPort: spec.targetPort,
      mode: request.mode, extraNames: machineNames(spec.host), token: spec.token,
    }, (status: ServeStatus) => {
      record.state = status.state;
      if (status.sessions !== undefined) record.sessions = status.sessions;
      if (status.lastExit !== undefined) record.lastExit = status.lastExit;
      record.restarts = status.restarts;
      save();
    });
  } catch (error) {
    const e = error instanceof LokError ? error : undefined;
    logOnly(`mcp-lok: ${name} did not start: ${(error as Error).message}`);
    send({ type: 'error', message: (error as Error).message, hint: e?.hint, code: e?.code ?? 'INTERNAL', exitCode: e?.exitCode ?? 1 });
    if (request.restart) {
      Object.assign(record, { state: 'stopped', supervisor: undefined, lastExit: (error as Error).message });
      save();
    } else {
      removeRecord(state, name);
    }
    report.end();
    process.exitCode = 1;
    return;
  }
  Object.assign(record, { url: serving.url, mode: serving.mode, allows: serving.plan.allows, profile: serving.plan.profileName });
  save();
  ctx.log(`mcp-lok: ${name} is ready at ${serving.url}`);
  send({ type: 'ready', name, url: serving.url, mode: serving.mode });
  report.end();
  reporting = false;
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    ctx.log(`mcp-lok: stopping ${name} (${signal})`);
    void serving.close().finally(() => {
      // A clean stop leaves no exit to report.
      Object.assign(record, { state: 'stopped', supervisor: undefined, sessions: 0, lastExit: undefined });
      save();
      ctx.log(`mcp-lok: ${name} stopped`);
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // No terminal owns this session; a stray hangup must not stop a background server.
  process.on('SIGHUP', () => {});
}

main().catch((error: unknown) => {
  process.stderr.write(`${timestamp()} mcp-lok supervisor failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
