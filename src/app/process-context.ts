import { homedir } from 'node:os';
import type { Context } from './context.js';
import { getPaths } from '../state/paths.js';

/** Returns the `--debug` line writer (to stderr, with time since start), or a no-op. */
export function createDebug(on: boolean): (line: string) => void {
  return on ? (line) => { process.stderr.write(`mcp-lok[debug] +${performance.now().toFixed(0)}ms: ${line}\n`); } : () => {};
}

/** Returns the context of the running process: its streams, environment and paths. */
export function createProcessContext(debug: boolean): Context {
  const env = process.env;
  const write = (line: string): void => { process.stderr.write(`${line}\n`); };
  return {
    env,
    home: homedir(),
    // A getter: touching process.stdin makes Node read fd 0 (and set it non-blocking).
    get stdin() { return process.stdin; },
    stdioFds: { stdin: 0, stdout: 1 },
    stdout: process.stdout,
    stderr: process.stderr,
    stderrFd: 2,
    paths: getPaths(env),
    now: Date.now,
    log: write,
    debug: createDebug(debug),
  };
}
