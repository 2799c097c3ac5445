import {
  listImages, listVolumes, removeImage, removeVolume, type VolumeSummary,
} from '../engine/containers.js';
import type { EngineEndpoint } from '../engine/endpoint.js';
import { LokError, EXIT } from '../errors.js';
import { removeHomeVolume } from '../prepare/home.js';
import { computeImageTag, DEFAULT_BASE_IMAGE, DOCKER_DIR, ensureSandboxImage, readContextFiles } from '../prepare/images.js';
import { LABEL } from '../sandbox/labels.js';

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
  return computeImageTag(readContextFiles(DOCKER_DIR), DEFAULT_BASE_IMAGE);
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
