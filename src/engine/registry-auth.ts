// Credentials for pushing an image, read the way the docker CLI reads them: the user's docker
// config (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`), its `auths` entries, and
// its credential helpers (`credHelpers`, `credsStore`: a `docker-credential-NAME get` program).
// They go to the engine in the X-Registry-Auth header of the push, never to a file or a log.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const DOCKER_HUB = 'docker.io';
/** The key the docker CLI files Docker Hub's credentials under. */
const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';
const HELPER_TIMEOUT_MS = 20_000;
const HELPER_NAME = /^[A-Za-z0-9_.-]+$/;

/** What the engine takes as X-Registry-Auth (before base64url). */
export interface RegistryAuth {
  username?: string;
  password?: string;
  identitytoken?: string;
  serveraddress: string;
}

/** The parts of a docker config file that name credentials. */
export interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** Returns the registry host an image reference is pushed to (`docker.io` for a name without one). */
export function registryOf(ref: string): string {
  const slash = ref.indexOf('/');
  if (slash === -1) return DOCKER_HUB;
  const first = ref.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost' ? first : DOCKER_HUB;
}

/** Returns a config key's registry host: `https://ghcr.io/v1/` and `ghcr.io` are the same. */
function keyHost(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '').toLowerCase();
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? DOCKER_HUB : host;
}

/**
 * Returns the credentials the config holds inline for `registry` (an `auths` entry with
 * `auth`, username/password or an identity token), the helper to ask instead, or neither.
 */
export function findRegistryAuth(config: DockerConfig, registry: string): { auth: RegistryAuth } | { helper: string; serverUrl: string } | undefined {
  const host = registry.toLowerCase();
  const serverUrl = host === DOCKER_HUB ? DOCKER_HUB_KEY : host;
  const helper = Object.entries(config.credHelpers ?? {}).find(([key]) => keyHost(key) === host)?.[1] ?? config.credsStore;
  if (helper && HELPER_NAME.test(helper)) return { helper, serverUrl };
  const entry = Object.entries(config.auths ?? {}).find(([key]) => keyHost(key) === host)?.[1];
  if (!entry) return undefined;
  if (entry.identitytoken) return { auth: { identitytoken: entry.identitytoken, serveraddress: serverUrl } };
  if (entry.auth) {
    const text = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon > 0) return { auth: { username: text.slice(0, colon), password: text.slice(colon + 1), serveraddress: serverUrl } };
  }
  if (entry.username && entry.password) return { auth: { username: entry.username, password: entry.password, serveraddress: serverUrl } };
  return undefined;
}

/** Returns the X-Registry-Auth header value: base64url JSON, `{}` when there are no credentials (the engine needs the header). */
export function encodeRegistryAuth(auth: RegistryAuth | undefined): string {
  return Buffer.from(JSON.stringify(auth ?? {})).toString('base64url');
}

/** Asks a docker credential helper for a registry's credentials; undefined when it has none. */
function askHelper(helper: string, serverUrl: string): Promise<RegistryAuth | undefined> {
  return new Promise((resolve, reject) => {
    const child = execFile(`docker-credential-${helper}`, ['get'], { timeout: HELPER_TIMEOUT_MS }, (error, stdout) => {
      if (error) {
        // "credentials not found" is no failure: the push goes without, as docker's would.
        if (/not found/i.test(`${stdout}${String(error.message)}`)) { resolve(undefined); return; }
        reject(new Error(`the credential helper docker-credential-${helper} failed: ${error.message.split('\n')[0] ?? ''}`));
        return;
      }
      try {
        const answer = JSON.parse(stdout) as { Username?: string; Secret?: string };
        if (!answer.Secret) { resolve(undefined); return; }
        resolve(answer.Username === '<token>'
          ? { identitytoken: answer.Secret, serveraddress: serverUrl }
          : { username: answer.Username ?? '', password: answer.Secret, serveraddress: serverUrl });
      } catch {
        reject(new Error(`the credential helper docker-credential-${helper} answered something that is not JSON`));
      }
    });
    child.stdin?.end(serverUrl);
  });
}

/**
 * Returns the credentials for pushing `ref` from the user's docker config, or undefined when
 * it has none (no config is fine: the push then goes without, and a registry that needs them
 * refuses it).
 */
export async function loadRegistryAuth(ref: string, env: Readonly<Record<string, string | undefined>>): Promise<RegistryAuth | undefined> {
  const dir = env.DOCKER_CONFIG ?? (env.HOME ? join(env.HOME, '.docker') : undefined);
  if (!dir) return undefined;
  let config: DockerConfig;
  try {
    config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as DockerConfig;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${join(dir, 'config.json')}: ${(error as Error).message}`);
  }
  const found = findRegistryAuth(config, registryOf(ref));
  if (!found) return undefined;
  if ('auth' in found) return found.auth;
  return askHelper(found.helper, found.serverUrl);
}
