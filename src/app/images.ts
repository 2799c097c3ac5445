import {
  listImages, listVolumes, removeImage, removeVolume,
} from '../engine/containers.js';
import type { EngineEndpoint } from '../engine/endpoint.js';
import { computeImageTag, DEFAULT_BASE_IMAGE, DOCKER_DIR, ensureSandboxImage, readContextFiles } from '../prepare/images.js';
import { LABEL } from '../sandbox/labels.js';

/** What `mcp-lok image` shows. */
export interface ImageReport {
  /** The image this version of mcp-lok runs servers in, and whether it is built. */
  current: { tag: string; built: boolean };
  images: Array<{ tag: string; id: string; sizeBytes: number; createdAt: string; current: boolean }>;
  volumes: Array<{ name: string; kind: string; package: string | null }>;
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
    volumes: volumes.map((v) => ({ name: v.Name, kind: v.Labels?.[LABEL.kind] ?? 'unknown', package: v.Labels?.[LABEL.package] ?? null }))
      .sort((a, b) => a.name.localeCompare(b.name)),
  };
}

/** Builds the sandbox image now, so a client's first start does not wait for it. */
export async function buildImage(endpoint: EngineEndpoint, log: (line: string) => void): Promise<string> {
  return ensureSandboxImage(endpoint, { log });
}

/**
 * Removes mcp-lok's images and package volumes that no container uses; returns what was
 * removed and what was kept because a server still uses it.
 */
export async function removeImages(endpoint: EngineEndpoint): Promise<{ removed: string[]; inUse: string[] }> {
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
  return { removed, inUse };
}
