// The loopback sidecar: a container with no network whose network namespace a server joins, so
// the server's only neighbours are mcp-lok's forwarders on that loopback (ingress from the
// reverse proxy, egress to the egress proxy), and it needs no shell or Node of its own.
import { splitLines } from '../lines.js';
import { FIFO_MOUNT } from '../sandbox/hardening.js';
import { EGRESS_FORWARD_PORT, EGRESS_SOCKET } from './forwarder.js';
import type { Context } from '../app/context.js';
import type { EngineEndpoint } from '../engine/endpoint.js';
import type { MountPlan } from '../sandbox/build-spec.js';
import type { SandboxUser } from '../sandbox/hardening.js';
import type { EgressAccess } from './wiring.js';
import { awaitSidecarReady, startSidecar, type Sidecar } from './sidecar.js';

/** Where the ingress directory (the reverse proxy's socket) is mounted in the sidecar. */
export const INGRESS_MOUNT = '/run/mcp-lok-in';
export const INGRESS_SOCKET = 'http.sock';
const READY_TIMEOUT_MS = 30_000;
const MAX_LINE_BYTES = 64 * 1024;

export interface LoopbackSidecarOptions {
  endpoint: EngineEndpoint;
  name: string;
  /** The sandbox image (it holds the forwarder script). */
  image: string;
  user: SandboxUser;
  labels: Record<string, string>;
  /** Forward a socket in this host directory (mounted read-write) to the server's port. */
  ingress?: { dir: string; port: number } | undefined;
  /** Listen on 127.0.0.1:EGRESS_FORWARD_PORT for the server, forwarding to this egress proxy. */
  egress?: EgressAccess | undefined;
  onStderr: (chunk: Buffer) => void;
  /** A host directory its reaper removes too. */
  cleanupDir?: string | undefined;
}

/**
 * Starts a loopback sidecar (no network, the hardening of every sandbox) and resolves once its
 * forwarders listen; a server then joins it with `NetworkMode: container:ID`.
 */
export async function startLoopbackSidecar(ctx: Context, options: LoopbackSidecarOptions): Promise<Sidecar> {
  const mounts: MountPlan[] = [];
  const config: Record<string, unknown> = {};
  if (options.ingress) {
    mounts.push({ type: 'bind', source: options.ingress.dir, target: INGRESS_MOUNT, readOnly: false });
    config.ingress = { socket: `${INGRESS_MOUNT}/${INGRESS_SOCKET}`, port: options.ingress.port };
  }
  if (options.egress) {
    mounts.push(...options.egress.mounts);
    config.egress = { socket: `${FIFO_MOUNT}/${EGRESS_SOCKET}`, port: EGRESS_FORWARD_PORT };
  }
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => { markReady = resolve; });
  const words: string[] = [];
  const sidecar = await startSidecar({
    endpoint: options.endpoint, name: options.name, what: 'the loopback sidecar', image: options.image, user: options.user,
    cmd: ['node', '/opt/mcp-lok/loopback-sidecar.mjs', JSON.stringify(config)],
    mounts, volumesFrom: options.egress?.volumesFrom,
    // No network: the server that joins it has loopback and nothing else.
    network: 'none',
    labels: options.labels,
    onStdout: splitLines((line) => { if (line.includes('"ready":true')) markReady(); else ctx.debug(`loopback sidecar: ${line}`); }, { maxLineBytes: MAX_LINE_BYTES }),
    onStderr: (chunk) => { if (words.push(chunk.toString('utf8').trim()) > 3) words.shift(); options.onStderr(chunk); },
    cleanupDir: options.cleanupDir,
  });
  await awaitSidecarReady(sidecar, ready, 'the loopback sidecar', READY_TIMEOUT_MS, () => (words.length > 0 ? `: ${words.join(' ')}` : ''));
  return sidecar;
}
