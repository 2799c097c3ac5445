import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { UpstreamProxy } from '../egress/proxy.js';
import { LokError, EXIT } from '../errors.js';
import { textLines } from '../lines.js';

/** The few npm settings the install phase mirrors from the host. */
export interface NpmSettings {
  registry: string;
  cafile: string | undefined;
  /** The outbound proxy npm uses for https:// (`https-proxy`, else `proxy`): a corporate network's, say. */
  proxy: string | undefined;
  /** The proxy npm uses for http:// (`proxy`). */
  httpProxy?: string | undefined;
  /** Hosts npm reaches without the proxy (`noproxy`). */
  noProxy?: string[] | undefined;
}

export const DEFAULT_REGISTRY = 'https://registry.npmjs.org/';

/** Returns `key=value` settings from npmrc text (comments, sections and quotes handled). */
export function parseNpmrc(text: string, env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of textLines(text)) {
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
  const httpProxy = fromEnv('proxy') ?? merged.proxy;
  const proxy = fromEnv('https_proxy') ?? merged['https-proxy'] ?? httpProxy;
  const noProxy = (fromEnv('noproxy') ?? merged.noproxy ?? '').split(/[\s,]+/).filter(Boolean);
  const settings: NpmSettings = { registry: registry.endsWith('/') ? registry : `${registry}/`, cafile: cafile || undefined, proxy: proxy || undefined };
  if (httpProxy) settings.httpProxy = httpProxy;
  if (noProxy.length > 0) settings.noProxy = noProxy;
  return settings;
}

/** Returns whether npm's `noproxy` list names a host (an entry matches it and its subdomains; `*` matches all). */
function isNoProxy(host: string, noProxy: readonly string[]): boolean {
  return noProxy.some((raw) => {
    const entry = raw.toLowerCase().replace(/^\*?\./, '').replace(/:\d+$/, '');
    return raw === '*' || host === entry || host.endsWith(`.${entry}`);
  });
}

/** Returns the proxy npm would use to reach `registry`, or undefined (none set, or `noproxy` names its host). */
export function chooseNpmProxy(settings: NpmSettings, registry: string): string | undefined {
  const url = new URL(registry);
  const proxy = url.protocol === 'http:' ? settings.httpProxy : settings.proxy;
  if (!proxy) return undefined;
  return isNoProxy(url.hostname.replace(/^\[|\]$/g, '').toLowerCase(), settings.noProxy ?? []) ? undefined : proxy;
}

/**
 * Returns where an npm proxy URL points (`http://[user:password@]host[:port]`) and the
 * Proxy-Authorization its credentials make; INVALID_INPUT for anything else.
 */
export function parseProxyUrl(text: string): UpstreamProxy {
  const hint = 'Set npm\'s proxy (or https-proxy) to an http:// URL such as http://proxy.example:3128, or remove it.';
  let url: URL;
  try { url = new URL(text); } catch {
    throw new LokError('INVALID_INPUT', 'npm\'s proxy setting is not a URL.', { exitCode: EXIT.usage, hint });
  }
  if (url.protocol !== 'http:') {
    throw new LokError('INVALID_INPUT', `npm's proxy ${url.protocol}//${url.host} is not an http:// proxy, the only kind the egress proxy can go through.`, { exitCode: EXIT.usage, hint });
  }
  const proxy: UpstreamProxy = { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 80) };
  if (url.username || url.password) {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    proxy.authorization = `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
  }
  return proxy;
}
