import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, createReadStream, existsSync } from 'node:fs';
import { access, chmod, copyFile, mkdir, mkdtemp, readFile, realpath, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, delimiter, dirname, isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import { LokError, EXIT } from '../errors.js';
import { textLines } from '../lines.js';
import type { EngineEndpoint } from '../engine/endpoint.js';
import { engineRequest } from '../engine/http.js';
import { importImage } from '../engine/images.js';
import { engineErrorText, imageExists } from '../engine/images.js';

/**
 * A stand-in for node:24-alpine where no registry answers: the host's own Node, npm and a
 * static busybox in a minimal root filesystem, imported as an image (no registry, no build).
 */
export const LOCAL_BASE_REPO = 'mcp-lok/node-local';
const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];
const IMAGE_PATH = '/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin';
const NODE_UID = 1000;
const TAG_HEX_CHARS = 12;
const PULL_HINT = 'Or make node:24-alpine available to the engine (docker pull node:24-alpine).';

/** What the stand-in base is made of, found on this machine. */
export interface HostRuntime {
  nodePath: string;
  nodeVersion: string;
  npmDir: string;
  npmVersion: string;
  busyboxPath: string;
  busyboxSize: number;
  lddPath: string;
}

const missing = (what: string, install: string): LokError =>
  new LokError('IMAGE_BUILD_FAILED', `Building a local Node base image needs ${what}; install it (Debian/Ubuntu: ${install}).`, {
    exitCode: EXIT.engine, hint: PULL_HINT,
  });
const BUSYBOX_INSTALL = 'apt-get install busybox-static';

/** Returns the host's Node, npm and static busybox, or throws saying what to install. */
export async function inspectHostRuntime(): Promise<HostRuntime> {
  if (process.platform !== 'linux') {
    throw new LokError('IMAGE_BUILD_FAILED', `Building a local Node base image needs a Linux host; this one is ${process.platform}.`, {
      exitCode: EXIT.engine, hint: PULL_HINT,
    });
  }
  const lddPath = await findOnPath('ldd', process.env.PATH);
  if (!lddPath) throw missing('ldd, which was not found on PATH', 'apt-get install libc-bin');
  const busyboxPath = BUSYBOX_CANDIDATES.find((p) => existsSync(p)) ?? (await findOnPath('busybox', process.env.PATH));
  if (!busyboxPath) throw missing(`a statically linked busybox, which was not found at ${BUSYBOX_CANDIDATES.join(' or ')}`, BUSYBOX_INSTALL);
  if (!(await isStatic(lddPath, busyboxPath))) throw missing(`a statically linked busybox, but ${busyboxPath} is dynamically linked`, BUSYBOX_INSTALL);
  const npmBin = await findOnPath('npm', process.env.PATH);
  if (!npmBin) throw missing('npm, which was not found on PATH', 'apt-get install npm');
  const npm = await findNpmPackage(await realpath(npmBin));
  if (!npm) throw missing(`npm's package directory, which was not found above ${npmBin}`, 'apt-get install npm');
  return {
    nodePath: process.execPath,
    nodeVersion: process.version,
    npmDir: npm.dir,
    npmVersion: npm.version,
    busyboxPath,
    busyboxSize: (await stat(busyboxPath)).size,
    lddPath,
  };
}

/** Returns the stand-in's tag, named after what it holds so a host upgrade makes a new one. */
export function localBaseTag(host: Pick<HostRuntime, 'nodeVersion' | 'npmVersion' | 'busyboxSize'>): string {
  const hash = createHash('sha256').update(`${host.nodeVersion}\0${host.npmVersion}\0${host.busyboxSize}`).digest('hex');
  return `${LOCAL_BASE_REPO}:${hash.slice(0, TAG_HEX_CHARS)}`;
}

/** Returns the absolute library paths (and the loader) in `ldd` output; vdso has no file. */
export function parseLddOutput(text: string): string[] {
  const paths = new Set<string>();
  for (const raw of textLines(text)) {
    const line = raw.trim();
    const target = /=>\s*(\/\S+)/.exec(line)?.[1] ?? /^(\/\S+)/.exec(line)?.[1];
    if (target) paths.add(target);
  }
  return [...paths];
}

/**
 * Returns the reference of a local stand-in for node:24-alpine, importing it into the engine
 * unless an image with the same contents is there already.
 */
export async function ensureLocalBase(endpoint: EngineEndpoint, log: (line: string) => void, host?: HostRuntime): Promise<string> {
  const runtime = host ?? (await inspectHostRuntime());
  const tag = localBaseTag(runtime);
  if (await imageExists(endpoint, tag)) return tag;
  await checkArchitecture(endpoint);
  const work = await mkdtemp(join(tmpdir(), 'mcp-lok-base-'));
  try {
    const root = join(work, 'rootfs');
    await assembleRootfs(root, runtime);
    const tarPath = join(work, 'rootfs.tar');
    await tarRootfs(root, runtime.npmDir, tarPath);
    await importRootfs(endpoint, tarPath, tag);
    log(`mcp-lok: imported the base image ${tag} (Node ${runtime.nodeVersion}, npm ${runtime.npmVersion}, busybox).`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return tag;
}

/**
 * Returns the first executable file called `name` in the folders of `path` (a PATH value),
 * as `which` does; empty entries and relative folders are skipped, so the current folder
 * never supplies a program.
 */
export async function findOnPath(name: string, path: string | undefined): Promise<string | undefined> {
  for (const dir of (path ?? '').split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    const candidate = join(dir, name);
    try {
      if (!(await stat(candidate)).isFile()) continue;
      await access(candidate, constants.X_OK);
      return candidate;
    } catch { /* not here */ }
  }
  return undefined;
}

const execFileAsync = promisify(execFile);
/** The environment with the C locale, so ldd's words are matched in English. */
const cLocale = (): NodeJS.ProcessEnv => ({ ...process.env, LC_ALL: 'C' });

/** Runs a program and returns its stdout; rejects as execFile does (exit code, stderr on the error). */
async function run(file: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  return (await execFileAsync(file, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, ...(env ? { env } : {}) })).stdout;
}

/** Returns a failed execFile's one line, as execa said it: `Command failed with exit code N: CMD` (or with the errno). */
export function commandFailure(error: unknown): string {
  const { code, cmd } = error as { code?: unknown; cmd?: unknown };
  const what = typeof cmd === 'string' ? `: ${cmd}` : '';
  if (typeof code === 'number') return `Command failed with exit code ${code}${what}`;
  if (typeof code === 'string') return `Command failed with ${code}${what}`;
  return error instanceof Error ? error.message : String(error);
}

async function isStatic(lddPath: string, binary: string): Promise<boolean> {
  // ldd exits 1 for a static binary: its words, on either stream, are the answer.
  let all: string;
  try {
    const res = await execFileAsync(lddPath, [binary], { encoding: 'utf8', env: cLocale() });
    all = res.stdout + res.stderr;
  } catch (error) {
    const e = error as { stdout?: unknown; stderr?: unknown };
    all = `${typeof e.stdout === 'string' ? e.stdout : ''}${typeof e.stderr === 'string' ? e.stderr : ''}`;
  }
  return /not a dynamic executable|statically linked/.test(all);
}

async function findNpmPackage(from: string): Promise<{ dir: string; version: string } | undefined> {
  for (let dir = dirname(from); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'npm' && typeof pkg.version === 'string') return { dir, version: pkg.version };
    } catch { /* not here; keep walking up */ }
  }
  return undefined;
}

/** The host's Node would not run on an engine of another architecture (e.g. a remote one). */
async function checkArchitecture(endpoint: EngineEndpoint): Promise<void> {
  const res = await engineRequest<{ Arch?: string; Os?: string }>(endpoint, 'GET', '/version');
  const engineArch = res.status === 200 ? res.body.Arch : undefined;
  const hostArch = ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[process.arch];
  if (engineArch && hostArch && engineArch !== hostArch) {
    throw new LokError('IMAGE_BUILD_FAILED', `Cannot build a local Node base image: this machine is ${hostArch} but the engine runs ${engineArch}.`, {
      exitCode: EXIT.engine, hint: PULL_HINT,
    });
  }
}

async function copyAt(root: string, source: string, target: string, mode?: number): Promise<void> {
  const dest = join(root, target);
  await mkdir(dirname(dest), { recursive: true });
  await copyFile(source, dest);
  if (mode !== undefined) await chmod(dest, mode);
}

async function assembleRootfs(root: string, host: HostRuntime): Promise<void> {
  for (const dir of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'usr/local/bin', 'usr/local/sbin', 'usr/local/lib/node_modules', 'etc/ssl/certs', 'run', 'var', 'home/node']) {
    await mkdir(join(root, dir), { recursive: true });
  }
  await mkdir(join(root, 'root'), { mode: 0o700 });
  await mkdir(join(root, 'tmp'));
  await chmod(join(root, 'tmp'), 0o1777);
  await chmod(join(root, 'home/node'), 0o755);
  await symlink('../run', join(root, 'var/run'));

  await copyAt(root, host.nodePath, '/usr/local/bin/node', 0o755);
  const ldd = await run(host.lddPath, [host.nodePath], cLocale());
  for (const lib of parseLddOutput(ldd)) await copyAt(root, lib, lib);

  // npm's ~2000 files are not copied here but packed straight from the host (tarRootfs):
  // creating that many small files costs seconds on some file systems.
  await symlink('../lib/node_modules/npm/bin/npm-cli.js', join(root, 'usr/local/bin/npm'));
  await symlink('../lib/node_modules/npm/bin/npx-cli.js', join(root, 'usr/local/bin/npx'));

  await copyAt(root, host.busyboxPath, '/bin/busybox', 0o755);
  const applets = textLines(await run(host.busyboxPath, ['--list'])).map((a) => a.trim());
  for (const applet of new Set(applets)) {
    if (!applet || applet === 'busybox' || applet.includes('/')) continue;
    await symlink('busybox', join(root, 'bin', applet));
  }
  await symlink('/bin/busybox', join(root, 'usr/bin/env'));
  if (!existsSync(join(root, 'bin/sh'))) await symlink('busybox', join(root, 'bin/sh'));

  await writeFile(join(root, 'etc/passwd'), `root:x:0:0:root:/root:/bin/sh\nnode:x:${NODE_UID}:${NODE_UID}:node:/home/node:/bin/sh\n`);
  await writeFile(join(root, 'etc/group'), `root:x:0:\nnode:x:${NODE_UID}:node\n`);
  await writeFile(join(root, 'etc/nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n');
}

/**
 * Packs the root filesystem plus the host's npm directory as /usr/local/lib/node_modules/npm.
 * Root owns everything but /home/node, whatever user builds it (no chown, so no root needed).
 */
async function tarRootfs(root: string, npmDir: string, tarPath: string): Promise<void> {
  const npmName = basename(npmDir);
  // GNU tar's sed syntax; `S`: leave npm's own relative symlink targets alone.
  const toNpm = `s,^${npmName.replace(/[\\.^$*[\],]/g, '\\$&')},usr/local/lib/node_modules/npm,S`;
  const asRoot = ['--numeric-owner', '--owner=0', '--group=0'];
  try {
    await run('tar', ['-cf', tarPath, ...asRoot, '--exclude=./home/node', '-C', root, '.']);
    await run('tar', ['-rf', tarPath, ...asRoot, `--transform=${toNpm}`, '-C', dirname(npmDir), npmName]);
    await run('tar', ['-rf', tarPath, '--numeric-owner', `--owner=${NODE_UID}`, `--group=${NODE_UID}`, '-C', root, './home/node']);
  } catch (error) {
    throw new LokError('IMAGE_BUILD_FAILED', `Packing the local base image failed: ${commandFailure(error)}`, {
      exitCode: EXIT.engine, hint: 'The local base needs GNU tar (Debian/Ubuntu: apt-get install tar).', cause: error,
    });
  }
}

async function importRootfs(endpoint: EngineEndpoint, tarPath: string, tag: string): Promise<void> {
  try {
    // The tag travels inside `repo` (the API allows it): Podman ignores a separate `tag`.
    await importImage(endpoint, createReadStream(tarPath), {
      repo: tag,
      changes: [`ENV PATH=${IMAGE_PATH}`, 'CMD ["node"]', 'LABEL mcp-lok=true'],
    });
  } catch (error) {
    throw new LokError('IMAGE_BUILD_FAILED', `Importing the local base image ${tag} failed: ${engineErrorText(error)}`, { exitCode: EXIT.engine, cause: error });
  }
}
