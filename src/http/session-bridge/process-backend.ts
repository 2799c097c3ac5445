// The bridge's backend where no engine runs (inside a Kubernetes pod built by `mcp-lok image
// build --push`): each client session gets its own child process of the server, spoken to over
// its stdio exactly as a session's container is. It imports only `node:` modules and the line
// splitter, so an image can carry it without mcp-lok's dependencies.
import { spawn, type ChildProcess } from 'node:child_process';
import { splitLines } from '../../lines.js';
import type { BackendHandlers, OpenBackend, SessionBackend } from './bridge.js';

/** How long a server whose stdin closed may take to exit on its own, then after SIGTERM, before SIGKILL. */
export const PROCESS_STOP_GRACE_MS = 3000;
const MIB = 1024 * 1024;

/** What each session's server process is started from. */
export interface ProcessLaunch {
  command: string;
  args: readonly string[];
  /** The whole environment the server gets (never the bridge's own: see pod/config.ts serverEnv). */
  env: Readonly<Record<string, string>>;
  cwd: string;
  /** The server's stderr, as it writes it. */
  onStderr: (chunk: Buffer) => void;
  log: (line: string) => void;
  stopGraceMs?: number;
}

const hasExited = (child: ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null;

/** Resolves once the child has exited, or after `ms` (false then). */
function exitedWithin(child: ChildProcess, ms: number): Promise<boolean> {
  if (hasExited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => { child.off('exit', done); resolve(false); }, ms);
    timer.unref();
    function done(): void { clearTimeout(timer); resolve(true); }
    child.once('exit', done);
  });
}

/** Sends a signal to the server's process group (its own children too), or to it alone if that fails. */
function signal(child: ChildProcess, name: NodeJS.Signals): void {
  if (child.pid === undefined || hasExited(child)) return;
  try { process.kill(-child.pid, name); } catch { child.kill(name); }
}

/** Returns whether any process is left in the group `pgid`. */
function groupAlive(pgid: number): boolean {
  try { process.kill(-pgid, 0); return true; } catch { return false; }
}

/**
 * Stops what is left of a server's process group once the server has exited (helpers it
 * started, which would otherwise outlive its session among the next sessions' servers):
 * SIGTERM, then SIGKILL after the grace.
 */
async function stopGroup(pgid: number, graceMs: number): Promise<void> {
  if (!groupAlive(pgid)) return;
  try { process.kill(-pgid, 'SIGTERM'); } catch { return; }
  for (let waited = 0; waited < graceMs && groupAlive(pgid); waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
  try { process.kill(-pgid, 'SIGKILL'); } catch { /* gone */ }
}

/** Stops a server as a client would: stdin closed, then SIGTERM, then SIGKILL, each after the grace; then what it left in its group. */
async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  child.stdin?.end();
  if (!(await exitedWithin(child, graceMs))) {
    signal(child, 'SIGTERM');
    if (!(await exitedWithin(child, graceMs))) {
      signal(child, 'SIGKILL');
      await exitedWithin(child, graceMs);
    }
  }
  if (child.pid !== undefined) await stopGroup(child.pid, graceMs);
}

/**
 * Returns a backend that starts one server process per client session (in a process group of
 * its own, so stopping a session stops what its server started); a server that cannot be
 * started fails that session's open with its reason.
 */
export function processBackend(launch: ProcessLaunch): OpenBackend {
  const graceMs = launch.stopGraceMs ?? PROCESS_STOP_GRACE_MS;
  return (handlers: BackendHandlers, info) => new Promise<SessionBackend>((resolve, reject) => {
    const child = spawn(launch.command, [...launch.args], {
      cwd: launch.cwd, env: { ...launch.env }, stdio: ['pipe', 'pipe', 'pipe'], detached: true,
    });
    const stdout = child.stdout;
    const stdin = child.stdin;
    let started = false;
    let ended = false;
    const end = (message: string): void => {
      if (ended) return;
      ended = true;
      handlers.onEnd(message);
    };
    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => (stopping ??= stopChild(child, graceMs));
    let overflowed = false;
    stdout.on('data', splitLines((line) => {
      if (overflowed) return;
      if (!handlers.onMessage(line)) stdout.pause();
    }, {
      // A server that never ends its line would grow the bridge without limit: that session ends.
      onOverflow: (max) => {
        if (overflowed) return;
        overflowed = true;
        const what = `the server sent a message over ${max / MIB} MiB without a newline`;
        launch.log(`session ${info.sessionId}: ${what}; ending it.`);
        end(what);
        void stop();
      },
    }));
    child.stderr.on('data', (chunk: Buffer) => launch.onStderr(chunk));
    // A server that exits while the bridge still writes must not take the bridge down.
    stdin.on('error', () => {});
    child.once('error', (error) => {
      if (!started) { reject(error); return; }
      end(`the server failed: ${error.message}`);
    });
    child.once('exit', (code, sig) => end(`the server exited: ${code === null ? `signal ${String(sig)}` : `code ${code}`}`));
    child.once('spawn', () => {
      started = true;
      resolve({
        send: (line) => { if (!hasExited(child)) stdin.write(`${line}\n`); },
        resume: () => { stdout.resume(); },
        close: async () => { stdout.resume(); await stop(); },
      });
    });
  });
}
