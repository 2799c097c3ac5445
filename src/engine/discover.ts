import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LokError, EXIT } from '../errors.js';
import { negotiateApiVersion, type EngineEndpoint } from './endpoint.js';
import { engineRequest, isConnectError } from './http.js';

/** What discovery may read about the machine; tests pass their own. */
export interface DiscoverInput {
  env: Readonly<Record<string, string | undefined>>;
  home: string;
  platform: NodeJS.Platform;
  explicit?: string | undefined;
}

/** Returns an endpoint parsed from a DOCKER_HOST-style string, or throws a usage error. */
export function parseEngineUrl(value: string, source: string): EngineEndpoint {
  if (value.startsWith('/')) return { kind: 'unix', socketPath: value, source };
  const match = /^(unix|tcp|http|https):\/\/(.*)$/.exec(value);
  if (match?.[1] === 'unix' && match[2]) return { kind: 'unix', socketPath: match[2], source };
  if (match && match[1] !== 'unix' && match[2]) {
    const url = URL.canParse(`http://${match[2]}`) ? new URL(`http://${match[2]}`) : undefined;
    const tls = match[1] === 'https';
    const port = Number(url?.port || (tls ? 2376 : 2375));
    if (url?.hostname) return { kind: 'tcp', host: url.hostname.replace(/^\[|\]$/g, ''), port, tls, source };
  }
  throw new LokError('INVALID_INPUT', `Expected ${source} to be an engine address such as \`unix:///var/run/docker.sock\` or \`tcp://127.0.0.1:2375\`, got \`${value}\`.`, { exitCode: EXIT.usage });
}

function readJson(path: string): unknown {
  try { return JSON.parse(readFileSync(path, 'utf8')); } catch { return undefined; }
}

/** Returns the endpoint of the docker CLI's current context, when it is not `default`. */
export function readDockerContext(input: DiscoverInput): EngineEndpoint | undefined {
  const configDir = input.env.DOCKER_CONFIG ?? join(input.home, '.docker');
  const name = input.env.DOCKER_CONTEXT ?? (readJson(join(configDir, 'config.json')) as { currentContext?: string } | undefined)?.currentContext;
  if (!name || name === 'default') return undefined;
  const id = createHash('sha256').update(name).digest('hex');
  const meta = readJson(join(configDir, 'contexts', 'meta', id, 'meta.json')) as { Endpoints?: { docker?: { Host?: string } } } | undefined;
  const host = meta?.Endpoints?.docker?.Host;
  return host ? parseEngineUrl(host, `docker context "${name}"`) : undefined;
}

/**
 * Returns the candidate endpoints in the order users' machines have them: an explicit
 * choice, DOCKER_HOST, the docker context, then the well-known sockets of Docker Engine,
 * Docker Desktop, Colima, OrbStack, Rancher Desktop and Podman. Explicit choices stand alone.
 */
export function listEngineCandidates(input: DiscoverInput): EngineEndpoint[] {
  if (input.explicit) return [parseEngineUrl(input.explicit, '--engine / MCP_LOK_ENGINE')];
  if (input.env.MCP_LOK_ENGINE) return [parseEngineUrl(input.env.MCP_LOK_ENGINE, 'MCP_LOK_ENGINE')];
  if (input.env.DOCKER_HOST) return [parseEngineUrl(input.env.DOCKER_HOST, 'DOCKER_HOST')];
  const context = readDockerContext(input);
  if (context) return [context];
  return listWellKnownSockets(input);
}

/** Returns the well-known engine sockets of Docker Engine, Docker Desktop, Colima, OrbStack, Rancher Desktop and Podman. */
function listWellKnownSockets(input: DiscoverInput): EngineEndpoint[] {
  const h = input.home;
  const xdg = input.env.XDG_RUNTIME_DIR;
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  const runtimeDir = xdg ?? (uid !== undefined ? `/run/user/${uid}` : undefined);
  const paths: Array<[string, string]> = [
    ['/var/run/docker.sock', 'Docker Engine'],
    ...(runtimeDir ? [[join(runtimeDir, 'docker.sock'), 'rootless Docker'] as [string, string]] : []),
    [join(h, '.docker/run/docker.sock'), 'Docker Desktop'],
    [join(h, '.docker/desktop/docker.sock'), 'Docker Desktop'],
    [join(h, '.colima/default/docker.sock'), 'Colima'],
    [join(h, '.colima/docker.sock'), 'Colima'],
    [join(h, '.orbstack/run/docker.sock'), 'OrbStack'],
    [join(h, '.rd/docker.sock'), 'Rancher Desktop'],
    ['/run/podman/podman.sock', 'Podman (rootful)'],
    ...(runtimeDir ? [[join(runtimeDir, 'podman/podman.sock'), 'Podman (rootless)'] as [string, string]] : []),
  ];
  if (input.platform === 'darwin') paths.push([join(h, '.local/share/containers/podman/machine/podman.sock'), 'Podman machine']);
  return paths.map(([socketPath, source]) => ({ kind: 'unix', socketPath, source }));
}

/**
 * Returns every engine socket path this machine may use, whichever is in use: the ones the
 * environment and the docker context name, and the well-known ones. No grant may expose any.
 */
export function listKnownEngineSockets(input: DiscoverInput): string[] {
  const named = [input.explicit, input.env.MCP_LOK_ENGINE, input.env.DOCKER_HOST].flatMap((value) => {
    if (!value) return [];
    try { return [parseEngineUrl(value, 'engine')]; } catch { return []; }
  });
  let context: EngineEndpoint | undefined;
  try { context = readDockerContext(input); } catch { context = undefined; }
  return [...named, ...(context ? [context] : []), ...listWellKnownSockets(input)].flatMap((e) => (e.kind === 'unix' ? [e.socketPath] : []));
}

function socketExists(path: string): boolean {
  try { return statSync(path).isSocket(); } catch { return false; }
}

/**
 * Returns true when the engine at the endpoint answers `GET /_ping`, and pins the API version
 * to speak with it on the endpoint.
 */
export async function pingEngine(endpoint: EngineEndpoint, timeoutMs = 3000): Promise<boolean> {
  try {
    delete endpoint.apiVersion;
    const res = await engineRequest(endpoint, 'GET', '/_ping', undefined, { timeoutMs });
    const header = res.headers['api-version'];
    const version = negotiateApiVersion(Array.isArray(header) ? header[0] : header);
    if (version) endpoint.apiVersion = version;
    if (res.headers['libpod-api-version']) endpoint.podman = true;
    return res.status === 200;
  } catch (error) {
    if (isConnectError(error)) return false;
    throw error;
  }
}

/**
 * Returns the first endpoint whose engine answers; throws ENGINE_UNAVAILABLE (exit 125)
 * naming what was tried and what to do when none does.
 */
export async function discoverEngine(input: DiscoverInput): Promise<EngineEndpoint> {
  const candidates = listEngineCandidates(input);
  const single = candidates.length === 1;
  const tried: string[] = [];
  for (const candidate of candidates) {
    const label = candidate.kind === 'unix' ? candidate.socketPath : `${candidate.host}:${candidate.port}`;
    if (candidate.kind === 'unix' && !single && !socketExists(candidate.socketPath)) continue;
    tried.push(label);
    if (await pingEngine(candidate)) return candidate;
  }
  const where = single ? `at ${tried[0] ?? candidates[0]?.source} (${candidates[0]?.source})` : tried.length ? `at ${tried.join(', ')}` : 'at any known socket (/var/run/docker.sock, Docker Desktop, Colima, OrbStack, Rancher Desktop, Podman)';
  throw new LokError('ENGINE_UNAVAILABLE', `No container engine answered ${where}. Start Docker or Podman, or set DOCKER_HOST or MCP_LOK_ENGINE.`, { exitCode: EXIT.engine });
}
