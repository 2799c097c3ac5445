import { createHash } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../app/context.js';
import { createVolume, removeVolume, volumeExists } from '../engine/containers.js';
import { formatEndpoint, type EngineEndpoint } from '../engine/endpoint.js';
import { LokError, EXIT } from '../errors.js';
import { textLines } from '../lines.js';
import { buildContainerSpec, type MountPlan } from '../sandbox/build-spec.js';
import { CA_BUNDLE_PATH, DEFAULT_NOFILE, NPM_CACHE_DIR, PACKAGES_DIR } from '../sandbox/hardening.js';
import { LABEL, buildLabels } from '../sandbox/labels.js';
import { wrapWithEgressForwarder } from '../egress/forwarder.js';
import { signalExitCode, trapStopSignals } from '../stdio/interrupt.js';
import { runContainer } from '../stdio/run-container.js';
import { EGRESS_PROXY_ENV, openEgress, type EgressAccess } from '../egress/wiring.js';
import type { OutboundRules } from '../sandbox/profile-validate.js';
import { currentOwner } from '../state/owner.js';
import { withLock } from '../state/lock.js';
import type { UpstreamProxy } from '../egress/proxy.js';
import { parseProxyUrl } from './npm-config.js';
import type { PackageSpec } from '../request/package-spec.js';

/** The npm cache shared by install containers (content-addressed, safe to share). */
export const NPM_CACHE_VOLUME = 'mcp-lok-npm-cache';
const INSTALL_MEMORY_BYTES = 1024 * 1024 * 1024;

/** What an install left behind, as recorded on the host. */
export interface InstallRecord {
  specs: string[];
  registry: string;
  volume: string;
  dir: string;
  packages: Array<{ name: string; version: string; bin: unknown }>;
  resolvedAt: number;
}

export interface InstallRequest {
  /**
   * The user's own npm proxy (its URL): the egress proxy reaches the registry through it
   * (CONNECT) instead of directly. The install container never has a network of its own.
   */
  upstreamProxy?: string | undefined;
  /** The engine cannot mount a socket from this machine (a VM, TCP): the proxy runs in a sidecar. */
  proxyInSidecar: boolean;
  packages: PackageSpec[];
  registry: string;
  caFile: string | undefined;
  /** The CA file is npm's `cafile` (a full bundle that replaces npm's roots), not extra CAs. */
  caIsNpmCafile: boolean;
  /** false: never install (npx --no); undefined or true: install when missing. */
  allowInstall: boolean;
  refreshAfterMs: number;
  image: string;
  quiet: boolean;
  /**
   * SIGINT, SIGTERM and SIGHUP remove the install container before the process exits (a
   * foreground shim or `run`); otherwise they keep their handling, and the reaper removes it.
   */
  handleSignals: boolean;
}

/**
 * Returns what npm is asked to install for a package spec. A bare name goes as it was given,
 * as npx does: npm then takes the `latest` version when its `engines` fit the sandbox's Node,
 * else the newest one that does; `name@latest` would take `latest` whatever it needs.
 */
export function npmInstallSpec(p: PackageSpec): string {
  return p.raw === p.name && p.kind === 'tag' && p.selector === 'latest' ? p.name : `${p.name}@${p.selector}`;
}

/** Returns the key naming the volume and record of a set of requested specs. */
export function installKey(specs: string[], registry: string): string {
  return createHash('sha256').update(JSON.stringify({ specs, registry })).digest('hex').slice(0, 16);
}

/** Returns where the host keeps the record of an install: one per engine, since each engine has its own volumes. */
export function installRecordPath(dir: string, specs: string[], registry: string, endpoint: EngineEndpoint): string {
  const engineId = createHash('sha256').update(formatEndpoint(endpoint)).digest('hex').slice(0, 8);
  return join(dir, `${installKey(specs, registry)}-${engineId}.json`);
}

/** Returns true when the record can be used without asking the registry. */
export function isRecordFresh(record: InstallRecord, packages: PackageSpec[], refreshAfterMs: number, now: number): boolean {
  if (packages.every((p) => p.kind === 'version')) return true;
  return now - record.resolvedAt < refreshAfterMs;
}

async function readRecord(path: string): Promise<InstallRecord | undefined> {
  try { return JSON.parse(await readFile(path, 'utf8')) as InstallRecord; } catch { return undefined; }
}

async function writeRecord(path: string, record: InstallRecord): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(record, null, 2));
  await rename(tmp, path);
}

interface InstallResult {
  ok: boolean;
  reason?: string;
  message?: string;
  log?: string;
  dir?: string;
  packages?: InstallRecord['packages'];
}

/** How one install container runs: what it refreshes, what the reaper removes, what stops it. */
interface InstallRun {
  refreshing: boolean;
  /** The package volume was made for this install: if this process dies, the reaper removes it. */
  newVolume: boolean;
  /** Aborting removes the install container at once. */
  stop: AbortSignal | undefined;
  /** The user's own npm proxy, read before anything was created. */
  upstreamProxy: UpstreamProxy | undefined;
}

const STOPPED: InstallResult = { ok: false, reason: 'stopped' };

/**
 * Starts an egress proxy that lets an install container reach the registry's host and port
 * (and the addresses that name has now, private ones included: the user chose that registry),
 * directly or through the user's own proxy.
 */
async function startRegistryEgress(ctx: Context, endpoint: EngineEndpoint, req: InstallRequest, name: string, upstreamProxy: UpstreamProxy | undefined): Promise<EgressAccess> {
  const url = new URL(req.registry);
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  // Through the user's proxy the name is its to resolve (it may be the only resolver that can).
  const addresses = isIP(host) || upstreamProxy ? [] : await lookup(host, { all: true }).then((list) => list.map((a) => a.address), () => []);
  const rules: OutboundRules = { insecureAllowAll: false, transports: ['tcp'], hosts: [host, ...addresses], ports: [port] };
  return openEgress(ctx, {
    server: name, profile: 'install', announce: false, endpoint, local: !req.proxyInSidecar, rules, image: req.image,
    containerName: `${name}-egress`, launcher: 'npx', upstreamProxy,
  });
}

async function runInstall(ctx: Context, endpoint: EngineEndpoint, req: InstallRequest, specs: string[], volume: string, run: InstallRun): Promise<InstallResult> {
  const { refreshing } = run;
  await Promise.all([
    createVolume(endpoint, volume, { [LABEL.managed]: 'true', [LABEL.kind]: 'packages', [LABEL.package]: specs.join(' ') }),
    createVolume(endpoint, NPM_CACHE_VOLUME, { [LABEL.managed]: 'true', [LABEL.kind]: 'npm-cache' }),
  ]);
  const mounts: MountPlan[] = [
    { type: 'volume', source: volume, target: PACKAGES_DIR, readOnly: false },
    { type: 'volume', source: NPM_CACHE_VOLUME, target: NPM_CACHE_DIR, readOnly: false },
  ];
  const env: Record<string, string> = { npm_config_cache: NPM_CACHE_DIR, npm_config_registry: req.registry };
  // A refresh asks the registry itself (not npm's cached metadata), and with a cached version
  // to fall back on, an unreachable registry must not hold the client up.
  if (refreshing) Object.assign(env, { npm_config_fetch_retries: '0', npm_config_prefer_online: 'true' });
  if (req.caFile) {
    mounts.push({ type: 'bind', source: req.caFile, target: CA_BUNDLE_PATH, readOnly: true });
    env.NODE_EXTRA_CA_CERTS = CA_BUNDLE_PATH;
    if (req.caIsNpmCafile) env.npm_config_cafile = CA_BUNDLE_PATH;
  }
  const name = `mcp-lok-install-${createHash('sha256').update(`${volume}${process.pid}${ctx.now()}`).digest('hex').slice(0, 10)}`;
  const install = ['node', '/opt/mcp-lok/install.mjs', JSON.stringify({ specs: req.packages.map(npmInstallSpec) })];
  if (run.stop?.aborted) return STOPPED;
  const egress = await startRegistryEgress(ctx, endpoint, req, name, run.upstreamProxy);
  if (run.stop?.aborted) { await egress.close(); return STOPPED; }
  mounts.push(...egress.mounts);
  Object.assign(env, EGRESS_PROXY_ENV);
  const body = buildContainerSpec({
    name,
    image: req.image,
    cmd: wrapWithEgressForwarder(install),
    env,
    mounts,
    volumesFrom: egress.volumesFrom,
    memoryBytes: INSTALL_MEMORY_BYTES,
    cpus: Math.min(2, availableParallelism()),
    pids: 512,
    nofile: DEFAULT_NOFILE,
    podman: endpoint.podman,
    // Installing needs the registry, and only it: through the egress proxy, never a network of its own.
    network: 'none',
    labels: buildLabels({ name, role: 'install', launcher: 'npx', transport: 'stdio', profile: 'install', packages: specs, image: req.image, owner: currentOwner() }),
    interactive: false,
    autoRemove: true,
  });
  const out: Buffer[] = [];
  const code = await runContainer(endpoint, name, body, {
    onStdout: (c) => out.push(c),
    onStderr: (c) => ctx.debug(c.toString('utf8').trimEnd()),
  }, {
    channel: { kind: 'attach' }, handleSignals: false, signal: run.stop, removeOnAbort: true,
    // A shim killed outright (a client giving up, even by kill -9) must not leave npm running.
    reaper: true, cleanupDir: egress.dir, cleanupVolume: run.newVolume ? volume : undefined,
  }).finally(() => egress.close());
  if (run.stop?.aborted) return STOPPED;
  const text = textLines(Buffer.concat(out).toString('utf8')).pop()?.trim() ?? '';
  try {
    return JSON.parse(text) as InstallResult;
  } catch {
    return { ok: false, reason: 'failed', message: `the install container exited with code ${code}${text ? `: ${text.slice(0, 200)}` : ''}` };
  }
}

function installError(result: InstallResult, specs: string[]): LokError {
  const what = specs.join(' ');
  switch (result.reason) {
    case 'not-found':
      return new LokError('PACKAGE_NOT_FOUND', `Package ${what} was not found in the registry.`, { exitCode: EXIT.notFound, hint: 'Check the name, or the registry in your npm configuration.' });
    case 'no-version':
      return new LokError('PACKAGE_NOT_FOUND', `No published version matches ${what}.`, { exitCode: EXIT.notFound, hint: 'Check the version or tag (`npm view NAME versions` lists them).' });
    case 'certificate':
      return new LokError('INSTALL_FAILED', `Installing ${what} failed: the registry's TLS certificate is not trusted (${result.message ?? ''}).`, { exitCode: EXIT.engine, hint: 'Pass your CA bundle with --ca-cert PATH (or set npm cafile / NODE_EXTRA_CA_CERTS).' });
    case 'network':
      return new LokError('INSTALL_FAILED', `Installing ${what} failed: the registry could not be reached (${result.message ?? ''}).`, { exitCode: EXIT.engine });
    default:
      return new LokError('INSTALL_FAILED', `Installing ${what} failed: ${result.message ?? 'unknown error'}.`, { exitCode: EXIT.engine, hint: 'Run again with --debug to see npm\'s output.' });
  }
}

/**
 * Returns an installed tree for the requested packages: the cached one when it is fresh,
 * otherwise one installed now inside a sandbox (scripts off) under a host-wide lock.
 */
export async function ensureInstalled(ctx: Context, endpoint: EngineEndpoint, req: InstallRequest): Promise<InstallRecord> {
  const specs = req.packages.map((p) => `${p.name}@${p.selector}`);
  const key = installKey(specs, req.registry);
  const recordPath = installRecordPath(ctx.paths.installs, specs, req.registry, endpoint);
  const volume = `mcp-lok-pkg-${key}`;
  const usable = async (record: InstallRecord | undefined): Promise<boolean> =>
    record !== undefined && (await volumeExists(endpoint, volume));

  const cached = await readRecord(recordPath);
  if (cached && isRecordFresh(cached, req.packages, req.refreshAfterMs, ctx.now()) && (await usable(cached))) return cached;
  if (!cached && !req.allowInstall) {
    throw new LokError('INSTALL_REFUSED', `${specs.join(' ')} is not installed and --no was given.`, { exitCode: EXIT.notFound, hint: 'Drop --no (or pass -y) to let mcp-lok install it in a sandbox.' });
  }
  return withLock(join(ctx.paths.locks, key), async () => {
    const again = await readRecord(recordPath);
    if (again && isRecordFresh(again, req.packages, req.refreshAfterMs, ctx.now()) && (await usable(again))) return again;
    // Read only when an install needs it (a warm start never fails on a proxy setting), and
    // before anything is said or created.
    const upstreamProxy = req.upstreamProxy === undefined ? undefined : parseProxyUrl(req.upstreamProxy);
    const started = ctx.now();
    if (!req.quiet) ctx.log(`mcp-lok: ${again ? 'checking for a newer' : 'installing'} ${specs.join(' ')} in a sandbox...`);
    const volumeExisted = await volumeExists(endpoint, volume);
    // Until the install is over, a stop signal removes what it made before the process exits.
    const trap = req.handleSignals ? trapStopSignals() : undefined;
    let result: InstallResult;
    try {
      result = await runInstall(ctx, endpoint, req, specs, volume, { refreshing: again !== undefined, newVolume: !volumeExisted, stop: trap?.signal, upstreamProxy });
      // A failed first install leaves nothing: the volume made for it goes too.
      if ((!result.ok || !result.dir || !result.packages) && !volumeExisted) await removeVolume(endpoint, volume).catch(() => false);
    } finally {
      trap?.release();
    }
    const signal = trap?.caught();
    if (signal) {
      throw new LokError('INTERRUPTED', `Installing ${specs.join(' ')} was stopped by ${signal}; its sandbox was removed.`, { exitCode: signalExitCode(signal) });
    }
    if (!result.ok || !result.dir || !result.packages) {
      if (again && result.reason === 'network' && (await usable(again))) {
        ctx.log(`mcp-lok: the registry could not be reached; using the cached ${again.packages.map((p) => `${p.name}@${p.version}`).join(' ')}.`);
        return again;
      }
      if (result.log) ctx.debug(result.log);
      throw installError(result, specs);
    }
    const record: InstallRecord = { specs, registry: req.registry, volume, dir: result.dir, packages: result.packages, resolvedAt: ctx.now() };
    await writeRecord(recordPath, record);
    if (!req.quiet) ctx.log(`mcp-lok: ready: ${record.packages.map((p) => `${p.name}@${p.version}`).join(' ')} (${((ctx.now() - started) / 1000).toFixed(1)} s)`);
    return record;
  }, () => { if (!req.quiet) ctx.log(`mcp-lok: waiting for another mcp-lok to finish installing ${specs.join(' ')}...`); });
}
