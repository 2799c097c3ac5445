import { PassThrough } from 'node:stream';
import { runContainer } from '../stdio/run-container.js';
import type { EngineEndpoint } from '../engine/endpoint.js';
import { LokError, EXIT } from '../errors.js';
import { buildContainerSpec, type MountPlan, type SandboxPlan } from '../sandbox/build-spec.js';
import { DEFAULT_NOFILE, type SandboxUser } from '../sandbox/hardening.js';

/** mcp-lok's helper containers (ingress, egress) forward bytes: small limits suit them. */
const SIDECAR_MEMORY_BYTES = 64 * 1024 ** 2;
const SIDECAR_PIDS = 32;

/** One of mcp-lok's helper containers beside a sandbox. */
export interface SidecarSpec {
  endpoint: EngineEndpoint;
  name: string;
  /** What to call it in an error ("the ingress sidecar"). */
  what: string;
  image: string;
  user?: SandboxUser | undefined;
  cmd: string[];
  env?: Record<string, string>;
  mounts: MountPlan[];
  /** Containers whose volumes it mounts (`ID:ro`). */
  volumesFrom?: string[] | undefined;
  network: SandboxPlan['network'];
  labels: Record<string, string>;
  /**
   * A line for its stdin, which stays open until it stops: settings that must not show in the
   * container's configuration (`docker inspect` shows its environment and command).
   */
  stdinLine?: string;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** A host directory its reaper removes too. */
  cleanupDir?: string;
  /** Added to the error when it exits before running (its last words, say). */
  exitDetail?: () => string;
}

export interface Sidecar {
  id: string;
  /** Resolves with its exit code once it is gone. */
  exited: Promise<number>;
  /** Stops it; resolves once it is gone. */
  stop: () => Promise<void>;
  /** True once aborted by `stop`. */
  readonly stopping: boolean;
}

/**
 * Creates and starts a helper container through the one pure builder (the hardening of every
 * sandbox, small limits, a reaper tied to this process), resolving once it runs.
 */
export async function startSidecar(spec: SidecarSpec): Promise<Sidecar> {
  const abort = new AbortController();
  const body = buildContainerSpec({
    name: spec.name, user: spec.user, image: spec.image, cmd: spec.cmd, env: spec.env ?? {}, mounts: spec.mounts, volumesFrom: spec.volumesFrom,
    memoryBytes: SIDECAR_MEMORY_BYTES, cpus: 1, pids: SIDECAR_PIDS, nofile: DEFAULT_NOFILE, podman: spec.endpoint.podman,
    network: spec.network, labels: spec.labels, interactive: spec.stdinLine !== undefined, autoRemove: true,
  });
  // Ending it would stop the sidecar (stdin EOF is how a client says it is done).
  const stdin = spec.stdinLine === undefined ? undefined : new PassThrough();
  stdin?.write(`${spec.stdinLine}\n`);
  let markStarted!: (id: string) => void;
  const started = new Promise<string>((resolve) => { markStarted = resolve; });
  const exited = runContainer(spec.endpoint, spec.name, body, {
    ...(stdin ? { stdin } : {}), onStdout: spec.onStdout ?? (() => {}), onStderr: spec.onStderr ?? (() => {}),
  }, { channel: { kind: 'attach' }, reaper: true, handleSignals: false, cleanupDir: spec.cleanupDir, signal: abort.signal, onStarted: markStarted });
  const stop = async (): Promise<void> => { abort.abort(); await exited.catch(() => {}); };
  const id = await Promise.race([started, exited.then((code) => {
    throw new LokError('ENGINE_ERROR', `${spec.what[0]?.toUpperCase()}${spec.what.slice(1)} exited (code ${code})${spec.exitDetail?.() ?? ''}.`, { exitCode: EXIT.engine });
  })]);
  return { id, exited, stop, get stopping() { return abort.signal.aborted; } };
}

/**
 * Resolves once a started sidecar says it is ready (its `ready` promise), and stops it and
 * throws when it exits first or takes longer than `timeoutMs`, naming `what` and its last words.
 */
export async function awaitSidecarReady(sidecar: Sidecar, ready: Promise<void>, what: string, timeoutMs: number, lastWords: () => string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const What = `${what[0]?.toUpperCase()}${what.slice(1)}`;
  try {
    await Promise.race([
      ready,
      sidecar.exited.then((code) => {
        throw new LokError('ENGINE_ERROR', `${What} exited (code ${code}) before it was ready${lastWords()}.`, { exitCode: EXIT.engine });
      }),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new LokError('ENGINE_ERROR', `${What} did not start within ${timeoutMs / 1000}s.`, { exitCode: EXIT.engine })), timeoutMs);
      }) as Promise<never>,
    ]);
  } catch (error) {
    await sidecar.stop();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
