import { runContainer } from '../bridge/run-container.js';
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
  network: SandboxPlan['network'];
  labels: Record<string, string>;
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
    name: spec.name, user: spec.user, image: spec.image, cmd: spec.cmd, env: spec.env ?? {}, mounts: spec.mounts,
    memoryBytes: SIDECAR_MEMORY_BYTES, cpus: 1, pids: SIDECAR_PIDS, nofile: DEFAULT_NOFILE, podman: spec.endpoint.podman,
    network: spec.network, labels: spec.labels, interactive: false, autoRemove: true,
  });
  let markStarted!: (id: string) => void;
  const started = new Promise<string>((resolve) => { markStarted = resolve; });
  const exited = runContainer(spec.endpoint, spec.name, body, {
    onStdout: spec.onStdout ?? (() => {}), onStderr: spec.onStderr ?? (() => {}),
  }, { bridge: { kind: 'attach' }, reaper: true, handleSignals: false, cleanupDir: spec.cleanupDir, signal: abort.signal, onStarted: markStarted });
  const stop = async (): Promise<void> => { abort.abort(); await exited.catch(() => {}); };
  const id = await Promise.race([started, exited.then((code) => {
    throw new LokError('ENGINE_ERROR', `${spec.what[0]?.toUpperCase()}${spec.what.slice(1)} exited (code ${code})${spec.exitDetail?.() ?? ''}.`, { exitCode: EXIT.engine });
  })]);
  return { id, exited, stop, get stopping() { return abort.signal.aborted; } };
}
