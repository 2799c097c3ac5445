import envPaths from 'env-paths';
import { join } from 'node:path';

/** mcp-lok's directories on the host (XDG on Linux, the platform's places elsewhere). */
export interface LokPaths {
  config: string;
  cache: string;
  state: string;
  installs: string;
  locks: string;
}

/** Returns the paths; MCP_LOK_HOME puts them all under one folder (tests use it). */
export function getPaths(env: Readonly<Record<string, string | undefined>>): LokPaths {
  const home = env.MCP_LOK_HOME;
  const base = home
    ? { config: join(home, 'config'), cache: join(home, 'cache'), data: join(home, 'data') }
    : envPaths('mcp-lok', { suffix: '' });
  return {
    config: base.config,
    cache: base.cache,
    state: join(base.data, 'state'),
    installs: join(base.cache, 'installs'),
    locks: join(base.cache, 'locks'),
  };
}
