import { homedir } from 'node:os';
import { escapeControl } from '../control-chars.js';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { discoverEngine } from '../engine/discover.js';
import type { EngineEndpoint } from '../engine/endpoint.js';
import { sweepOrphans } from '../engine/sweep.js';
import { getPaths, type LokPaths } from '../state/paths.js';

/**
 * What every front end hands the application layer, built once per process: streams,
 * environment, paths, clock, debug and the engine, found on first use. Tests build their own.
 */
export interface Context {
  env: Readonly<Record<string, string | undefined>>;
  home: string;
  cwd: string;
  platform: NodeJS.Platform;
  stdin: Readable;
  /**
   * The process's own stdio descriptors, when the streams are the real process's: the
   * named-pipe bridge relays them outside Node. Reading `stdin` first would break that.
   */
  stdioFds?: { stdin: number; stdout: number };
  stdout: Writable;
  stderr: Writable;
  /** stderr's descriptor when it is the process's own, for relays that bypass Node. */
  stderrFd?: number;
  paths: LokPaths;
  now: () => number;
  /** Colour on stdout: a terminal, and NO_COLOR unset. */
  color: boolean;
  /** One line of progress or notice for people, on stderr. */
  log: (line: string) => void;
  /** Detail shown only with --debug. */
  debug: (line: string) => void;
  /**
   * Finds the engine once per process (`explicit` is `--engine`; else MCP_LOK_ENGINE,
   * DOCKER_HOST, the docker context, the well-known sockets) and starts removing what crashed
   * mcp-lok processes left behind. The sweep runs beside the caller's work: see `swept`.
   */
  engine: (explicit?: string) => Promise<EngineEndpoint>;
  /** Resolves once the leftover sweeps started by `engine` are done (never rejects). */
  swept: () => Promise<void>;
}

/** Returns the `--debug` line writer (to stderr, with time since start), or a no-op. */
export function createDebug(on: boolean, write: (text: string) => void = (text) => { process.stderr.write(text); }): (line: string) => void {
  // Debug lines carry text from outside (npm's output, a server's stderr while `update` lists a
  // candidate's tools): its control characters are shown as escapes, never obeyed by the terminal.
  return on ? (line) => { write(`mcp-lok[debug] +${performance.now().toFixed(0)}ms: ${escapeControl(line)}\n`); } : () => {};
}

/**
 * Returns the engine finder of a context: discovery once per explicit address (again after a
 * failure), and one orphan sweep per engine found, whose end `swept` reports.
 */
export function createEngineFinder(input: { env: Context['env']; home: string; platform: NodeJS.Platform; runDir: string; now: () => number; debug: (line: string) => void }): Pick<Context, 'engine' | 'swept'> {
  const found = new Map<string, Promise<EngineEndpoint>>();
  const sweeps: Array<Promise<void>> = [];
  return {
    engine: (explicit) => {
      const key = explicit ?? '';
      let endpoint = found.get(key);
      if (!endpoint) {
        endpoint = discoverEngine({ env: input.env, home: input.home, platform: input.platform, explicit });
        endpoint.then((e) => {
          input.debug(`engine: ${e.kind === 'unix' ? e.socketPath : `${e.host}:${e.port}`} (${e.source})`);
          sweeps.push(sweepOrphans(e, input.runDir, input.now()).then(
            (names) => { for (const n of names) input.debug(`removed leftover ${n}`); },
            (error: unknown) => input.debug(`orphan sweep failed: ${String(error)}`),
          ));
        }, () => {
          // Not found now: the next call looks again (a long-lived management server outlives an engine's start).
          if (found.get(key) === endpoint) found.delete(key);
        });
        found.set(key, endpoint);
      }
      return endpoint;
    },
    swept: async () => { await Promise.all(sweeps); },
  };
}

/** Returns the context of the running process: its streams, environment and paths. */
export function createProcessContext(options: { debug: boolean }): Context {
  const env = process.env;
  const paths = getPaths(env);
  const write = (line: string): void => { process.stderr.write(`${line}\n`); };
  const debug = createDebug(options.debug);
  const home = homedir();
  return {
    env,
    home,
    cwd: process.cwd(),
    platform: process.platform,
    // A getter: touching process.stdin makes Node read fd 0 (and set it non-blocking).
    get stdin() { return process.stdin; },
    stdioFds: { stdin: 0, stdout: 1 },
    stdout: process.stdout,
    stderr: process.stderr,
    stderrFd: 2,
    paths,
    now: Date.now,
    color: Boolean(process.stdout.isTTY) && !('NO_COLOR' in env) && env.TERM !== 'dumb',
    log: write,
    debug,
    ...createEngineFinder({ env, home, platform: process.platform, runDir: join(paths.state, 'run'), now: Date.now, debug }),
  };
}
