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
import { readPinSummary, type PinSummary } from '../state/pins.js';
import { installKey, requestedSpecs } from '../prepare/install.js';
import { readNpmSettings } from '../prepare/npm-config.js';
import { checkRecordedSpec } from '../request/recorded-spec.js';
import { approveCommand } from '../tools-pin/identity.js';
import type { PinMode, ToolPinStatus } from '../tools-pin/pin.js';
import { choosePinMode, planToolPin } from './plan.js';
import { readToolPinStatus } from './tool-pins.js';

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
  /** The pinned version of its npm package (`name@version` each, when several); null when it floats, is an image, or has no pin yet. */
  pinned: string | null;
  /** Its package pin: each package's version and integrity, when pinned, newer versions seen, earlier ones to roll back to. */
  pin: PinSummary | null;
  /** Its tool manifest's state; null when its tools are not checked (`--pin-tools off`). */
  tools: ToolsInfo | null;
}

/** A server's tool manifest as `list` shows it. */
export interface ToolsInfo {
  /** `not pinned` (no complete list seen yet), `pinned`, `changed` (observed), `awaiting approval` (hidden by enforce), `damaged`. */
  state: ToolPinStatus['state'];
  /** What `mcp-lok approve` and `logs --tools` take. */
  identity: string;
  /** Tools in the pin. */
  pinned: number;
  added: number;
  changed: number;
  removed: number;
  mode: PinMode;
  pinnedAt?: string;
  changedSince?: string;
  /** The command that reviews and accepts the pending changes (the user's: no tool of the management server approves). */
  approve?: string;
}

/** The pins a server's row shows: its package pin and its tool manifest, as read from the state folder. */
export interface ServerPins {
  pin?: PinSummary | undefined;
  tools?: { status: ToolPinStatus; mode: PinMode } | undefined;
}

/** Where a server's pins are kept: the package pin's key, and the tool pin's id with its mode. */
export interface PinRefs {
  pinKey?: string | undefined;
  toolPin?: { id: string; identity?: string | undefined; mode: PinMode } | undefined;
}

/** Returns the pinned version to show: the version of one package, `name@version` of each of several; null when none. */
export function pinnedVersions(pin: PinSummary | undefined): string | null {
  if (!pin || pin.packages.length === 0) return null;
  if (pin.packages.length === 1) return pin.packages[0]?.version ?? null;
  return pin.packages.map((p) => `${p.name}@${p.version}`).join(' ');
}

/** Returns a tool manifest's row fields, with the approve command when changes are pending. */
export function describeTools(tools: ServerPins['tools']): ToolsInfo | null {
  if (!tools) return null;
  const { status, mode } = tools;
  const pending = status.state === 'changed' || status.state === 'awaiting approval';
  return {
    state: status.state, identity: status.identity, pinned: status.tools, added: status.added, changed: status.changed, removed: status.removed, mode,
    ...(status.pinnedAt ? { pinnedAt: status.pinnedAt } : {}),
    ...(status.changedSince ? { changedSince: status.changedSince } : {}),
    ...(pending ? { approve: approveCommand(status.identity) } : {}),
  };
}

function pinFields(pins: ServerPins): Pick<ServerInfo, 'pinned' | 'pin' | 'tools'> {
  return { pinned: pinnedVersions(pins.pin), pin: pins.pin ?? null, tools: describeTools(pins.tools) };
}

const PIN_KEY = /^[0-9a-f]{16}$/;

/** Returns where a container's pins are, from its labels (absent or malformed labels: none). */
export function pinRefsOfLabels(labels: Readonly<Record<string, string>>): PinRefs {
  const key = labels[LABEL.pin];
  const id = labels[LABEL.toolPin];
  const mode = labels[LABEL.toolPinMode] === 'enforce' ? 'enforce' : 'observe';
  return {
    ...(key !== undefined && PIN_KEY.test(key) ? { pinKey: key } : {}),
    ...(id ? { toolPin: { id, mode } } : {}),
  };
}

/**
 * Returns where a background server's pins are: the package pin its last start recorded (else
 * the one its request names with `registry`, as `update NAME` finds it), and its tool pin
 * unless its tools are not checked (`--pin-tools off`).
 */
export function pinRefsOfRecord(record: ServerRecord, registry: () => string): PinRefs {
  if (!record.spec) return {};
  let spec;
  try { spec = checkRecordedSpec(record.spec, record.name); } catch { return {}; }
  const { source, lok, profile, homeScope } = spec.server;
  const recorded = record.pinKey !== undefined && PIN_KEY.test(record.pinKey) ? record.pinKey : undefined;
  const pinKey = source.kind !== 'npx' || lok.refreshAfterMs !== undefined ? undefined
    : recorded ?? installKey(requestedSpecs(source.packages), lok.registry ?? registry());
  const mode = choosePinMode(lok.pinTools, profile.profile);
  const target = mode ? planToolPin(source, lok.name, homeScope) : undefined;
  return {
    ...(pinKey ? { pinKey } : {}),
    ...(target && mode ? { toolPin: { id: target.id, identity: target.identity, mode } } : {}),
  };
}

/** Reads a server's pins from the state folder (each pin read once per `cache`). */
export function readServerPins(ctx: Pick<Context, 'paths'>, refs: PinRefs, cache: Map<string, unknown> = new Map()): ServerPins {
  const once = <T>(key: string, read: () => T): T => {
    if (!cache.has(key)) cache.set(key, read());
    return cache.get(key) as T;
  };
  const pin = refs.pinKey ? once(`pin:${refs.pinKey}`, () => readPinSummary(ctx.paths.state, refs.pinKey as string)) : undefined;
  const tp = refs.toolPin;
  const status = tp ? once(`tools:${tp.id}`, () => readToolPinStatus(ctx, { id: tp.id, identity: tp.identity })) : undefined;
  return { pin, tools: status && tp ? { status, mode: tp.mode } : undefined };
}

interface SummaryWithTimes extends ContainerSummary {
  Created?: number;
  Status?: string;
}

/** Returns the server record of a container summary. */
export function describeServer(c: SummaryWithTimes, pins: ServerPins = {}): ServerInfo {
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
    ...pinFields(pins),
  };
}

/** Returns the row of a background server, from its record: honest about a dead supervisor. */
export function describeRecord(raw: ServerRecord, pins: ServerPins = {}): ServerInfo {
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
    ...pinFields(pins),
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
  const cache = new Map<string, unknown>();
  // The registry a background server's request does not name is npm's, as `update NAME` takes it.
  let npmRegistry: string | undefined;
  const registry = (): string => (npmRegistry ??= readNpmSettings(ctx.env, ctx.home, process.execPath).registry);
  const rows = containers
    // An egress or loopback sidecar is part of the server beside it, not a server of its own.
    .filter((c) => !isHelper(c.Labels) && (options.all || (c.Labels[LABEL.role] !== 'install' && c.Labels[LABEL.role] !== 'init')))
    .filter((c) => !(c.Labels[LABEL.launcher] === 'start' && owned.has(c.Labels[LABEL.name] ?? '')))
    .map((c) => describeServer(c, readServerPins(ctx, pinRefsOfLabels(c.Labels), cache)));
  return [...records.map((r) => describeRecord(r, readServerPins(ctx, pinRefsOfRecord(r, registry), cache))), ...rows].sort((a, b) => a.name.localeCompare(b.name));
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
