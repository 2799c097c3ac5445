import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Context } from '../app/context.js';
import { createVolume, listContainers, removeVolume, volumeExists } from '../engine/containers.js';
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
import { resolveAll, type UpstreamProxy } from '../egress/proxy.js';
import { parseProxyUrl } from './npm-config.js';
import type { PackageSpec } from '../request/package-spec.js';
import { readPin, readPinnedLockfile, updatePinCheck, writePin, writePinnedLockfile, type Pin, type PinnedPackage, type PinnedTree } from '../state/pins.js';
import { parseLockfile, topLevelEntry, treeDirOf } from './lockfile.js';
import { heldTrees } from '../state/tree-leases.js';

/** The npm cache shared by install containers (content-addressed, safe to share). */
export const NPM_CACHE_VOLUME = 'mcp-lok-npm-cache';
const INSTALL_MEMORY_BYTES = 1024 * 1024 * 1024;

/** What an install left behind on one engine, as recorded on the host. */
export interface InstallRecord {
  specs: string[];
  registry: string;
  volume: string;
  /** The tree the last start on this engine ran (a floating start's newest resolution). */
  dir: string;
  packages: Array<{ name: string; version: string; bin: unknown }>;
  resolvedAt: number;
  /** Every tree this engine's volume holds (pinned, earlier and candidate ones); absent in older records. */
  trees?: string[];
}

/** The tree a start runs: where it is, what it holds, and the pin it comes from (none when floating). */
export interface InstalledTree {
  volume: string;
  dir: string;
  packages: Array<{ name: string; version: string; bin: unknown }>;
  /** The pin's key; undefined with `--refresh-after` (floating, unpinned). */
  pinKey: string | undefined;
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
  /** Undefined: pinned (the default). A number: floating, re-resolved once the resolution is this old. */
  refreshAfterMs: number | undefined;
  /** How often a pinned package's registry is asked for a newer version (Infinity: never). */
  updateCheckMs: number;
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

/** Returns the requested specs as pins and records name them: `name@selector`, in the order given. */
export function requestedSpecs(packages: readonly PackageSpec[]): string[] {
  return packages.map((p) => `${p.name}@${p.selector}`);
}

/** Returns the key naming the volume, record and pin of a set of requested specs. */
export function installKey(specs: string[], registry: string): string {
  return createHash('sha256').update(JSON.stringify({ specs, registry })).digest('hex').slice(0, 16);
}

/** Returns the package volume of a set of requested specs (one per engine, holding each of their trees). */
export function packageVolume(specs: string[], registry: string): string {
  return `mcp-lok-pkg-${installKey(specs, registry)}`;
}

/** Returns where the host keeps the record of an install: one per engine, since each engine has its own volumes. */
export function installRecordPath(dir: string, specs: string[], registry: string, endpoint: EngineEndpoint): string {
  const engineId = createHash('sha256').update(formatEndpoint(endpoint)).digest('hex').slice(0, 8);
  return join(dir, `${installKey(specs, registry)}-${engineId}.json`);
}

/** Returns true when a floating record can be used without asking the registry. */
export function isRecordFresh(record: InstallRecord, packages: PackageSpec[], refreshAfterMs: number, now: number): boolean {
  if (packages.every((p) => p.kind === 'version')) return true;
  return now - record.resolvedAt < refreshAfterMs;
}

/** Returns true when the engine's record says its volume holds the tree `dir`. */
export function recordHoldsTree(record: InstallRecord | undefined, dir: string): boolean {
  return record !== undefined && (record.dir === dir || (record.trees ?? []).includes(dir));
}

async function readRecord(path: string): Promise<InstallRecord | undefined> {
  try { return JSON.parse(await readFile(path, 'utf8')) as InstallRecord; } catch { return undefined; }
}

/** Writes a record, the user's alone (0600 in a 0700 folder): its registry URL may carry credentials, and what it lists is what the user runs. */
async function writeRecord(path: string, record: InstallRecord): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(record, null, 2), { mode: 0o600 });
  await rename(tmp, path);
}

/** Records on the host that the engine's volume holds a tree (the trees it held before stay listed). */
async function recordTree(path: string, base: Omit<InstallRecord, 'trees'>, keepDir = false): Promise<InstallRecord> {
  const old = await readRecord(path);
  const trees = [...new Set([...(old?.trees ?? []), ...(old ? [old.dir] : []), base.dir])];
  const record = keepDir && old ? { ...old, trees: [...trees] } : { ...base, trees };
  await writeRecord(path, record);
  return record;
}

export interface InstallResult {
  ok: boolean;
  reason?: string;
  message?: string;
  log?: string;
  dir?: string;
  packages?: PinnedPackage[];
  lockfile?: string;
  newest?: Array<{ name: string; version?: string }>;
  /** The trees a prune removed. */
  removed?: string[];
}

/** How one install container runs: what it refreshes, what the reaper removes, what stops it. */
interface InstallRun {
  /** Ask the registry itself, not npm's cached metadata. */
  refreshing: boolean;
  /** The package volume to install into; undefined for a look at the registry only. */
  volume: string | undefined;
  /** The package volume was made for this install: if this process dies, the reaper removes it. */
  newVolume: boolean;
  /** Aborting removes the install container at once. */
  stop: AbortSignal | undefined;
  /** The user's own npm proxy, read before anything was created. */
  upstreamProxy: UpstreamProxy | undefined;
  /** What docker/install.mjs is asked to do (sent on its stdin). */
  request: Record<string, unknown>;
  /** Needs no registry (a prune): no egress proxy, no network at all. */
  offline?: boolean;
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
  const addresses = isIP(host) || upstreamProxy ? [] : await resolveAll(host).catch(() => []);
  const rules: OutboundRules = { insecureAllowAll: false, transports: ['tcp'], hosts: [host, ...addresses], ports: [port] };
  return openEgress(ctx, {
    server: name, profile: 'install', announce: false, endpoint, local: !req.proxyInSidecar, rules, image: req.image,
    containerName: `${name}-egress`, launcher: 'npx', upstreamProxy,
  });
}

async function runInstall(ctx: Context, endpoint: EngineEndpoint, req: InstallRequest, specs: string[], run: InstallRun): Promise<InstallResult> {
  const { volume } = run;
  await Promise.all([
    volume ? createVolume(endpoint, volume, { [LABEL.managed]: 'true', [LABEL.kind]: 'packages', [LABEL.package]: specs.join(' ') }) : undefined,
    createVolume(endpoint, NPM_CACHE_VOLUME, { [LABEL.managed]: 'true', [LABEL.kind]: 'npm-cache' }),
  ]);
  const mounts: MountPlan[] = [
    ...(volume ? [{ type: 'volume', source: volume, target: PACKAGES_DIR, readOnly: false } as const] : []),
    { type: 'volume', source: NPM_CACHE_VOLUME, target: NPM_CACHE_DIR, readOnly: false },
  ];
  const env: Record<string, string> = { npm_config_cache: NPM_CACHE_DIR, npm_config_registry: req.registry };
  // A refresh asks the registry itself (not npm's cached metadata), and with a tree to fall
  // back on, an unreachable registry must not hold the client up.
  if (run.refreshing) Object.assign(env, { npm_config_fetch_retries: '0', npm_config_prefer_online: 'true' });
  if (req.caFile) {
    mounts.push({ type: 'bind', source: req.caFile, target: CA_BUNDLE_PATH, readOnly: true });
    env.NODE_EXTRA_CA_CERTS = CA_BUNDLE_PATH;
    if (req.caIsNpmCafile) env.npm_config_cafile = CA_BUNDLE_PATH;
  }
  const name = `mcp-lok-install-${createHash('sha256').update(`${volume ?? 'view'}${process.pid}${ctx.now()}${Math.random()}`).digest('hex').slice(0, 10)}`;
  // The request goes on stdin: a lockfile can be larger than one argument may be.
  const install = ['node', '/opt/mcp-lok/install.mjs', '-'];
  const stdin = new PassThrough();
  stdin.write(`${JSON.stringify(run.request)}\n`);
  if (run.stop?.aborted) return STOPPED;
  const egress = run.offline ? undefined : await startRegistryEgress(ctx, endpoint, req, name, run.upstreamProxy);
  if (run.stop?.aborted) { await egress?.close(); return STOPPED; }
  if (egress) {
    mounts.push(...egress.mounts);
    Object.assign(env, EGRESS_PROXY_ENV);
  }
  const body = buildContainerSpec({
    name,
    image: req.image,
    cmd: egress ? wrapWithEgressForwarder(install) : install,
    env,
    mounts,
    volumesFrom: egress?.volumesFrom,
    memoryBytes: INSTALL_MEMORY_BYTES,
    cpus: Math.min(2, availableParallelism()),
    pids: 512,
    nofile: DEFAULT_NOFILE,
    podman: endpoint.podman,
    // Installing needs the registry, and only it: through the egress proxy, never a network of its own.
    network: 'none',
    labels: buildLabels({ name, role: 'install', launcher: 'npx', transport: 'stdio', profile: 'install', packages: specs, image: req.image, owner: currentOwner() }),
    interactive: true,
    autoRemove: true,
  });
  const out: Buffer[] = [];
  const code = await runContainer(endpoint, name, body, {
    // Never ended: the end of its stdin would stop the container after a grace period.
    stdin,
    onStdout: (c) => out.push(c),
    onStderr: (c) => ctx.debug(c.toString('utf8').trimEnd()),
  }, {
    channel: { kind: 'attach' }, handleSignals: false, signal: run.stop, removeOnAbort: true,
    // A shim killed outright (a client giving up, even by kill -9) must not leave npm running.
    reaper: true, cleanupDir: egress?.dir, cleanupVolume: run.newVolume ? volume : undefined,
  }).finally(() => egress?.close());
  if (run.stop?.aborted) return STOPPED;
  const text = textLines(Buffer.concat(out).toString('utf8')).pop()?.trim() ?? '';
  try {
    return JSON.parse(text) as InstallResult;
  } catch {
    return { ok: false, reason: 'failed', message: `the install container exited with code ${code}${text ? `: ${text.slice(0, 200)}` : ''}` };
  }
}

function installError(result: InstallResult, specs: string[], doing = 'Installing'): LokError {
  const what = specs.join(' ');
  switch (result.reason) {
    case 'not-found':
      return new LokError('PACKAGE_NOT_FOUND', `Package ${what} was not found in the registry.`, { exitCode: EXIT.notFound, hint: 'Check the name, or the registry in your npm configuration.' });
    case 'no-version':
      return new LokError('PACKAGE_NOT_FOUND', `No published version matches ${what}.`, { exitCode: EXIT.notFound, hint: 'Check the version or tag (`npm view NAME versions` lists them).' });
    case 'certificate':
      return new LokError('INSTALL_FAILED', `${doing} ${what} failed: the registry's TLS certificate is not trusted (${result.message ?? ''}).`, { exitCode: EXIT.engine, hint: 'Pass your CA bundle with --ca-cert PATH (or set npm cafile / NODE_EXTRA_CA_CERTS).' });
    case 'network':
      return new LokError('INSTALL_FAILED', `${doing} ${what} failed: the registry could not be reached (${result.message ?? ''}).`, { exitCode: EXIT.engine });
    default:
      return new LokError('INSTALL_FAILED', `${doing} ${what} failed: ${result.message ?? 'unknown error'}.`, { exitCode: EXIT.engine, hint: 'Run again with --debug to see npm\'s output.' });
  }
}

/** What one install into the package volume gave: the tree's directory, its requested packages and (resolving) its lockfile. */
interface TreeInstalled { dir: string; packages: PinnedPackage[]; lockfile: string | undefined }

/** How a tree is installed: resolved now (`fresh`: asking the registry itself), or exactly as a pinned lockfile says. */
type TreeSource = { kind: 'resolve'; fresh: boolean } | { kind: 'lockfile'; dir: string; lockfile: string };

/**
 * Installs a tree into the package volume in a sandbox (scripts off), removing what it made if
 * it fails or is stopped; the caller holds the install lock. Resolving, the tree's lockfile is
 * checked to name the tree's directory.
 */
async function installTree(ctx: Context, endpoint: EngineEndpoint, req: InstallRequest, specs: string[], source: TreeSource, doing: string, announce?: string): Promise<InstallResult & { ok: true } & TreeInstalled> {
  const volume = packageVolume(specs, req.registry);
  // Read only when an install needs it (a warm start never fails on a proxy setting), and
  // before anything is said or created.
  const upstreamProxy = req.upstreamProxy === undefined ? undefined : parseProxyUrl(req.upstreamProxy);
  if (announce !== undefined && !req.quiet) ctx.log(announce);
  const volumeExisted = await volumeExists(endpoint, volume);
  const request = source.kind === 'resolve'
    ? { mode: 'install', specs: req.packages.map(npmInstallSpec) }
    : { mode: 'ci', specs: req.packages.map(npmInstallSpec), lockfile: source.lockfile, dir: source.dir };
  // Until the install is over, a stop signal removes what it made before the process exits.
  const trap = req.handleSignals ? trapStopSignals() : undefined;
  let result: InstallResult;
  try {
    result = await runInstall(ctx, endpoint, req, specs, {
      refreshing: source.kind === 'resolve' && source.fresh, volume, newVolume: !volumeExisted, stop: trap?.signal, upstreamProxy, request,
    });
    if (result.ok && source.kind === 'resolve') result = checkResolvedTree(result);
    // A failed first install leaves nothing: the volume made for it goes too.
    if ((!result.ok || !result.dir || !result.packages) && !volumeExisted) await removeVolume(endpoint, volume).catch(() => false);
  } finally {
    trap?.release();
  }
  const signal = trap?.caught();
  if (signal) {
    throw new LokError('INTERRUPTED', `${doing} ${specs.join(' ')} was stopped by ${signal}; its sandbox was removed.`, { exitCode: signalExitCode(signal) });
  }
  if (!result.ok || !result.dir || !result.packages) {
    if (result.log) ctx.debug(result.log);
    throw Object.assign(installError(result, specs, doing), { installResult: result });
  }
  // A volume made now holds this tree only: the trees the record listed went with the old one
  // (removed by hand, say), and a rollback to one of them must install it again, not run it.
  if (!volumeExisted) await rm(installRecordPath(ctx.paths.installs, specs, req.registry, endpoint), { force: true });
  return { ...result, ok: true, dir: result.dir, packages: result.packages, lockfile: result.lockfile };
}

/**
 * Returns the result with each requested package's version and integrity as npm's lockfile
 * records them (the registry's word), or a failure when its lockfile is missing, unreadable,
 * names another tree or lacks a requested package. A package's own package.json is its
 * tarball's word: its version may be anything (a higher one that silences update notices and
 * lies in `list`, or terminal escapes for the `ready:` line).
 */
export function checkResolvedTree(result: InstallResult): InstallResult {
  try {
    if (result.lockfile === undefined) throw new Error('npm wrote no lockfile');
    const lock = parseLockfile(result.lockfile);
    if (treeDirOf(lock) !== result.dir) throw new Error('the lockfile does not name the tree');
    // A reinstall from the lockfile (another engine, a removed volume) checks each tarball against
    // its integrity: a package the registry gave none for could be swapped then, unseen.
    const unchecked = lock.entries.filter((e) => e.integrity === '' && !e.bundled);
    if (unchecked.length > 0) throw new Error(`the registry gave no integrity for ${unchecked.slice(0, 3).map((e) => JSON.stringify(`${e.name}@${e.version}`)).join(', ')}${unchecked.length > 3 ? ` and ${unchecked.length - 3} more` : ''}, so a reinstall could not check it`);
    const packages = (result.packages ?? []).map((p) => {
      const entry = typeof p.name === 'string' ? topLevelEntry(lock, p.name) : undefined;
      if (!entry) throw new Error(`the lockfile does not hold ${JSON.stringify(String(p.name)).slice(0, 100)}`);
      return { ...p, version: entry.version, integrity: entry.integrity };
    });
    return { ...result, packages };
  } catch (error) {
    return { ok: false, reason: 'failed', message: `the installed tree cannot be pinned: ${(error as Error).message}` };
  }
}

const shown = (packages: ReadonlyArray<{ name: string; version: string }>): string => packages.map((p) => `${p.name}@${p.version}`).join(' ');

/**
 * Returns an installed tree for the requested packages. Pinned (the default): the pin's tree,
 * at once when this engine's volume holds it, else installed exactly from the pinned lockfile;
 * the first install of a spec makes the pin. Floating (`--refresh-after`): the cached tree
 * when it is fresh, otherwise one resolved now. Installs run in a sandbox (scripts off) under a
 * host-wide lock.
 */
/** How a pinned request finds its tree: the pin's key, its record and volume. */
function pinnedLookup(ctx: Context, endpoint: EngineEndpoint, req: Pick<InstallRequest, 'packages' | 'registry'>) {
  const specs = requestedSpecs(req.packages);
  const key = installKey(specs, req.registry);
  const recordPath = installRecordPath(ctx.paths.installs, specs, req.registry, endpoint);
  const volume = packageVolume(specs, req.registry);
  const fromPin = (pin: Pin): InstalledTree => ({ volume, dir: pin.current.dir, packages: pin.current.packages, pinKey: key });
  const present = async (pin: Pin): Promise<boolean> => recordHoldsTree(await readRecord(recordPath), pin.current.dir) && (await volumeExists(endpoint, volume));
  return { specs, key, recordPath, volume, fromPin, present };
}

/**
 * Returns the pinned tree when it is installed on this engine (a warm start: one file read
 * and one engine round trip, no image needed), else undefined: `ensureInstalled` then installs.
 */
export async function findPinnedTree(ctx: Context, endpoint: EngineEndpoint, req: Pick<InstallRequest, 'packages' | 'registry' | 'refreshAfterMs'>): Promise<InstalledTree | undefined> {
  if (req.refreshAfterMs !== undefined) return undefined;
  const { key, fromPin, present } = pinnedLookup(ctx, endpoint, req);
  const pin = readPin(ctx.paths.state, key);
  return pin && (await present(pin)) ? fromPin(pin) : undefined;
}

export async function ensureInstalled(ctx: Context, endpoint: EngineEndpoint, req: InstallRequest): Promise<InstalledTree> {
  if (req.refreshAfterMs !== undefined) return ensureFloating(ctx, endpoint, req, req.refreshAfterMs);
  const { specs, key, recordPath, volume, fromPin, present } = pinnedLookup(ctx, endpoint, req);
  const pin = readPin(ctx.paths.state, key);
  if (pin && (await present(pin))) return fromPin(pin);
  if (!pin && !req.allowInstall) {
    throw new LokError('INSTALL_REFUSED', `${specs.join(' ')} is not installed and --no was given.`, { exitCode: EXIT.notFound, hint: 'Drop --no (or pass -y) to let mcp-lok install it in a sandbox.' });
  }
  return withLock(join(ctx.paths.locks, key), async () => {
    const again = readPin(ctx.paths.state, key);
    if (again && (await present(again))) return fromPin(again);
    const started = ctx.now();
    if (again) {
      await reinstallPinnedTree(ctx, endpoint, req, specs, again, again.current);
      return fromPin(again);
    }
    const tree = await installTree(ctx, endpoint, req, specs, { kind: 'resolve', fresh: false }, 'Installing', `mcp-lok: installing ${specs.join(' ')} in a sandbox...`);
    const current: PinnedTree = { dir: tree.dir, packages: tree.packages, pinnedAt: ctx.now() };
    writePinnedLockfile(ctx.paths.state, key, tree.dir, tree.lockfile ?? '');
    writePin(ctx.paths.state, { key, specs, registry: req.registry, current, history: [] });
    // The install asked the registry just now: the first look for a newer version is a check interval away.
    updatePinCheck(ctx.paths.state, key, { checkedAt: ctx.now(), newest: tree.packages.map(({ name, version }) => ({ name, version })) });
    await recordTree(recordPath, { specs, registry: req.registry, volume, dir: tree.dir, packages: tree.packages, resolvedAt: ctx.now() });
    if (!req.quiet) ctx.log(`mcp-lok: ready: ${shown(tree.packages)} (${((ctx.now() - started) / 1000).toFixed(1)} s), pinned: later starts run this same tree (\`mcp-lok update\` reviews newer versions).`);
    return fromPin({ key, specs, registry: req.registry, current, history: [] });
  }, () => { if (!req.quiet) ctx.log(`mcp-lok: waiting for another mcp-lok to finish installing ${specs.join(' ')}...`); });
}

/**
 * Installs a pinned tree into this engine's volume exactly as its kept lockfile says (npm ci,
 * never resolving), for an engine that does not hold it (a new engine, a removed volume).
 * The caller holds the install lock.
 */
export async function reinstallPinnedTree(ctx: Context, endpoint: EngineEndpoint, req: InstallRequest, specs: string[], pin: Pin, tree: PinnedTree): Promise<void> {
  const what = shown(tree.packages);
  const lockfile = readPinnedLockfile(ctx.paths.state, pin.key, tree.dir);
  if (lockfile === undefined) {
    throw new LokError('INSTALL_FAILED', `The pinned ${what} is not installed on this engine, and its lockfile is missing, so it cannot be installed again exactly.`, {
      exitCode: EXIT.engine, hint: `Review and pin the current version with \`mcp-lok update ${pin.current.packages[0]?.name ?? ''}\`.`,
    });
  }
  let matches = false;
  try { matches = treeDirOf(parseLockfile(lockfile)) === tree.dir; } catch { matches = false; }
  if (!matches) {
    throw new LokError('INSTALL_FAILED', `The pinned ${what} is not installed on this engine, and its kept lockfile no longer describes the pinned tree (it was changed), so it is not installed.`, {
      exitCode: EXIT.engine, hint: `Review and pin what the registry has now with \`mcp-lok update ${pin.current.packages[0]?.name ?? ''}\`.`,
    });
  }
  const started = ctx.now();
  let done: TreeInstalled;
  try {
    done = await installTree(ctx, endpoint, req, specs, { kind: 'lockfile', dir: tree.dir, lockfile }, 'Installing the pinned', `mcp-lok: installing the pinned ${what} from its lockfile in a sandbox...`);
  } catch (error) {
    if (!(error instanceof LokError) || error.code === 'INTERRUPTED') throw error;
    throw new LokError('INSTALL_FAILED', `Installing the pinned ${what} again from its lockfile failed: ${error.message.replace(/^Installing the pinned .*? failed: /, '').replace(/\.$/, '')}.`, {
      exitCode: EXIT.engine, hint: `Check that the registry ${req.registry} can be reached (run again with --debug for npm's output); \`mcp-lok update ${pin.current.packages[0]?.name ?? ''}\` reviews a newer version instead.`,
    });
  }
  const recordPath = installRecordPath(ctx.paths.installs, specs, req.registry, endpoint);
  await recordTree(recordPath, { specs, registry: req.registry, volume: packageVolume(specs, req.registry), dir: done.dir, packages: tree.packages, resolvedAt: ctx.now() });
  if (!req.quiet) ctx.log(`mcp-lok: ready: ${what}, as pinned (${((ctx.now() - started) / 1000).toFixed(1)} s)`);
}

/**
 * Resolves the requested specs now, asking the registry itself, into a new tree of the package
 * volume beside the ones it holds (`mcp-lok update`'s candidate). The pin is not touched. The
 * caller holds the install lock.
 */
export async function installCandidate(ctx: Context, endpoint: EngineEndpoint, req: InstallRequest): Promise<TreeInstalled & { lockfile: string }> {
  const specs = requestedSpecs(req.packages);
  const tree = await installTree(ctx, endpoint, req, specs, { kind: 'resolve', fresh: true }, 'Installing');
  const recordPath = installRecordPath(ctx.paths.installs, specs, req.registry, endpoint);
  await recordTree(recordPath, { specs, registry: req.registry, volume: packageVolume(specs, req.registry), dir: tree.dir, packages: tree.packages, resolvedAt: ctx.now() }, true);
  return { ...tree, lockfile: tree.lockfile ?? '' };
}

/** Returns the trees of a package volume that its containers run now (read from their command lines). */
async function treesInUse(endpoint: EngineEndpoint, volume: string): Promise<string[]> {
  const containers = await listContainers(endpoint, [`${LABEL.managed}=true`]);
  const tree = new RegExp(`${PACKAGES_DIR}/([0-9a-f]{16})/`, 'g');
  return containers
    .filter((c) => (c.Mounts ?? []).some((m) => m.Type === 'volume' && m.Name === volume))
    .flatMap((c) => [...(c.Command ?? '').matchAll(tree)].map((m) => m[1] as string));
}

/**
 * Removes from a pin's package volume the trees this engine's record lists that `keep` does not
 * name, unless it is the record's latest (what a floating start runs), a container of the
 * volume runs it now or a live process holds it (state/tree-leases.ts), and forgets them in
 * the record. Only trees the record lists: another mcp-lok home (another user of the same
 * engine) has its own record and pin, and may run the others. Starts no container when there
 * is nothing to remove. The caller holds the install lock. Returns the trees removed.
 */
export async function pruneTrees(ctx: Context, endpoint: EngineEndpoint, req: InstallRequest, keep: readonly string[]): Promise<string[]> {
  const specs = requestedSpecs(req.packages);
  const volume = packageVolume(specs, req.registry);
  const recordPath = installRecordPath(ctx.paths.installs, specs, req.registry, endpoint);
  const record = await readRecord(recordPath);
  if (!record) return [];
  const unpinned = [...new Set(record.trees ?? [])].filter((dir) => !keep.includes(dir) && dir !== record.dir);
  if (unpinned.length === 0 || !(await volumeExists(endpoint, volume))) return [];
  // Run by a container now, or held by a process that will start one (a server's next session).
  const inUse = [...(await treesInUse(endpoint, volume)), ...heldTrees(ctx.paths.state, volume)];
  const remove = unpinned.filter((dir) => !inUse.includes(dir));
  if (remove.length === 0) return [];
  const result = await runInstall(ctx, endpoint, req, specs, {
    refreshing: false, volume, newVolume: false, stop: undefined, upstreamProxy: undefined, request: { mode: 'prune', remove }, offline: true,
  });
  if (!result.ok) throw installError(result, specs, 'Removing the unpinned trees of');
  const removed = result.removed ?? [];
  const now = await readRecord(recordPath);
  if (now) await writeRecord(recordPath, { ...now, trees: (now.trees ?? []).filter((dir) => !removed.includes(dir)) });
  return removed;
}

/** Returns true when this engine's volume holds a tree, as far as its record and the engine say. */
export async function engineHoldsTree(ctx: Context, endpoint: EngineEndpoint, specs: string[], registry: string, dir: string): Promise<boolean> {
  const record = await readRecord(installRecordPath(ctx.paths.installs, specs, registry, endpoint));
  return recordHoldsTree(record, dir) && (await volumeExists(endpoint, packageVolume(specs, registry)));
}

/**
 * Returns the newest version each requested spec matches, as the registry says now: asked by
 * npm in a sandbox through the same egress as installs (the user's proxy, CA and registry),
 * never from this machine directly. Aborting `stop` removes the container at once.
 */
export async function findNewestVersions(ctx: Context, endpoint: EngineEndpoint, req: InstallRequest, stop: AbortSignal): Promise<Array<{ name: string; version: string | undefined }>> {
  const specs = requestedSpecs(req.packages);
  const upstreamProxy = req.upstreamProxy === undefined ? undefined : parseProxyUrl(req.upstreamProxy);
  const result = await runInstall(ctx, endpoint, req, specs, {
    refreshing: true, volume: undefined, newVolume: false, stop, upstreamProxy, request: { mode: 'view', specs: req.packages.map(npmInstallSpec) },
  });
  if (!result.ok || !result.newest) {
    if (result.log) ctx.debug(result.log);
    throw installError(result, specs, 'Looking for a newer version of');
  }
  return result.newest.map((n) => ({ name: n.name, version: n.version }));
}

/** Floating (`--refresh-after`): the cached tree while its resolution is fresh, else one resolved now. */
async function ensureFloating(ctx: Context, endpoint: EngineEndpoint, req: InstallRequest, refreshAfterMs: number): Promise<InstalledTree> {
  const specs = requestedSpecs(req.packages);
  const key = installKey(specs, req.registry);
  const recordPath = installRecordPath(ctx.paths.installs, specs, req.registry, endpoint);
  const volume = packageVolume(specs, req.registry);
  const usable = async (record: InstallRecord | undefined): Promise<boolean> =>
    record !== undefined && (await volumeExists(endpoint, volume));
  const floating = (record: InstallRecord): InstalledTree => ({ volume, dir: record.dir, packages: record.packages, pinKey: undefined });

  const cached = await readRecord(recordPath);
  if (cached && isRecordFresh(cached, req.packages, refreshAfterMs, ctx.now()) && (await usable(cached))) return floating(cached);
  if (!cached && !req.allowInstall) {
    throw new LokError('INSTALL_REFUSED', `${specs.join(' ')} is not installed and --no was given.`, { exitCode: EXIT.notFound, hint: 'Drop --no (or pass -y) to let mcp-lok install it in a sandbox.' });
  }
  return withLock(join(ctx.paths.locks, key), async () => {
    const again = await readRecord(recordPath);
    if (again && isRecordFresh(again, req.packages, refreshAfterMs, ctx.now()) && (await usable(again))) return floating(again);
    const started = ctx.now();
    let tree: TreeInstalled;
    try {
      tree = await installTree(ctx, endpoint, req, specs, { kind: 'resolve', fresh: again !== undefined }, 'Installing', `mcp-lok: ${again ? 'checking for a newer' : 'installing'} ${specs.join(' ')} in a sandbox...`);
    } catch (error) {
      const result = (error as { installResult?: InstallResult }).installResult;
      if (again && result?.reason === 'network' && (await usable(again))) {
        ctx.log(`mcp-lok: the registry could not be reached; using the cached ${shown(again.packages)}.`);
        return floating(again);
      }
      throw error;
    }
    const record = await recordTree(recordPath, { specs, registry: req.registry, volume, dir: tree.dir, packages: tree.packages, resolvedAt: ctx.now() });
    if (!req.quiet) ctx.log(`mcp-lok: ready: ${shown(record.packages)} (${((ctx.now() - started) / 1000).toFixed(1)} s)`);
    return floating(record);
  }, () => { if (!req.quiet) ctx.log(`mcp-lok: waiting for another mcp-lok to finish installing ${specs.join(' ')}...`); });
}
