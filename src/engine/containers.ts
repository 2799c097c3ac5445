import type { Duplex } from 'node:stream';
import { LokError, EXIT } from '../errors.js';
import type { ContainerCreateBody } from '../sandbox/build-spec.js';
import type { EngineEndpoint } from './endpoint.js';
import { EngineHttpError, engineMessage, engineRequest, engineStream, engineUpgrade, expectStatus } from './http.js';

/** Creates a container; a name already in use is a NAME_IN_USE error, not an engine failure. */
export async function createContainer(endpoint: EngineEndpoint, name: string, body: ContainerCreateBody): Promise<string> {
  const res = await engineRequest<{ Id: string }>(endpoint, 'POST', `/containers/create?name=${encodeURIComponent(name)}`, body);
  if (res.status === 409) {
    throw new LokError('NAME_IN_USE', `The name "${name}" is already used by another container.`, { exitCode: EXIT.engine, hint: 'Choose another --name, or remove the old one.' });
  }
  if (res.status === 404) {
    throw new LokError('ENGINE_ERROR', `The image ${body.Image} is missing: ${engineMessage(res)}.`, { exitCode: EXIT.engine });
  }
  expectStatus(res, [201], 'Creating the container');
  return res.body.Id;
}

/**
 * Creates a container that is never started, only to copy files out of its image and volumes
 * (as `docker cp` does): no network, the volumes read-only.
 */
export async function createCopyContainer(
  endpoint: EngineEndpoint, name: string,
  spec: { image: string; volumes: Array<{ source: string; target: string }>; labels: Record<string, string> },
): Promise<string> {
  const body = {
    Image: spec.image, Cmd: ['true'], Labels: spec.labels, NetworkDisabled: true,
    HostConfig: {
      NetworkMode: 'none', CapDrop: ['ALL'], ReadonlyRootfs: true, SecurityOpt: ['no-new-privileges'],
      Mounts: spec.volumes.map((v) => ({ Type: 'volume', Source: v.source, Target: v.target, ReadOnly: true })),
    },
  };
  const res = await engineRequest<{ Id: string }>(endpoint, 'POST', `/containers/create?name=${encodeURIComponent(name)}`, body);
  expectStatus(res, [201], 'Creating a container to copy from');
  return res.body.Id;
}

/** Opens the container's stdio stream (multiplexed; see stdio/demux). Call before start. */
export function attachContainer(endpoint: EngineEndpoint, id: string, stdin: boolean): Promise<Duplex> {
  const query = `stream=1&stdout=1&stderr=1${stdin ? '&stdin=1' : ''}`;
  return engineUpgrade(endpoint, `/containers/${id}/attach?${query}`);
}

/**
 * Resolves with the exit code once the container exits (or, for an auto-removed one, once it
 * is gone, so nothing it used is still busy). Call before start.
 */
export async function waitContainer(endpoint: EngineEndpoint, id: string, untilRemoved = false): Promise<number> {
  const condition = untilRemoved ? 'removed' : 'next-exit';
  const res = await engineRequest<{ StatusCode: number; Error?: { Message?: string } | null }>(endpoint, 'POST', `/containers/${id}/wait?condition=${condition}`);
  expectStatus(res, [200], 'Waiting for the container');
  return res.body.StatusCode;
}

export async function startContainer(endpoint: EngineEndpoint, id: string): Promise<void> {
  const res = await engineRequest(endpoint, 'POST', `/containers/${id}/start`);
  expectStatus(res, [204, 304], 'Starting the container');
}

/** Asks the engine to stop: SIGTERM, then SIGKILL after `graceSeconds`. Gone already is fine. */
export async function stopContainer(endpoint: EngineEndpoint, id: string, graceSeconds: number): Promise<void> {
  const res = await engineRequest(endpoint, 'POST', `/containers/${id}/stop?t=${graceSeconds}`);
  expectStatus(res, [204, 304, 404, 409], 'Stopping the container');
}

/** Removes a container and its anonymous volumes, killing it first; gone already is fine. */
export async function removeContainer(endpoint: EngineEndpoint, id: string): Promise<void> {
  const res = await engineRequest(endpoint, 'DELETE', `/containers/${id}?force=1&v=1`);
  expectStatus(res, [204, 404, 409], 'Removing the container');
}

export interface ContainerSummary {
  Id: string;
  Names: string[];
  State: string;
  Labels: Record<string, string>;
  /** The command line, as one string. */
  Command?: string;
  Mounts?: Array<{ Type: string; Name?: string; Destination?: string }>;
}

/** Lists containers carrying every given label (`key` or `key=value`). */
export async function listContainers(endpoint: EngineEndpoint, labels: string[], all = true): Promise<ContainerSummary[]> {
  const filters = encodeURIComponent(JSON.stringify({ label: labels }));
  const res = await engineRequest<ContainerSummary[]>(endpoint, 'GET', `/containers/json?all=${all ? 1 : 0}&filters=${filters}`);
  expectStatus(res, [200], 'Listing containers');
  return res.body;
}

/** Returns true when a named volume exists. */
export async function volumeExists(endpoint: EngineEndpoint, name: string): Promise<boolean> {
  const res = await engineRequest(endpoint, 'GET', `/volumes/${encodeURIComponent(name)}`);
  if (res.status === 404) return false;
  expectStatus(res, [200], 'Inspecting a volume');
  return true;
}

/** Creates a named volume with labels (and the local driver's mount options, if any); an existing one is kept as it is. */
export async function createVolume(endpoint: EngineEndpoint, name: string, labels: Record<string, string>, driverOpts?: Record<string, string>): Promise<void> {
  const res = await engineRequest(endpoint, 'POST', '/volumes/create', { Name: name, Labels: labels, ...(driverOpts ? { Driver: 'local', DriverOpts: driverOpts } : {}) });
  expectStatus(res, [200, 201], 'Creating a volume');
}

/** A volume as the engine describes it. */
export interface VolumeInfo {
  Name: string;
  Labels: Record<string, string> | null;
  /** Where the engine keeps it, on the engine's own machine. */
  Mountpoint: string;
  Options: Record<string, string> | null;
}

/** Returns a named volume, or undefined when there is none. */
export async function inspectVolume(endpoint: EngineEndpoint, name: string): Promise<VolumeInfo | undefined> {
  const res = await engineRequest<VolumeInfo>(endpoint, 'GET', `/volumes/${encodeURIComponent(name)}`);
  if (res.status === 404) return undefined;
  expectStatus(res, [200], 'Inspecting a volume');
  return res.body;
}

/**
 * Has the engine extract a tar archive into a container's filesystem at `path` (a folder), as
 * root and keeping the archive's owners: the container need not run, and its volumes are there.
 */
export async function putArchive(endpoint: EngineEndpoint, id: string, path: string, tar: Buffer): Promise<void> {
  try {
    const res = await engineStream(endpoint, 'PUT', `/containers/${id}/archive?path=${encodeURIComponent(path)}`, { body: tar, contentType: 'application/x-tar' });
    res.resume();
    await new Promise<void>((resolve, reject) => { res.on('end', resolve); res.on('error', reject); });
  } catch (error) {
    if (error instanceof EngineHttpError) throw new LokError('ENGINE_ERROR', `Copying into the container failed: ${error.message}`, { exitCode: EXIT.engine });
    throw error;
  }
}

/**
 * Returns a tar archive of `path` in a container's filesystem (its volumes included; the
 * container need not run): the folder itself is the archive's first entry.
 */
export async function getArchive(endpoint: EngineEndpoint, id: string, path: string): Promise<Buffer> {
  try {
    const res = await engineStream(endpoint, 'GET', `/containers/${id}/archive?path=${encodeURIComponent(path)}`);
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    await new Promise<void>((resolve, reject) => { res.on('end', resolve); res.on('error', reject); });
    return Buffer.concat(chunks);
  } catch (error) {
    if (error instanceof EngineHttpError) throw new LokError('ENGINE_ERROR', `Copying ${path} out of the container failed: ${error.message}`, { exitCode: EXIT.engine });
    throw error;
  }
}

/** Removes a named volume; missing or in use is reported as false. */
export async function removeVolume(endpoint: EngineEndpoint, name: string): Promise<boolean> {
  const res = await engineRequest(endpoint, 'DELETE', `/volumes/${encodeURIComponent(name)}`);
  return res.status === 204;
}

export interface ImageSummary {
  Id: string;
  RepoTags: string[] | null;
  Size: number;
  Created: number;
  Labels: Record<string, string> | null;
}

/** Lists images carrying every given label. */
export async function listImages(endpoint: EngineEndpoint, labels: string[]): Promise<ImageSummary[]> {
  const filters = encodeURIComponent(JSON.stringify({ label: labels }));
  const res = await engineRequest<ImageSummary[]>(endpoint, 'GET', `/images/json?filters=${filters}`);
  expectStatus(res, [200], 'Listing images');
  return res.body;
}

/** Removes an image; returns false when a container still uses it. */
export async function removeImage(endpoint: EngineEndpoint, id: string): Promise<boolean> {
  const res = await engineRequest(endpoint, 'DELETE', `/images/${encodeURIComponent(id)}`);
  if (res.status === 409) return false;
  expectStatus(res, [200, 404], 'Removing an image');
  return true;
}

export interface VolumeSummary {
  Name: string;
  Labels: Record<string, string> | null;
  CreatedAt?: string;
}

/** Lists volumes carrying every given label. */
export async function listVolumes(endpoint: EngineEndpoint, labels: string[]): Promise<VolumeSummary[]> {
  const filters = encodeURIComponent(JSON.stringify({ label: labels }));
  const res = await engineRequest<{ Volumes: VolumeSummary[] | null }>(endpoint, 'GET', `/volumes?filters=${filters}`);
  expectStatus(res, [200], 'Listing volumes');
  return res.body.Volumes ?? [];
}
