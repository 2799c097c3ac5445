import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { discoverEngine } from '../engine/discover.js';
import type { EngineEndpoint } from '../engine/endpoint.js';
import { sweepOrphans } from '../engine/sweep.js';
import { getPaths, type LokPaths } from '../state/paths.js';
import { createDebug } from '../app/process-context.js';

/** What a manager command may touch. Tests build their own. */
export interface ManagerContext {
  env: Readonly<Record<string, string | undefined>>;
  stdout: Writable;
  stderr: Writable;
  paths: LokPaths;
  now: () => number;
  /** Colour on stdout: a terminal, and NO_COLOR unset. */
  color: boolean;
  debug: (line: string) => void;
  /** Finds the engine once and removes what crashed mcp-lok processes left behind. */
  engine: () => Promise<EngineEndpoint>;
}

/** Returns the context of the running `mcp-lok` process. */
export function createManagerContext(debugOn: boolean): ManagerContext {
  const env = process.env;
  const paths = getPaths(env);
  let found: Promise<EngineEndpoint> | undefined;
  const debug = createDebug(debugOn);
  return {
    env,
    stdout: process.stdout,
    stderr: process.stderr,
    paths,
    now: Date.now,
    color: Boolean(process.stdout.isTTY) && !('NO_COLOR' in env) && env.TERM !== 'dumb',
    debug,
    engine: () => {
      found ??= discoverEngine({ env, home: homedir(), platform: process.platform, explicit: env.MCP_LOK_ENGINE }).then(async (endpoint) => {
        const removed = await sweepOrphans(endpoint, join(paths.state, 'run'), Date.now()).catch(() => []);
        for (const name of removed) debug(`removed leftover ${name}`);
        return endpoint;
      });
      return found;
    },
  };
}
