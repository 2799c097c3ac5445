// A bridge backend for tests: each session runs sdk-stdio-server.js as a child process and
// speaks newline-delimited JSON-RPC over its stdio, as a container's attached stdio would.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { splitLines } from '../../src/lines.js';
import type { OpenBackend } from '../../src/http/session-bridge/bridge.js';

const SERVER_PATH = fileURLToPath(new URL('./sdk-stdio-server.js', import.meta.url));
/** How long a closed server may take to exit on its own before SIGTERM, then SIGKILL. */
const STOP_GRACE_MS = 1000;

export interface StdioBackends {
  open: OpenBackend;
  /** Every child started so far, by session id. */
  children: Map<string, ChildProcess>;
  /** Resolves when the child of `sessionId` has exited. */
  exited(sessionId: string): Promise<void>;
  /** Every line each session's server was sent, in order. */
  sent: Map<string, string[]>;
  /** How often each session's server output was paused because its client was not reading. */
  pauses: Map<string, number>;
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Returns a backend factory that spawns a real SDK stdio server per session. */
export function stdioBackends(): StdioBackends {
  const children = new Map<string, ChildProcess>();
  const sent = new Map<string, string[]>();
  const pauses = new Map<string, number>();
  const open: OpenBackend = (handlers, { sessionId }) => new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SERVER_PATH], { stdio: ['pipe', 'pipe', 'ignore'] });
    const written: string[] = [];
    children.set(sessionId, child);
    sent.set(sessionId, written);
    pauses.set(sessionId, 0);
    child.stdout!.on('data', splitLines((line) => {
      if (handlers.onMessage(line) || child.stdout!.isPaused()) return;
      child.stdout!.pause();
      pauses.set(sessionId, (pauses.get(sessionId) ?? 0) + 1);
    }));
    child.stdin!.on('error', () => {});
    child.once('error', reject);
    child.once('exit', (code, signal) => handlers.onEnd(`the server exited: ${signal ? `killed by ${signal}` : `exit code ${code}`}`));
    let closing: Promise<void> | undefined;
    child.once('spawn', () => resolve({
      send: (line) => {
        written.push(line);
        child.stdin!.write(`${line}\n`);
      },
      resume: () => { child.stdout!.resume(); },
      close: () => (closing ??= new Promise<void>((done) => {
        if (hasExited(child)) return done();
        child.once('exit', () => done());
        child.stdin!.end();
        child.stdout!.resume();
        setTimeout(() => child.kill('SIGTERM'), STOP_GRACE_MS).unref();
        setTimeout(() => child.kill('SIGKILL'), 2 * STOP_GRACE_MS).unref();
      })),
    }));
  });
  const exited = (sessionId: string): Promise<void> => {
    const child = children.get(sessionId);
    if (!child) return Promise.reject(new Error(`no child for session ${sessionId}`));
    return hasExited(child) ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
  };
  return { open, children, exited, sent, pauses };
}
