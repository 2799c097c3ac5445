import { listContainers, listVolumes, removeContainer, stopContainer, type ContainerSummary } from '../engine/containers.js';
import type { EngineEndpoint } from '../engine/endpoint.js';
import type { Context } from './context.js';
import { LokError, EXIT, usageError } from '../errors.js';
import { removeHomeVolume } from '../prepare/home.js';
import { showInput } from '../request/input-errors.js';
import { isContainerName } from '../sandbox/names.js';
import { STOP_GRACE_S } from '../sandbox/hardening.js';
import { LABEL } from '../sandbox/labels.js';
import { effectiveRecord, isSupervised, readRecord, readRecords, removeRecord, type ServerRecord } from '../state/records.js';

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
  /** For servers started with `mcp-lok start`: how it is served, and its supervisor's counts. */
  mode?: 'proxy' | 'bridge' | null;
  sessions?: number;
  restarts?: number;
  /** What to do next, for a stopped background server. */
  hint?: string;
  /** The bearer token a background server's clients must send, when it needs one (`list --json` only). */
  token?: string | null;
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

/** Returns the row of a background server, from its record: honest about a dead supervisor. */
export function describeRecord(raw: ServerRecord): ServerInfo {
  const r = effectiveRecord(raw);
  const stopped = r.state === 'stopped';
  // A record that says running with no supervisor behind it: a reboot, or a killed supervisor.
  const detail = stopped
    ? raw.state === 'stopped' ? `stopped${r.lastExit ? ` (${r.lastExit})` : ''}` : 'stopped (its supervisor is gone)'
    : `${r.state}${r.mode === 'bridge' ? `, ${r.sessions ?? 0} session${r.sessions === 1 ? '' : 's'}` : ''}${r.restarts > 0 ? `, ${r.restarts} restart${r.restarts === 1 ? '' : 's'}` : ''}`;
  const isImage = !r.source.startsWith('npx://');
  return {
    name: r.name,
    id: '-',
    state: stopped ? 'stopped' : r.state,
    status: detail,
    launcher: 'start',
    transport: r.transport,
    url: stopped ? null : r.url,
    profile: r.profile,
    allows: r.allows,
    package: isImage ? null : r.source.slice('npx://'.length),
    image: isImage ? r.source : '',
    createdAt: r.startedAt,
    mode: r.mode ?? null,
    sessions: r.sessions ?? 0,
    restarts: r.restarts,
    token: raw.spec?.token ?? null,
    ...(stopped ? { hint: `mcp-lok start ${r.name}` } : {}),
  };
}

/**
 * Returns mcp-lok's servers: background servers from their supervisors' records (running or
 * stopped: after a reboot they are shown stopped, with how to start them), then containers
 * started otherwise, running ones or all with `all`. A background server's own containers
 * (its server, its sidecar, one per client session) are shown as the one server.
 */
export async function listServers(ctx: Context, options: { all: boolean }): Promise<ServerInfo[]> {
  const endpoint = await ctx.engine();
  // What crashed mcp-lok processes left behind is gone before it is listed.
  await ctx.swept();
  const records = readRecords(ctx.paths.state);
  const owned = new Set(records.filter(isSupervised).map((r) => r.name));
  const containers = await listContainers(endpoint, [`${LABEL.managed}=true`], options.all) as SummaryWithTimes[];
  const rows = containers
    // An egress or loopback sidecar is part of the server beside it, not a server of its own.
    .filter((c) => !isHelper(c.Labels) && (options.all || (c.Labels[LABEL.role] !== 'install' && c.Labels[LABEL.role] !== 'init')))
    .filter((c) => !(c.Labels[LABEL.launcher] === 'start' && owned.has(c.Labels[LABEL.name] ?? '')))
    .map(describeServer);
  return [...records.map(describeRecord), ...rows].sort((a, b) => a.name.localeCompare(b.name));
}

/** A sidecar that serves the server beside it (its egress proxy, or the loopback it shares). */
function isHelper(labels: Record<string, string>): boolean {
  return labels[LABEL.role] === 'egress' || labels[LABEL.role] === 'loopback';
}

function notFound(name: string): LokError {
  return new LokError('NOT_FOUND', `No mcp-lok server is named "${name}".`, { exitCode: EXIT.failure, hint: 'Run `mcp-lok list --all` to see them.' });
}

/** Returns the one container whose mcp-lok name is exactly `name` (the engine's filter is a regex). */
export async function findServer(endpoint: EngineEndpoint, name: string): Promise<SummaryWithTimes | undefined> {
  const found = (await listContainers(endpoint, [`${LABEL.managed}=true`, `${LABEL.name}=${name}`], true))
    .filter((c) => c.Labels[LABEL.name] === name && !isHelper(c.Labels));
  return found[0];
}

const STOP_POLL_MS = 100;

/** Asks a supervisor to stop (it stops its containers and listener), killing it if it hangs. */
async function stopSupervisor(record: ServerRecord, graceSeconds: number): Promise<void> {
  const pid = record.supervisor?.pid;
  if (!pid) return;
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  const deadline = Date.now() + (graceSeconds + 10) * 1000;
  while (isSupervised(record) && Date.now() < deadline) await new Promise((r) => setTimeout(r, STOP_POLL_MS));
  // Its reapers remove its containers when it dies.
  if (isSupervised(record)) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
}

/** Stops a server (SIGTERM, then SIGKILL after `graceSeconds`); returns whether it was running. */
export async function stopServer(ctx: Context, name: string, graceSeconds: number): Promise<boolean> {
  checkServerName(name);
  const record = readRecord(ctx.paths.state, name);
  if (record) {
    if (!isSupervised(record)) return false;
    await stopSupervisor(record, graceSeconds);
    return true;
  }
  const endpoint = await ctx.engine();
  const c = await findServer(endpoint, name);
  if (!c) throw notFound(name);
  if (c.State !== 'running') return false;
  await stopContainer(endpoint, c.Id, graceSeconds);
  return true;
}

/**
 * Removes a server (its record and log, or its container); a running one only with `force`.
 * With `home`, its home volume goes too (every home volume made for that name), even when the
 * server itself is gone; returns whether a server was removed, and the home volumes removed.
 */
export async function removeServer(ctx: Context, name: string, force: boolean, options: { home?: boolean } = {}): Promise<{ server: boolean; homes: string[] }> {
  checkServerName(name);
  let found = true;
  try {
    await removeServerItself(ctx, name, force);
  } catch (error) {
    if (!options.home || !(error instanceof LokError) || error.code !== 'NOT_FOUND') throw error;
    found = false;
  }
  if (!options.home) return { server: true, homes: [] };
  const endpoint = await ctx.engine();
  const homes = (await listVolumes(endpoint, [`${LABEL.managed}=true`, `${LABEL.kind}=home`, `${LABEL.name}=${name}`]))
    .filter((v) => v.Labels?.[LABEL.name] === name).map((v) => v.Name);
  if (!found && homes.length === 0) {
    throw new LokError('NOT_FOUND', `No mcp-lok server or home volume is named "${name}".`, { exitCode: EXIT.failure, hint: 'Run `mcp-lok list --all` and `mcp-lok image` to see them.' });
  }
  const removed: string[] = [];
  for (const volume of homes) {
    // A server just stopped may still be leaving its containers: give them a moment.
    const deadline = Date.now() + (found ? HOME_RELEASE_MS : 0);
    let ok = await removeHomeVolume(endpoint, volume, ctx.paths.state);
    while (!ok && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, STOP_POLL_MS));
      ok = await removeHomeVolume(endpoint, volume, ctx.paths.state);
    }
    if (!ok) {
      throw new LokError('INVALID_INPUT', `The home volume ${volume} of "${name}" is in use by a running server.`, { exitCode: EXIT.failure, hint: `Stop it first (\`mcp-lok list\` shows it; a client's server stops when the client does).` });
    }
    removed.push(volume);
  }
  return { server: found, homes: removed };
}

/** How long a home volume may stay in use after its server was stopped, before `rm --home` gives up. */
const HOME_RELEASE_MS = 10_000;

async function removeServerItself(ctx: Context, name: string, force: boolean): Promise<void> {
  const stateDir = ctx.paths.state;
  const record = readRecord(stateDir, name);
  const running = record ? isSupervised(record) : undefined;
  const endpoint = record ? undefined : await ctx.engine();
  const c = endpoint ? await findServer(endpoint, name) : undefined;
  if (!record && !c) throw notFound(name);
  if ((running || c?.State === 'running') && !force) {
    throw new LokError('INVALID_INPUT', `The server "${name}" is running.`, { exitCode: EXIT.failure, hint: `Stop it first (\`mcp-lok stop ${name}\`) or use \`mcp-lok rm -f ${name}\`.` });
  }
  if (record) {
    if (running) await stopSupervisor(record, STOP_GRACE_S);
    removeRecord(stateDir, name);
    return;
  }
  if (c && endpoint) await removeContainer(endpoint, c.Id);
}

/** Returns true when `name` is a background server (running or stopped) that `start NAME` can start again. */
export function isBackgroundServer(ctx: Context, name: string): boolean {
  return isContainerName(name) && readRecord(ctx.paths.state, name) !== undefined;
}

/** Refuses what cannot be a server's name (it also names files under the state folder): one line, a usage error. */
export function checkServerName(name: string): void {
  if (!isContainerName(name)) {
    throw usageError(`Expected a server name (a letter or digit, then letters, digits, _ . -, at most 63), got ${showInput(name)}.`, 'Run `mcp-lok list --all` to see the names.');
  }
}
