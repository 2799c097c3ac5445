// The supervisor of one background server (`mcp-lok start`): in its own session, writing to
// the server's log file, it owns the listener (reverse proxy or stdio bridge), restarts a
// crashed server with backoff, and on SIGTERM (`mcp-lok stop`) stops everything and exits.
// Its record in the state directory is what `list` reads; its containers carry its pid, so
// if it is killed outright their reapers and the next sweep remove them.
// This file is the front end only: the typed request on stdin, reports on descriptor 3;
// app/supervise.ts does the work.
import { Socket } from 'node:net';
import { createProcessContext } from '../app/context.js';
import { superviseServer, timestamp } from '../app/supervise.js';
import { parseSupervisorRequest, REPORT_FD, type SupervisorMessage } from '../app/supervisor-protocol.js';

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk: string) => { text += chunk; });
    process.stdin.on('end', () => resolve(text));
    process.stdin.on('error', reject);
  });
}

async function main(): Promise<void> {
  const report = new Socket({ fd: REPORT_FD, readable: false, writable: true });
  let reporting = true;
  report.on('error', () => { reporting = false; });
  const send = (message: SupervisorMessage): void => { if (reporting) report.write(`${JSON.stringify(message)}\n`); };
  // The typed request its front end built and checked; nothing in it is parsed as options.
  const request = parseSupervisorRequest(await readStdin());
  const ctx = createProcessContext({ debug: request.spec.server.lok.debug });
  // Lines for the log file only (the supervisor's own bookkeeping; `start` prints the error itself).
  const logOnly = (line: string): void => { process.stderr.write(`${timestamp()} ${line}\n`); };
  ctx.log = (line) => {
    logOnly(line);
    send({ type: 'log', line });
  };
  const supervised = await superviseServer(ctx, request, send, logOnly);
  report.end();
  reporting = false;
  if (!supervised) {
    process.exitCode = 1;
    return;
  }
  const stop = (signal: string): void => { void supervised.stop(signal).finally(() => process.exit(0)); };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // No terminal owns this session; a stray hangup must not stop a background server.
  process.on('SIGHUP', () => {});
}

main().catch((error: unknown) => {
  process.stderr.write(`${timestamp()} mcp-lok supervisor failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
