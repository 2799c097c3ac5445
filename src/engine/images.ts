import type { Readable } from 'node:stream';
import { splitLines } from '../lines.js';
import type { EngineEndpoint } from './endpoint.js';
import { engineRequest, engineStream, expectStatus } from './http.js';

/**
 * The engine's streaming image endpoints: pull, build and import. Each answers with a stream
 * of JSON progress events, and reports a failure after the 200 as an `error` event.
 */
export interface EngineStreamEvent {
  status?: unknown;
  id?: unknown;
  progress?: unknown;
  stream?: unknown;
  error?: unknown;
  errorDetail?: { message?: unknown };
  [key: string]: unknown;
}

/** What a build is told besides its context. */
export interface BuildOptions {
  /** The name:tag to give the image. */
  tag: string;
  /** The Dockerfile's path inside the context. */
  dockerfile: string;
  buildArgs?: Record<string, string>;
  labels?: Record<string, string>;
}

/** What an import names and changes in the new image. */
export interface ImportOptions {
  /** The repository, which may carry the tag too (`repo:tag`; Podman ignores a separate tag). */
  repo: string;
  tag?: string;
  /** Dockerfile instructions applied to the image (`ENV`, `CMD`, `LABEL`, ...). */
  changes?: string[];
}

/**
 * Returns an image reference's repository and tag (or digest) as the pull endpoint takes them;
 * the tag defaults to `latest`, and a registry's port is not a tag.
 */
export function parseImageRef(ref: string): { repository: string; tag: string } {
  const at = ref.indexOf('@');
  if (at !== -1) return { repository: ref.slice(0, at), tag: ref.slice(at + 1) };
  const colon = ref.lastIndexOf(':');
  if (colon !== -1 && !ref.slice(colon + 1).includes('/')) return { repository: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { repository: ref, tag: 'latest' };
}

/** Returns the request path that pulls one image. */
export function pullPath(ref: string): string {
  const { repository, tag } = parseImageRef(ref);
  return `/images/create?${new URLSearchParams({ fromImage: repository, tag })}`;
}

/** Returns the request path of a build: tag, Dockerfile, build args and labels (as JSON), intermediate containers removed. */
export function buildPath(options: BuildOptions): string {
  const query = new URLSearchParams({ t: options.tag, dockerfile: options.dockerfile });
  if (options.buildArgs) query.set('buildargs', JSON.stringify(options.buildArgs));
  if (options.labels) query.set('labels', JSON.stringify(options.labels));
  query.set('rm', 'true');
  query.set('forcerm', 'true');
  return `/build?${query}`;
}

/** Returns the request path that pushes an image: its repository (registry host included) and its tag. */
export function pushPath(ref: string): string {
  const { repository, tag } = parseImageRef(ref);
  return `/images/${repository}/push?${new URLSearchParams({ tag })}`;
}

/** Returns the request path that imports a root filesystem sent as the request body. */
export function importPath(options: ImportOptions): string {
  const query = new URLSearchParams({ fromSrc: '-', repo: options.repo });
  if (options.tag) query.set('tag', options.tag);
  for (const change of options.changes ?? []) query.append('changes', change);
  return `/images/create?${query}`;
}

/**
 * Resolves when a JSON-lines progress stream (pull, build, import) ends; rejects with the
 * engine's message when an event carries `error`/`errorDetail`, or when the stream stops
 * before its end.
 */
export function followEngineStream(stream: NodeJS.ReadableStream, onEvent: (event: EngineStreamEvent) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let failure: Error | undefined;
    const handle = (line: string): void => {
      if (!line.trim() || failure) return;
      let parsed: unknown;
      try { parsed = JSON.parse(line); } catch { return; }
      // Only objects are events: a `null` line would otherwise throw from the stream's handler.
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return;
      const event = parsed as EngineStreamEvent;
      const message = event.errorDetail?.message ?? event.error;
      if (message !== undefined) {
        failure = new Error(String(message).trim());
        return;
      }
      onEvent(event);
    };
    const split = splitLines(handle);
    stream.on('data', (chunk: Buffer | string) => split(typeof chunk === 'string' ? Buffer.from(chunk) : chunk));
    let ended = false;
    stream.on('error', reject);
    stream.on('end', () => {
      ended = true;
      split.end();
      if (failure) reject(failure); else resolve();
    });
    // Settling twice is harmless; this catches an engine that hangs up mid-stream.
    stream.on('close', () => { if (!ended) reject(new Error('the engine closed the connection early')); });
  });
}

/** Pulls an image, passing each progress event to `onEvent`; rejects with the engine's message. */
export async function pullImage(endpoint: EngineEndpoint, ref: string, onEvent: (event: EngineStreamEvent) => void): Promise<void> {
  await followEngineStream(await engineStream(endpoint, 'POST', pullPath(ref)), onEvent);
}

/** Builds an image from a tar build context, passing each progress event to `onEvent`. */
export async function buildImage(
  endpoint: EngineEndpoint,
  context: Buffer | Readable,
  options: BuildOptions,
  onEvent: (event: EngineStreamEvent) => void,
): Promise<void> {
  const res = await engineStream(endpoint, 'POST', buildPath(options), { body: context, contentType: 'application/x-tar' });
  await followEngineStream(res, onEvent);
}

/**
 * Pushes an image to its registry with the given X-Registry-Auth value, passing each progress
 * event to `onEvent`; resolves with the pushed manifest's digest when the engine reports it.
 */
export async function pushImage(endpoint: EngineEndpoint, ref: string, registryAuth: string, onEvent: (event: EngineStreamEvent) => void): Promise<string | undefined> {
  const res = await engineStream(endpoint, 'POST', pushPath(ref), { headers: { 'x-registry-auth': registryAuth } });
  let digest: string | undefined;
  await followEngineStream(res, (event) => {
    const aux = event.aux as { Digest?: unknown } | undefined;
    if (typeof aux?.Digest === 'string') digest = aux.Digest;
    onEvent(event);
  });
  return digest;
}

/** Imports a tar of a root filesystem as an image, passing each progress event to `onEvent`. */
export async function importImage(
  endpoint: EngineEndpoint,
  rootfs: Buffer | Readable,
  options: ImportOptions,
  onEvent: (event: EngineStreamEvent) => void = () => {},
): Promise<void> {
  const res = await engineStream(endpoint, 'POST', importPath(options), { body: rootfs, contentType: 'application/x-tar' });
  await followEngineStream(res, onEvent);
}

/** Returns true when the engine has an image by that name (one cheap request). */
export async function imageExists(endpoint: EngineEndpoint, ref: string): Promise<boolean> {
  const res = await engineRequest(endpoint, 'GET', `/images/${ref}/json`);
  if (res.status === 404) return false;
  expectStatus(res, [200], `Inspecting the image ${ref}`);
  return true;
}

/** Returns the text of an engine error (an error answer, an `error` event or a failed connection), trimmed. */
export function engineErrorText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).trim();
}
