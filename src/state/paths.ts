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

/**
 * Returns where mcp-lok keeps its files by default under a home, whatever MCP_LOK_HOME and
 * XDG_* say for this run (env-paths' places): what no grant may reach, since another run keeps
 * its records there.
 */
export function defaultLokDirs(home: string, platform: NodeJS.Platform): string[] {
  if (platform === 'darwin') return ['Library/Application Support', 'Library/Preferences', 'Library/Caches'].map((d) => join(home, d, 'mcp-lok'));
  if (platform === 'win32') return [];
  return ['.config', '.cache', '.local/share'].map((d) => join(home, d, 'mcp-lok'));
}
