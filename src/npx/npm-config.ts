import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The few npm settings the install phase mirrors from the host. */
export interface NpmSettings {
  registry: string;
  cafile: string | undefined;
  /** An outbound proxy npm is configured to use (a corporate network's, say). */
  proxy: string | undefined;
}

export const DEFAULT_REGISTRY = 'https://registry.npmjs.org/';

/** Returns `key=value` settings from npmrc text (comments, sections and quotes handled). */
export function parseNpmrc(text: string, env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';') || line.startsWith('[')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim();
    let value = line.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    value = value.replace(/\$\{([^}]+)\}/g, (_m, name: string) => env[name] ?? '');
    out[key] = value;
  }
  return out;
}

function readNpmrc(path: string | undefined, env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  if (!path) return {};
  try { return parseNpmrc(readFileSync(path, 'utf8'), env); } catch { return {}; }
}

/**
 * Returns the registry and CA file the host's npm would use, read from npm's environment
 * variables, the user npmrc and the global npmrc (without starting npm, which costs ~300 ms).
 */
export function readNpmSettings(env: Readonly<Record<string, string | undefined>>, home: string, nodePath: string): NpmSettings {
  const globalPath = env.npm_config_globalconfig ?? env.NPM_CONFIG_GLOBALCONFIG ?? join(dirname(dirname(nodePath)), 'etc', 'npmrc');
  const userPath = env.npm_config_userconfig ?? env.NPM_CONFIG_USERCONFIG ?? join(home, '.npmrc');
  const merged = { ...readNpmrc(globalPath, env), ...readNpmrc(userPath, env) };
  const fromEnv = (key: string): string | undefined => env[`npm_config_${key}`] ?? env[`NPM_CONFIG_${key.toUpperCase()}`];
  const registry = fromEnv('registry') ?? merged.registry ?? DEFAULT_REGISTRY;
  const cafile = fromEnv('cafile') ?? merged.cafile;
  const proxy = fromEnv('https_proxy') ?? fromEnv('proxy') ?? merged['https-proxy'] ?? merged.proxy;
  return { registry: registry.endsWith('/') ? registry : `${registry}/`, cafile: cafile || undefined, proxy: proxy || undefined };
}
