// A server's persistent home: an engine volume that only this server's containers mount at
// /home/node, owned by the sandbox user, where nothing written can be executed where the
// engine allows it. The engine creates a volume owned by root, so it is made the user's once,
// when it is made, without running anything as root and without adding a capability:
// - Docker: the engine itself extracts an archive holding the volume's root folder, owned by the
//   user, into a container that never starts; and the home is an overlay volume mounted
//   `noexec,nosuid,nodev` (Docker cannot mount a volume `noexec` otherwise), whose files live in
//   a second volume, NAME-data. Where the overlay cannot be mounted (rootless engines, a data
//   folder on overlayfs), the home is a plain volume where programs can run, and that is said.
// - Podman: a new volume first mounted where the image has no folder is given to the
//   container's user; `noexec` is an option of each container's mount.
// A short container of mcp-lok's image, as the sandbox user, then checks the result.
import { createHash } from 'node:crypto';
import { access, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../app/context.js';
import {
  createContainer, createVolume, inspectVolume, putArchive, removeContainer, removeVolume, startContainer, waitContainer, type VolumeInfo,
} from '../engine/containers.js';
import { formatEndpoint, type EngineEndpoint } from '../engine/endpoint.js';
import { packTar, type TarFile } from '../engine/tar.js';
import { LokError, EXIT } from '../errors.js';
import { buildContainerSpec, type HomeVolume, type SandboxPlan } from '../sandbox/build-spec.js';
import { DEFAULT_NOFILE, HOME_INIT_DIR, type SandboxUser } from '../sandbox/hardening.js';
import { LABEL, buildLabels } from '../sandbox/labels.js';
import { currentOwner } from '../state/owner.js';
import { withLock } from '../state/lock.js';
import { shortReason } from './images.js';

/**
 * A server's persistent home, as planned (app/plan.ts planHome): one engine volume per package
 * (or image repository) and `--name`, for one sandbox user, so it is never shared with another
 * package or user.
 */
export interface HomePlan {
  volume: string;
  labels: Record<string, string>;
  user: SandboxUser;
  /** What it belongs to, in words: `@scope/pkg` or `@scope/pkg (--name memory)`. */
  owner: string;
  /** Say on stderr when it is made (not with `-q`). */
  announce: boolean;
}

/** The check's exit codes: usable and `noexec`; usable, programs can run; not the user's to write. */
const USABLE = 0;
const EXEC_ALLOWED = 3;
const NOT_WRITABLE = 4;

/**
 * Run as the sandbox user on the home mounted at $1: makes it private (0700), proves the user
 * can write it, and exits 0 when the mount is `noexec`, 3 when it is not. Through busybox by
 * its absolute path, as the mount pins do.
 */
const CHECK_SCRIPT = '/bin/busybox chmod 700 "$1" && [ -w "$1" ] || exit 4; T="$1" /bin/busybox awk \'$2 == ENVIRON["T"] { o = $4 } END { exit index("," o ",", ",noexec,") ? 0 : 3 }\' /proc/self/mounts';

/** Returns the volume that holds the files of a Docker home volume mounted `noexec` (an overlay over it). */
export function homeDataVolume(volume: string): string {
  return `${volume}-data`;
}

/** Returns where this machine notes that a home volume on an engine was made and checked. */
export function homeRecordPath(stateDir: string, volume: string, endpoint: EngineEndpoint): string {
  const engineId = createHash('sha256').update(formatEndpoint(endpoint)).digest('hex').slice(0, 8);
  return join(stateDir, 'homes', `${volume}-${engineId}.json`);
}

/** Returns the home a volume's labels describe, or undefined when the volume is not an mcp-lok home. */
function asHome(info: VolumeInfo): HomeVolume | undefined {
  if (info.Labels?.[LABEL.managed] !== 'true' || info.Labels[LABEL.kind] !== 'home') return undefined;
  return { volume: info.Name, noexec: info.Labels[LABEL.homeNoexec] === 'true' };
}

/** The labels that say whose home a volume is: its package or image, `--name`, sandbox user and scope. */
const OWNER_LABELS = [LABEL.package, LABEL.image, LABEL.name, LABEL.homeUser, LABEL.homeScope] as const;

/**
 * Returns why an mcp-lok home volume of the plan's name is not this server's, or undefined when
 * its labels name the same package (or image), `--name`, user and scope. The name holds only 48
 * bits of a hash: a package named to match another's would otherwise be given its home.
 */
export function foreignHome(info: VolumeInfo, home: HomePlan): string | undefined {
  const labels = info.Labels ?? {};
  if (OWNER_LABELS.every((key) => labels[key] === home.labels[key])) return undefined;
  const owner = labels[LABEL.package] ?? labels[LABEL.image] ?? 'another server';
  return `a volume of that name is the home of ${JSON.stringify(owner)}${labels[LABEL.name] !== undefined ? ` (--name ${JSON.stringify(labels[LABEL.name])})` : ''}, not of this server`;
}

const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

/**
 * Returns the server's home volume, making it on first use (under a host-wide lock, so two
 * clients starting the same server make it once). A warm start costs one inspect request and
 * one file check. `overlay: false` makes a plain Docker volume, as where the overlay fails (tests).
 */
export async function ensureHome(ctx: Context, endpoint: EngineEndpoint, home: HomePlan, image: string, options: { overlay?: boolean } = {}): Promise<HomeVolume> {
  const record = homeRecordPath(ctx.paths.state, home.volume, endpoint);
  const ready = async (): Promise<{ info: VolumeInfo | undefined; home: HomeVolume | undefined }> => {
    const info = await inspectVolume(endpoint, home.volume);
    const foreign = info && asHome(info) ? foreignHome(info, home) : undefined;
    if (foreign) {
      throw new LokError('ENGINE_ERROR', `The home volume ${home.volume} of ${home.owner} cannot be used: ${foreign}.`, {
        exitCode: EXIT.engine, hint: 'Keep it (it holds that server\'s files), and give this server a home of its own with --name NAME, or run it with --ephemeral.',
      });
    }
    return { info, home: info && (await exists(record)) ? asHome(info) : undefined };
  };
  const first = await ready();
  if (first.home) return first.home;
  return withLock(join(ctx.paths.locks, home.volume), async () => {
    const again = await ready();
    if (again.home) return again.home;
    const made = again.info ? await checkExisting(ctx, endpoint, home, image, again.info) : await makeHome(ctx, endpoint, home, image, options.overlay ?? true);
    await mkdir(join(record, '..'), { recursive: true });
    const tmp = `${record}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify({ volume: made.volume, noexec: made.noexec, owner: home.owner })}\n`);
    await rename(tmp, record);
    return made;
  });
}

/** Makes the home: a `noexec` one where the engine can mount it so, else a plain one, said on stderr. */
async function makeHome(ctx: Context, endpoint: EngineEndpoint, home: HomePlan, image: string, overlay: boolean): Promise<HomeVolume> {
  const noexec = endpoint.podman ? await tryPodmanHome(ctx, endpoint, home, image) : overlay ? await tryOverlayHome(ctx, endpoint, home, image) : undefined;
  if (noexec) {
    if (home.announce) ctx.log(`mcp-lok: keeping the home of ${home.owner} in the volume ${home.volume} (\`mcp-lok image\` lists it; --ephemeral keeps none).`);
    return noexec;
  }
  const plain: HomeVolume = { volume: home.volume, noexec: false };
  await createVolume(endpoint, home.volume, { ...home.labels, [LABEL.homeNoexec]: 'false' });
  try {
    if (!endpoint.podman) await archiveInto(endpoint, home.volume, home.user, image, [{ name: 'home', mode: 0o700, uid: home.user.uid, gid: home.user.gid }]);
    const code = await checkHome(endpoint, plain, home.user, image);
    if (code !== USABLE && code !== EXEC_ALLOWED) throw unusable(home, `its check exited with code ${code}`);
  } catch (error) {
    await removeVolume(endpoint, home.volume).catch(() => false);
    throw error instanceof LokError ? error : unusable(home, shortReason(error));
  }
  ctx.log(`mcp-lok: keeping the home of ${home.owner} in the volume ${home.volume}, which this engine cannot mount noexec: programs the server writes there can run, at this start and later ones (--ephemeral keeps an in-memory home where they cannot).`);
  return plain;
}

/**
 * Docker: the files in NAME-data (folders `upper` owned by the user, `work` and `lower`), and
 * NAME an overlay over them mounted `noexec,nosuid,nodev` by the engine's local driver.
 * Returns undefined, having removed both, when the engine cannot mount such an overlay (or
 * mounts it without `noexec`); any other failure is an error.
 */
async function tryOverlayHome(ctx: Context, endpoint: EngineEndpoint, home: HomePlan, image: string): Promise<HomeVolume | undefined> {
  const data = homeDataVolume(home.volume);
  const made: HomeVolume = { volume: home.volume, noexec: true };
  const removeBoth = async (): Promise<void> => {
    await removeVolume(endpoint, home.volume).catch(() => false);
    await removeVolume(endpoint, data).catch(() => false);
  };
  let base: string;
  try {
    await createVolume(endpoint, data, { [LABEL.managed]: 'true', [LABEL.kind]: 'home-data', [LABEL.homeOf]: home.volume, [LABEL.homeUser]: home.labels[LABEL.homeUser] ?? '' });
    const { uid, gid } = home.user;
    await archiveInto(endpoint, data, home.user, image, [
      { name: 'home/upper', mode: 0o700, uid, gid },
      { name: 'home/work', mode: 0o700 },
      { name: 'home/lower', mode: 0o755 },
    ]);
    base = (await inspectVolume(endpoint, data))?.Mountpoint ?? '';
  } catch (error) {
    await removeBoth();
    throw unusable(home, shortReason(error));
  }
  let reason: string;
  // Overlay options are a comma-separated list of key=value: a path with , : = or space cannot be one.
  if (!base.startsWith('/') || /[,:=\s\\]/.test(base)) {
    reason = `its folder ${JSON.stringify(base)} cannot be named in overlay options`;
  } else {
    let code: number | undefined;
    try {
      await createVolume(endpoint, home.volume, { ...home.labels, [LABEL.homeNoexec]: 'true' }, {
        type: 'overlay', device: 'overlay', o: `lowerdir=${base}/lower,upperdir=${base}/upper,workdir=${base}/work,noexec,nosuid,nodev`,
      });
      code = await checkHome(endpoint, made, home.user, image);
      reason = code === EXEC_ALLOWED ? 'the engine did not apply noexec' : `its check exited with code ${code}`;
    } catch (error) {
      // The engine mounts a volume when a container starts: this is where a kernel or an engine refuses the overlay.
      reason = shortReason(error);
    }
    if (code === USABLE) return made;
    if (code !== undefined && code !== EXEC_ALLOWED) {
      await removeBoth();
      throw unusable(home, reason);
    }
  }
  ctx.debug(`mcp-lok: no noexec overlay for ${home.volume}: ${reason}`);
  await removeBoth();
  return undefined;
}

/** Podman: a plain volume, given to the user by its first mount, mounted `noexec` by each container. Undefined (removed) when `noexec` does not hold. */
async function tryPodmanHome(ctx: Context, endpoint: EngineEndpoint, home: HomePlan, image: string): Promise<HomeVolume | undefined> {
  const made: HomeVolume = { volume: home.volume, noexec: true };
  await createVolume(endpoint, home.volume, { ...home.labels, [LABEL.homeNoexec]: 'true' });
  let code: number;
  try {
    code = await checkHome(endpoint, made, home.user, image);
  } catch (error) {
    await removeVolume(endpoint, home.volume).catch(() => false);
    throw unusable(home, shortReason(error));
  }
  if (code === USABLE) return made;
  await removeVolume(endpoint, home.volume).catch(() => false);
  if (code !== EXEC_ALLOWED) throw unusable(home, `its check exited with code ${code}`);
  ctx.debug(`mcp-lok: Podman did not mount ${home.volume} noexec`);
  return undefined;
}

/**
 * Checks a home this machine has no note of (made from another account, or by a start that
 * was killed while making it): the user must be able to write it, and a plain Docker volume is
 * given to the user again. Never removes it: it may hold the server's files.
 */
async function checkExisting(ctx: Context, endpoint: EngineEndpoint, home: HomePlan, image: string, info: VolumeInfo): Promise<HomeVolume> {
  const found = asHome(info);
  if (!found) throw unusable(home, 'a volume of that name exists and is not an mcp-lok home');
  ctx.debug(`mcp-lok: checking the home volume ${home.volume}`);
  let code = await checkHome(endpoint, found, home.user, image).catch((error: unknown) => { throw unusable(home, shortReason(error)); });
  if (code === NOT_WRITABLE && !endpoint.podman && info.Options?.type !== 'overlay') {
    await archiveInto(endpoint, home.volume, home.user, image, [{ name: 'home', mode: 0o700, uid: home.user.uid, gid: home.user.gid }]);
    code = await checkHome(endpoint, found, home.user, image);
  }
  if (code === USABLE || (code === EXEC_ALLOWED && !found.noexec)) return found;
  throw unusable(home, code === NOT_WRITABLE ? 'the sandbox user cannot write it' : code === EXEC_ALLOWED ? 'it is not mounted noexec as made' : `its check exited with code ${code}`);
}

function unusable(home: HomePlan, why: string): LokError {
  return new LokError('ENGINE_ERROR', `The home volume ${home.volume} of ${home.owner} cannot be used: ${why}.`, {
    exitCode: EXIT.engine, hint: `Remove it with \`mcp-lok image rm ${home.volume}\` (its files go with it) to have it made again, or run with --ephemeral.`,
  });
}

/** The parts of a helper container's plan that never change: no network, small limits, mcp-lok's labels. */
function helperPlan(name: string, image: string, user: SandboxUser, endpoint: EngineEndpoint): Omit<SandboxPlan, 'cmd' | 'mounts'> {
  return {
    name, user, image, env: {}, memoryBytes: 64 * 1024 * 1024, cpus: 1, pids: 16, nofile: DEFAULT_NOFILE, podman: endpoint.podman,
    network: 'none',
    labels: buildLabels({ name, role: 'init', launcher: 'npx', transport: 'stdio', profile: 'init', packages: [], image, owner: currentOwner() }),
    interactive: false, autoRemove: false,
  };
}

const helperName = (volume: string): string => `${volume.slice(0, 48)}-init-${createHash('sha256').update(`${volume}${process.pid}${Date.now()}`).digest('hex').slice(0, 6)}`;

/**
 * Has the engine extract folders, with their owners and modes, into a volume: in a container
 * that is created and never started, the volume mounted at HOME_INIT_DIR/home inside an
 * anonymous one at HOME_INIT_DIR (the root filesystem stays read-only, and extracting
 * `home` there sets the volume's own root). The container goes, its anonymous volume with it.
 */
async function archiveInto(endpoint: EngineEndpoint, volume: string, user: SandboxUser, image: string, dirs: Array<Omit<TarFile, 'content'>>): Promise<void> {
  const name = helperName(volume);
  const body = buildContainerSpec({
    ...helperPlan(name, image, user, endpoint), cmd: ['/bin/true'],
    mounts: [
      { type: 'volume', source: '', target: HOME_INIT_DIR, readOnly: false },
      { type: 'volume', source: volume, target: `${HOME_INIT_DIR}/home`, readOnly: false, noCopy: true },
    ],
  });
  const id = await createContainer(endpoint, name, body);
  try {
    await putArchive(endpoint, id, HOME_INIT_DIR, packTar(dirs.map((d) => ({ ...d, content: Buffer.alloc(0), directory: true }))));
  } finally {
    await removeContainer(endpoint, id).catch(() => {});
  }
}

/** Runs the check as the sandbox user with the home mounted where the image has no folder; returns its exit code. */
async function checkHome(endpoint: EngineEndpoint, home: HomeVolume, user: SandboxUser, image: string): Promise<number> {
  const name = helperName(home.volume);
  const body = buildContainerSpec({
    ...helperPlan(name, image, user, endpoint), cmd: ['/bin/sh', '-c', CHECK_SCRIPT, 'mcp-lok-home', HOME_INIT_DIR],
    mounts: [], home, homeTarget: HOME_INIT_DIR,
  });
  const id = await createContainer(endpoint, name, body);
  try {
    const exited = waitContainer(endpoint, id);
    exited.catch(() => {});
    await startContainer(endpoint, id);
    return await exited;
  } finally {
    await removeContainer(endpoint, id).catch(() => {});
  }
}

/**
 * Removes a home volume, then the files behind it (NAME-data, only when its labels say it holds
 * this home's files: a volume of that name can be anyone's) and this machine's note of it;
 * returns false, removing nothing, while a container still uses it.
 */
export async function removeHomeVolume(endpoint: EngineEndpoint, volume: string, stateDir: string): Promise<boolean> {
  if (!(await removeVolume(endpoint, volume)) && (await inspectVolume(endpoint, volume))) return false;
  const data = await inspectVolume(endpoint, homeDataVolume(volume));
  const labels = data?.Labels ?? {};
  if (data && labels[LABEL.managed] === 'true' && labels[LABEL.kind] === 'home-data' && labels[LABEL.homeOf] === volume) await removeVolume(endpoint, data.Name);
  await rm(homeRecordPath(stateDir, volume, endpoint), { force: true });
  return true;
}
