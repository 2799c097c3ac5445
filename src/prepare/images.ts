import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LokError, EXIT } from '../errors.js';
import { textLines } from '../lines.js';
import type { EngineEndpoint } from '../engine/endpoint.js';
import { buildImage, engineErrorText, imageExists, pullImage } from '../engine/images.js';

export { engineErrorText, imageExists } from '../engine/images.js';
import { packTar } from '../engine/tar.js';
import { PACKAGE_ROOT } from '../package-root.js';

export const SANDBOX_REPO = 'mcp-lok/sandbox';
export const DEFAULT_BASE_IMAGE = 'node:24-alpine';
export const DOCKERFILE = 'Dockerfile.node-alpine';
/** `docker/` at the package root, seen from dist/src/engine/image.js. */
export const DOCKER_DIR = join(PACKAGE_ROOT, 'docker', '/');
/** mcp-lok's compiled code (dist/src/), from which the egress sidecar runs the egress proxy in the image. */
export const EGRESS_CODE_DIR = join(PACKAGE_ROOT, 'dist', 'src', '/');
/** The modules the sidecar needs, relative to EGRESS_CODE_DIR: they import only `node:` modules and each other. */
export const EGRESS_MODULES = [
  'egress/proxy.js', 'egress/match.js', 'egress/http-relay.js', 'egress/http-request.js', 'egress/tls-hello.js', 'http/framing.js', 'http/json-rpc.js',
];
/** Where they go in the build context, with the same layout (and, by the Dockerfile, under /opt/mcp-lok/lib/). */
export const EGRESS_CONTEXT_DIR = 'lib';
const TAG_HEX_CHARS = 16;
const MAX_REASON_CHARS = 120;
/** Context files are plain data read by `node`; COPY gives them to root in the image. */
const CONTEXT_FILE_MODE = 0o644;

export interface ContextFile {
  /** Path inside the build context, with `/` separators. */
  name: string;
  content: Buffer;
}

export interface EnsureImageOptions {
  /** Receives progress lines; the caller sends them to stderr, never to stdout. */
  log: (line: string) => void;
  /** The build context; defaults to the package's own `docker/`. */
  dockerDir?: string;
  /** Where the compiled code with the egress proxy is (dist/src/); defaults to mcp-lok's own. */
  egressDir?: string;
  /** The base image the tag is named after; defaults to node:24-alpine. */
  base?: string;
}

/**
 * Returns the sandbox image's tag: a hash of every context file (name and bytes, in name
 * order) and the base image's name, so any change to what goes into the image renames it.
 */
export function computeImageTag(files: Array<{ name: string; content: Buffer }>, base: string): string {
  const hash = createHash('sha256');
  const sorted = [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const file of sorted) {
    // Lengths make the encoding unambiguous: bytes cannot move between a name and a body.
    hash.update(`file\0${Buffer.byteLength(file.name)}\0${file.name}\0${file.content.length}\0`);
    hash.update(file.content);
  }
  hash.update(`base\0${base}`);
  return `${SANDBOX_REPO}:${hash.digest('hex').slice(0, TAG_HEX_CHARS)}`;
}

/**
 * Returns the sandbox image's build context: every file under `dir` (recursively) with its
 * context-relative name, plus mcp-lok's compiled egress proxy under `lib/` (with a
 * package.json making it ES modules), so the tag changes when either does.
 */
export function readContextFiles(dir: string, egressDir: string = EGRESS_CODE_DIR): ContextFile[] {
  const files: ContextFile[] = [];
  const walk = (sub: string): void => {
    for (const entry of readdirSync(join(dir, sub), { withFileTypes: true })) {
      const name = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(name);
      else if (entry.isFile()) files.push({ name, content: readFileSync(join(dir, name)) });
    }
  };
  try {
    walk('');
    for (const module of EGRESS_MODULES) {
      files.push({ name: `${EGRESS_CONTEXT_DIR}/${module}`, content: readFileSync(join(egressDir, module)) });
    }
  } catch (error) {
    throw new LokError('IMAGE_BUILD_FAILED', `Cannot read the sandbox image's files: ${(error as Error).message}.`, {
      exitCode: EXIT.engine, hint: 'Reinstall mcp-lok.', cause: error,
    });
  }
  files.push({ name: `${EGRESS_CONTEXT_DIR}/package.json`, content: Buffer.from('{"type":"module"}\n') });
  if (!files.some((f) => f.name === DOCKERFILE)) {
    throw new LokError('IMAGE_BUILD_FAILED', `${DOCKERFILE} is missing from ${dir}.`, { exitCode: EXIT.engine, hint: 'Reinstall mcp-lok.' });
  }
  return files;
}

/** A build context and the tag it names. */
export interface ImageContext { files: ContextFile[]; tag: string }

function readImageContext(dir: string, egressDir: string | undefined, base: string): ImageContext {
  const files = readContextFiles(dir, egressDir);
  return { files, tag: computeImageTag(files, base) };
}

let ownContext: ImageContext | undefined;

/**
 * Returns mcp-lok's own sandbox image context and tag (`docker/` and the compiled egress
 * proxy, on node:24-alpine), read once per process.
 */
export function ownImageContext(): ImageContext {
  return (ownContext ??= readImageContext(DOCKER_DIR, undefined, DEFAULT_BASE_IMAGE));
}

/**
 * Returns the image reference to run servers in, building it on first use. Warm starts cost
 * one inspect request; progress goes only through `options.log`.
 */
export async function ensureSandboxImage(endpoint: EngineEndpoint, options: EnsureImageOptions): Promise<string> {
  const base = options.base ?? DEFAULT_BASE_IMAGE;
  const own = options.dockerDir === undefined && options.egressDir === undefined && options.base === undefined;
  const { files, tag } = own ? ownImageContext() : readImageContext(options.dockerDir ?? DOCKER_DIR, options.egressDir, base);
  if (await imageExists(endpoint, tag)) return tag;

  const { log } = options;
  log(`mcp-lok: building the sandbox image ${tag} (first run only)...`);
  const usedBase = await ensureBaseImage(endpoint, base, log);
  // Another process may have finished the same build meanwhile.
  if (await imageExists(endpoint, tag)) return tag;
  await buildSandbox(endpoint, { files, tag, base: usedBase, log });
  if (!(await imageExists(endpoint, tag))) {
    throw new LokError('IMAGE_BUILD_FAILED', `The engine finished building ${tag} but does not list it.`, { exitCode: EXIT.engine });
  }
  return tag;
}

/** Returns the base to build on: the local or pulled `base`, else a stand-in made from this machine. */
async function ensureBaseImage(endpoint: EngineEndpoint, base: string, log: (line: string) => void): Promise<string> {
  if (await imageExists(endpoint, base)) return base;
  let reason: string;
  try {
    await pullImage(endpoint, base, (event) => {
      // Per-layer status changes only; byte-progress events would flood the log.
      if (typeof event.status === 'string' && event.progress === undefined && event.status !== 'Waiting') {
        log(`mcp-lok: pull: ${typeof event.id === 'string' ? `${event.id}: ` : ''}${event.status}`);
      }
    });
    if (await imageExists(endpoint, base)) return base;
    reason = 'the engine does not list it after pulling';
  } catch (error) {
    reason = shortReason(error);
  }
  const { ensureLocalBase, inspectHostRuntime } = await import('./base-image.js');
  let host;
  try {
    host = await inspectHostRuntime();
  } catch (error) {
    const inner = error instanceof LokError ? error : undefined;
    throw new LokError('IMAGE_BUILD_FAILED', `Cannot pull ${base} (${reason}). ${inner?.message ?? String(error)}`, {
      exitCode: EXIT.engine, hint: inner?.hint ?? `Make ${base} available to the engine (docker pull ${base}).`, cause: error,
    });
  }
  log(`mcp-lok: cannot pull ${base} (${reason}); building an equivalent base from this machine's Node ${host.nodeVersion} and npm ${host.npmVersion} instead.`);
  return ensureLocalBase(endpoint, log, host);
}

/**
 * Builds the sandbox image from the context files, sent as a tar made from the same bytes
 * that were hashed into its tag; build output goes to `log` line by line.
 */
async function buildSandbox(
  endpoint: EngineEndpoint,
  build: { files: ContextFile[]; tag: string; base: string; log: (line: string) => void },
): Promise<void> {
  const context = packTar(build.files.map((f) => ({ name: f.name, content: f.content, mode: CONTEXT_FILE_MODE })));
  try {
    await buildImage(endpoint, context, {
      tag: build.tag,
      dockerfile: DOCKERFILE,
      buildArgs: { BASE: build.base },
      labels: { 'mcp-lok': 'true', 'mcp-lok-base': build.base },
    }, (event) => {
      if (typeof event.stream !== 'string') return;
      for (const line of textLines(event.stream)) build.log(`mcp-lok: build: ${line.trim()}`);
    });
  } catch (error) {
    throw new LokError('IMAGE_BUILD_FAILED', `Building the sandbox image ${build.tag} on ${build.base} failed: ${engineErrorText(error)}`, {
      exitCode: EXIT.engine, hint: 'Run again with --debug for the build output, or check the engine\'s disk space.', cause: error,
    });
  }
}

/** Returns an engine error short enough for one line (no request preamble, capped). */
export function shortReason(error: unknown): string {
  // `Get "https://registry-1.docker.io/v2/": dial tcp: lookup ...: no such host`
  const text = engineErrorText(error).replace(/^(?:Get|Head|Post) "[^"]*": /, '');
  return text.length > MAX_REASON_CHARS ? `${text.slice(0, MAX_REASON_CHARS - 3)}...` : text;
}

/**
 * Makes sure an image is on the engine, pulling it (progress through `log`) when it is not;
 * a failed pull is one line naming the image and the engine's reason.
 */
export async function ensureImagePresent(endpoint: EngineEndpoint, ref: string, log: (line: string) => void, options: { allowPull?: boolean } = {}): Promise<void> {
  if (await imageExists(endpoint, ref)) return;
  if (options.allowPull === false) {
    throw new LokError('NOT_FOUND', `The image ${ref} is not on this machine, and this start may not download it.`, { exitCode: EXIT.failure, hint: 'Set `allowPull: true` if the user wants the engine to pull it, or pull it yourself first.' });
  }
  log(`mcp-lok: pulling ${ref}...`);
  try {
    await pullImage(endpoint, ref, (event) => {
      if (typeof event.status === 'string' && !/Downloading|Extracting|Waiting/.test(event.status)) log(`mcp-lok: pull: ${event.status}`);
    });
  } catch (error) {
    throw new LokError('ENGINE_ERROR', `Cannot pull the image ${ref}: ${shortReason(error)}.`, { exitCode: EXIT.engine, hint: 'Check the name, or pull or build it yourself first.' });
  }
  if (!(await imageExists(endpoint, ref))) {
    throw new LokError('ENGINE_ERROR', `The engine pulled ${ref} but does not list it.`, { exitCode: EXIT.engine });
  }
}
