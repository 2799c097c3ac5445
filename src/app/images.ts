import { randomBytes } from 'node:crypto';
import {
  createCopyContainer, getArchive, listImages, listVolumes, removeContainer, removeImage, removeVolume, type VolumeSummary,
} from '../engine/containers.js';
import type { EngineEndpoint } from '../engine/endpoint.js';
import { buildImage as buildEngineImage, engineErrorText, imageExists, pushImage } from '../engine/images.js';
import { encodeRegistryAuth, loadRegistryAuth, registryOf } from '../engine/registry-auth.js';
import { packTar, stripTarEnd } from '../engine/tar.js';
import { LokError, EXIT } from '../errors.js';
import { textLines } from '../lines.js';
import type { PodPackage, PodServerRecord } from '../pod/record.js';
import { chooseBin, normalizeBinField } from '../prepare/choose-bin.js';
import { removeHomeVolume } from '../prepare/home.js';
import { EGRESS_CODE_DIR, ensureSandboxImage, ownImageContext, type ContextFile } from '../prepare/images.js';
import { ensureInstalled } from '../prepare/install.js';
import { clusterImageLabels, egressDockerfile, packageDockerfile, podServerRecord, readPodCode } from '../prepare/pod-image.js';
import type { ServerRequest } from '../request/server-request.js';
import { PACKAGES_DIR } from '../sandbox/hardening.js';
import { buildLabels, LABEL } from '../sandbox/labels.js';
import { currentOwner } from '../state/owner.js';
import { readPin } from '../state/pins.js';
import { readVersion } from '../version.js';
import type { Context } from './context.js';
import { planRequest } from './run-server.js';

/** What `mcp-lok image` shows. */
export interface ImageReport {
  /** The image this version of mcp-lok runs servers in, and whether it is built. */
  current: { tag: string; built: boolean };
  images: Array<{ tag: string; id: string; sizeBytes: number; createdAt: string; current: boolean }>;
  /** Package trees and npm's cache: caches, made again when needed. */
  volumes: Array<{ name: string; kind: string; package: string | null }>;
  /** Servers' homes: their data, kept until removed by name (or `image rm --homes`). */
  homes: HomeInfo[];
}

/** One server's home volume, as `mcp-lok image` lists it. */
export interface HomeInfo {
  name: string;
  /** The package(s) or image repository it belongs to; null for the files of a home that is gone. */
  package: string | null;
  image: string | null;
  /** The `--name` (or background server's name) it belongs to, if any. */
  server: string | null;
  /** The sandbox user's `uid:gid`. */
  user: string | null;
  /** Nothing written there can be executed. */
  noexec: boolean;
  /** The home of a server an agent started through the management server. */
  agent: boolean;
}

/**
 * Returns the homes among mcp-lok's volumes: each home volume, and the files (NAME-data) of a
 * noexec home whose overlay volume is gone (a start killed while making it); the files behind
 * a home that exists are part of it.
 */
export function describeHomes(volumes: readonly VolumeSummary[]): HomeInfo[] {
  const label = (v: VolumeSummary, key: string): string | null => v.Labels?.[key] ?? null;
  const homes = volumes.filter((v) => label(v, LABEL.kind) === 'home');
  const names = new Set(homes.map((v) => v.Name));
  const orphans = volumes.filter((v) => label(v, LABEL.kind) === 'home-data' && !names.has(label(v, LABEL.homeOf) ?? ''));
  return [
    ...homes.map((v) => ({
      name: v.Name, package: label(v, LABEL.package), image: label(v, LABEL.image), server: label(v, LABEL.name),
      user: label(v, LABEL.homeUser), noexec: label(v, LABEL.homeNoexec) === 'true', agent: label(v, LABEL.homeScope) === 'agent',
    })),
    ...orphans.map((v) => ({ name: v.Name, package: null, image: null, server: null, user: label(v, LABEL.homeUser), noexec: false, agent: false })),
  ].sort((a, b) => a.name.localeCompare(b.name));
}

/** Returns who a home belongs to, in words: `@scope/pkg`, `@scope/pkg, --name memory`, or what is left of a home. */
export function describeHomeOwner(home: HomeInfo): string {
  const what = home.package ?? home.image;
  if (!what) return 'the files of a home that is gone';
  return `${what}${home.server ? `, --name ${home.server}` : ''}${home.agent ? ', started by an agent' : ''}`;
}

/** Returns the current sandbox image's tag (built or not). */
export function currentImageTag(): string {
  return ownImageContext().tag;
}

/** Returns mcp-lok's images and volumes on the engine. */
export async function describeImages(endpoint: EngineEndpoint): Promise<ImageReport> {
  const tag = currentImageTag();
  const [images, volumes] = await Promise.all([
    listImages(endpoint, [`${LABEL.managed}=true`]),
    listVolumes(endpoint, [`${LABEL.managed}=true`]),
  ]);
  const rows = images.map((i) => {
    const name = (i.RepoTags ?? []).find((t) => t !== '<none>:<none>')?.replace(/^(docker\.io|localhost)\//, '') ?? '<untagged>';
    return { tag: name, id: i.Id.replace(/^sha256:/, '').slice(0, 12), sizeBytes: i.Size, createdAt: new Date(i.Created * 1000).toISOString(), current: name === tag };
  }).sort((a, b) => a.tag.localeCompare(b.tag));
  return {
    current: { tag, built: rows.some((r) => r.current) },
    images: rows,
    volumes: volumes.filter((v) => !isHomeVolume(v))
      .map((v) => ({ name: v.Name, kind: v.Labels?.[LABEL.kind] ?? 'unknown', package: v.Labels?.[LABEL.package] ?? null }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    homes: describeHomes(volumes),
  };
}

function isHomeVolume(v: VolumeSummary): boolean {
  const kind = v.Labels?.[LABEL.kind];
  return kind === 'home' || kind === 'home-data';
}

/** Builds the sandbox image now, so a client's first start does not wait for it. */
export async function buildImage(endpoint: EngineEndpoint, log: (line: string) => void): Promise<string> {
  return ensureSandboxImage(endpoint, { log });
}

/** What a removal did: removed, kept because a container uses it, and homes left alone. */
export interface RemoveReport {
  removed: string[];
  inUse: string[];
  /** Home volumes kept because `homes` was not asked for. */
  keptHomes: string[];
}

/**
 * Removes mcp-lok's images and package volumes that no container uses, and with `homes` the
 * servers' home volumes too (their files go with them); returns what was removed and kept.
 */
export async function removeImages(endpoint: EngineEndpoint, options: { homes: boolean; stateDir: string }): Promise<RemoveReport> {
  const report = await describeImages(endpoint);
  const removed: string[] = [];
  const inUse: string[] = [];
  // Sandbox images first: the local base is their parent.
  const ordered = [...report.images].sort((a, b) => Number(b.tag.startsWith('mcp-lok/sandbox')) - Number(a.tag.startsWith('mcp-lok/sandbox')));
  for (const image of ordered) {
    const ok = await removeImage(endpoint, image.tag === '<untagged>' ? image.id : image.tag);
    (ok ? removed : inUse).push(image.tag === '<untagged>' ? image.id : image.tag);
  }
  for (const volume of report.volumes) {
    ((await removeVolume(endpoint, volume.name)) ? removed : inUse).push(volume.name);
  }
  if (!options.homes) return { removed, inUse, keptHomes: report.homes.map((h) => h.name) };
  for (const home of report.homes) ((await removeHomeVolume(endpoint, home.name, options.stateDir)) ? removed : inUse).push(home.name);
  return { removed, inUse, keptHomes: [] };
}

/**
 * Removes mcp-lok volumes by the names `mcp-lok image` lists (a home goes with the files behind
 * it); a name that is not one of them is refused before anything is removed.
 */
export async function removeVolumesByName(endpoint: EngineEndpoint, names: readonly string[], stateDir: string): Promise<RemoveReport> {
  const report = await describeImages(endpoint);
  const homes = new Set(report.homes.map((h) => h.name));
  const caches = new Set(report.volumes.map((v) => v.name));
  const unknown = names.filter((n) => !homes.has(n) && !caches.has(n));
  if (unknown.length > 0) {
    throw new LokError('NOT_FOUND', `No mcp-lok volume is named ${unknown.map((n) => JSON.stringify(n.slice(0, 80))).join(', ')}.`, { exitCode: EXIT.failure, hint: 'Run `mcp-lok image` to see them.' });
  }
  const removed: string[] = [];
  const inUse: string[] = [];
  for (const name of new Set(names)) {
    const ok = homes.has(name) ? await removeHomeVolume(endpoint, name, stateDir) : await removeVolume(endpoint, name);
    (ok ? removed : inUse).push(name);
  }
  return { removed, inUse, keptHomes: [] };
}

/** An image for a cluster to build (and push): a package's server, or the egress proxy. */
export interface ClusterImageRequest {
  /** The reference to tag (and push): checked by the front end (request/source.ts parseImageTarget). */
  ref: string;
  push: boolean;
  /** `package`: the request of an npx:// source, planned and installed as a start would be. */
  target: { kind: 'package'; server: ServerRequest } | { kind: 'egress-proxy' };
}

/** What `image build --push` made. */
export interface ClusterImageResult {
  ref: string;
  kind: 'package' | 'egress-proxy';
  /** The sandbox image it was built on. */
  base: string;
  pushed: boolean;
  /** The pushed manifest's digest, as the registry named it. */
  digest: string | undefined;
  /** A package image's exact versions, its tree (a hash of the lockfile it carries) and the pin they come from. */
  packages?: PodPackage[];
  tree?: string;
  pin?: string | undefined;
  command?: string[];
}

const CONTEXT_FILE_MODE = 0o644;
const DOCKERFILE_NAME = 'Dockerfile.mcp-lok-pod';

/**
 * Builds an image for a cluster on the sandbox image and tags it `ref`: for a package, the
 * pinned tree (installed as a start installs it: in a sandbox, scripts off, the pin reused or
 * made now) copied read-only into the image with mcp-lok's in-pod session bridge; or the egress
 * proxy. With `push`, pushes it with the user's docker credentials. Progress goes to ctx.log.
 */
export async function buildClusterImage(ctx: Context, req: ClusterImageRequest): Promise<ClusterImageResult> {
  const version = readVersion();
  const pod = readPodCode(EGRESS_CODE_DIR);
  let endpoint: EngineEndpoint;
  let base: string;
  let files: ContextFile[];
  let tail: Buffer | undefined;
  let record: PodServerRecord | undefined;
  let pinKey: string | undefined;
  if (req.target.kind === 'package') {
    const server = { ...req.target.server, lok: { ...req.target.server.lok, refreshAfterMs: undefined } };
    const plan = await planRequest(ctx, server);
    if (plan.prepare.kind !== 'install' || server.source.kind !== 'npx') throw new LokError('INTERNAL', 'A package planned as an image.');
    endpoint = plan.endpoint;
    base = await ensureSandboxImage(endpoint, { log: ctx.log });
    const tree = await ensureInstalled(ctx, endpoint, { ...plan.prepare.install, image: base, refreshAfterMs: undefined, handleSignals: true });
    pinKey = tree.pinKey;
    const pinned = pinKey === undefined ? undefined : readPin(ctx.paths.state, pinKey);
    if (!pinned || pinned.current.dir !== tree.dir) throw new LokError('INTERNAL', `The tree ${tree.dir} has no pin to record its versions.`);
    const bin = chooseBin(tree.packages.map((p) => ({ name: p.name, bin: normalizeBinField(p.name, p.bin) })), server.source.command);
    record = podServerRecord(tree.dir, bin.binName, pinned.current.packages);
    ctx.log(`mcp-lok: copying the pinned tree ${tree.dir} (${record.packages.map((p) => `${p.name}@${p.version}`).join(' ')}) into the image...`);
    tail = await copyTree(endpoint, base, tree.volume, tree.dir);
    files = [
      { name: DOCKERFILE_NAME, content: Buffer.from(packageDockerfile(tree.dir)) },
      { name: 'pod/server.json', content: Buffer.from(`${JSON.stringify(record, null, 2)}\n`) },
      ...pod,
    ];
  } else {
    endpoint = await ctx.engine();
    base = await ensureSandboxImage(endpoint, { log: ctx.log });
    files = [{ name: DOCKERFILE_NAME, content: Buffer.from(egressDockerfile()) }, ...pod];
  }
  const own = packTar(files.map((f) => ({ name: f.name, content: f.content, mode: CONTEXT_FILE_MODE })));
  const context = tail ? Buffer.concat([tail, own]) : own;
  ctx.log(`mcp-lok: building ${req.ref} on ${base}...`);
  try {
    await buildEngineImage(endpoint, context, {
      tag: req.ref, dockerfile: DOCKERFILE_NAME, buildArgs: { BASE: base },
      labels: clusterImageLabels(req.target.kind, version, record, pinKey),
    }, (event) => {
      if (typeof event.stream !== 'string') return;
      for (const line of textLines(event.stream)) ctx.debug(`mcp-lok: build: ${line.trim()}`);
    });
  } catch (error) {
    throw new LokError('IMAGE_BUILD_FAILED', `Building ${req.ref} on ${base} failed: ${engineErrorText(error)}`, {
      exitCode: EXIT.engine, hint: 'Run again with --debug for the build output, or check the engine\'s disk space.', cause: error,
    });
  }
  if (!(await imageExists(endpoint, req.ref))) throw new LokError('IMAGE_BUILD_FAILED', `The engine finished building ${req.ref} but does not list it.`, { exitCode: EXIT.engine });
  ctx.log(`mcp-lok: built ${req.ref}.`);
  const digest = req.push ? await pushClusterImage(ctx, endpoint, req.ref) : undefined;
  const result: ClusterImageResult = { ref: req.ref, kind: req.target.kind, base, pushed: req.push, digest };
  return record ? { ...result, packages: record.packages, tree: record.tree, pin: pinKey, command: record.command } : result;
}

/**
 * Returns a tar of one tree of a package volume (its folder the first entry, named after the
 * tree), without the closing blocks: the start of a build context. The copy goes through a
 * container that is never started.
 */
async function copyTree(endpoint: EngineEndpoint, image: string, volume: string, dir: string): Promise<Buffer> {
  const labels = buildLabels({
    name: `mcp-lok-copy-${dir}`, role: 'install', launcher: 'run', transport: 'stdio', profile: 'stdio',
    packages: [], image, owner: currentOwner(),
  });
  const id = await createCopyContainer(endpoint, `mcp-lok-copy-${dir}-${randomBytes(4).toString('hex')}`, {
    image, volumes: [{ source: volume, target: PACKAGES_DIR }], labels,
  });
  try {
    return stripTarEnd(await getArchive(endpoint, id, `${PACKAGES_DIR}/${dir}`));
  } finally {
    await removeContainer(endpoint, id);
  }
}

/** Pushes `ref` with the user's docker credentials for its registry; returns the digest the engine reports. */
async function pushClusterImage(ctx: Context, endpoint: EngineEndpoint, ref: string): Promise<string | undefined> {
  const registry = registryOf(ref);
  let auth;
  try {
    auth = await loadRegistryAuth(ref, ctx.env);
  } catch (error) {
    throw new LokError('IMAGE_PUSH_FAILED', `Cannot read the credentials for ${registry}: ${(error as Error).message}.`, { exitCode: EXIT.failure, hint: 'Fix your docker config (`docker login`), then push again.' });
  }
  ctx.log(`mcp-lok: pushing ${ref} to ${registry}${auth ? ' with your docker credentials' : ' without credentials (none in your docker config)'}...`);
  try {
    const digest = await pushImage(endpoint, ref, encodeRegistryAuth(auth), (event) => {
      if (typeof event.status === 'string' && event.progress === undefined && !/^(Preparing|Waiting|Pushing)$/.test(event.status)) {
        ctx.log(`mcp-lok: push: ${typeof event.id === 'string' ? `${event.id}: ` : ''}${event.status}`);
      }
    });
    ctx.log(`mcp-lok: pushed ${ref}${digest ? ` (${digest})` : ''}.`);
    return digest;
  } catch (error) {
    throw new LokError('IMAGE_PUSH_FAILED', `Pushing ${ref} to ${registry} failed: ${engineErrorText(error)}`, {
      exitCode: EXIT.failure, hint: `The image is built and tagged ${ref}; log in with \`docker login ${registry}\` or check the registry's address, then run the same command again.`, cause: error,
    });
  }
}
