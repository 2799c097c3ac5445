import { listContainers, removeContainer, stopContainer, type ContainerSummary } from '../engine/containers.js';
import type { EngineEndpoint } from '../engine/endpoint.js';
import { LokError, EXIT } from '../errors.js';
import { LABEL } from '../sandbox/labels.js';

/** One sandboxed server as `list` shows it (and `--json` prints it). */
export interface ServerInfo {
  name: string;
  id: string;
  state: string;
  status: string;
  launcher: string;
  transport: string;
  url: string | null;
  profile: string;
  /** What the profile allows beyond the default sandbox (files, network), in words. */
  allows: string[];
  package: string | null;
  image: string;
  createdAt: string;
}

interface SummaryWithTimes extends ContainerSummary {
  Created?: number;
  Status?: string;
}

/** Returns the server record of a container summary. */
export function describeServer(c: SummaryWithTimes): ServerInfo {
  const labels = c.Labels;
  return {
    name: labels[LABEL.name] ?? c.Names[0]?.replace(/^\//, '') ?? c.Id.slice(0, 12),
    id: c.Id.slice(0, 12),
    state: c.State,
    status: c.Status ?? c.State,
    launcher: labels[LABEL.launcher] ?? 'unknown',
    transport: labels[LABEL.transport] ?? 'stdio',
    url: null,
    profile: labels[LABEL.profile] ?? 'unknown',
    allows: labels[LABEL.allows]?.split('; ') ?? [],
    package: labels[LABEL.package] ?? null,
    image: labels[LABEL.image] ?? '',
    createdAt: new Date((c.Created ?? 0) * 1000).toISOString(),
  };
}

/**
 * Returns mcp-lok's servers: running ones, or all with `all`. Install containers are
 * mcp-lok's own plumbing and shown only with `all`.
 */
export async function listServers(endpoint: EngineEndpoint, options: { all: boolean }): Promise<ServerInfo[]> {
  const containers = await listContainers(endpoint, [`${LABEL.managed}=true`], options.all) as SummaryWithTimes[];
  return containers
    .filter((c) => options.all || c.Labels[LABEL.role] !== 'install')
    .map(describeServer)
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Returns the one container whose mcp-lok name is exactly `name` (the engine's filter is a regex). */
export async function findServer(endpoint: EngineEndpoint, name: string): Promise<SummaryWithTimes> {
  const found = (await listContainers(endpoint, [`${LABEL.managed}=true`, `${LABEL.name}=${name}`], true))
    .filter((c) => c.Labels[LABEL.name] === name);
  if (found[0]) return found[0];
  throw new LokError('NOT_FOUND', `No mcp-lok server is named "${name}".`, { exitCode: EXIT.failure, hint: 'Run `mcp-lok list --all` to see them.' });
}

/** Stops a server (SIGTERM, then SIGKILL after `graceSeconds`); returns whether it was running. */
export async function stopServer(endpoint: EngineEndpoint, name: string, graceSeconds: number): Promise<boolean> {
  const c = await findServer(endpoint, name);
  if (c.State !== 'running') return false;
  await stopContainer(endpoint, c.Id, graceSeconds);
  return true;
}

/** Removes a server's container; a running one only with `force`. */
export async function removeServer(endpoint: EngineEndpoint, name: string, force: boolean): Promise<void> {
  const c = await findServer(endpoint, name);
  if (c.State === 'running' && !force) {
    throw new LokError('INVALID_INPUT', `The server "${name}" is running.`, { exitCode: EXIT.failure, hint: `Stop it first (\`mcp-lok stop ${name}\`) or use \`mcp-lok rm -f ${name}\`.` });
  }
  await removeContainer(endpoint, c.Id);
}
