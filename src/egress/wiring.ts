import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { escapeControl } from '../control-chars.js';
import { LokError, EXIT } from '../errors.js';
import type { Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { createSandboxDir } from '../state/run-dirs.js';
import { FIFO_MOUNT } from '../sandbox/hardening.js';
import { EGRESS_FORWARD_PORT, EGRESS_SOCKET } from './forwarder.js';
import { splitLines, textLines } from '../lines.js';
import type { Context } from '../app/context.js';
import type { EngineEndpoint } from '../engine/endpoint.js';
import { startEgressProxy, type EgressEntry, type UpstreamProxy } from './proxy.js';
import type { MountPlan } from '../sandbox/build-spec.js';
import { buildLabels, type LabelInput } from '../sandbox/labels.js';
import type { OutboundRules } from '../sandbox/profile-validate.js';
import { logFiles, logMaxBytes, rotateBeforeAppend } from '../state/log-rotation.js';
import { currentOwner } from '../state/owner.js';
import { awaitSidecarReady, startSidecar } from './sidecar.js';

const PROXY_URL = `http://127.0.0.1:${EGRESS_FORWARD_PORT}`;

/** What a sandbox with an allowlist is told: its only way out is the proxy on its loopback. */
export const EGRESS_PROXY_ENV: Readonly<Record<string, string>> = {
  HTTP_PROXY: PROXY_URL,
  HTTPS_PROXY: PROXY_URL,
  http_proxy: PROXY_URL,
  https_proxy: PROXY_URL,
  // Node >= 24 (node:24-alpine) sends fetch through the proxy with this; npm reads its own.
  NODE_USE_ENV_PROXY: '1',
  npm_config_proxy: PROXY_URL,
  npm_config_https_proxy: PROXY_URL,
  NO_PROXY: 'localhost,127.0.0.1,::1',
  no_proxy: 'localhost,127.0.0.1,::1',
};

/** Returns this machine's own addresses: a sandbox never reaches them unless named by IP. */
export function listHostAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
}

/** Returns where a server's egress log is kept (JSON lines). */
export function egressLogPath(stateDir: string, server: string): string {
  return join(stateDir, 'egress', `${server}.jsonl`);
}

/** Returns a server's egress log entries, oldest first (the rotated file's too); NOT_FOUND when it has none. */
export function readEgressLog(stateDir: string, server: string): EgressEntry[] {
  let text = '';
  const files = logFiles(egressLogPath(stateDir, server));
  try {
    for (const file of files) text += readFileSync(file, 'utf8');
  } catch { /* removed meanwhile: as if absent */ }
  if (files.length === 0 || text === '') {
    throw new LokError('NOT_FOUND', `No egress log for "${server}": it never had an outbound allowlist, or made no attempt.`, { exitCode: EXIT.failure });
  }
  return textLines(text).map((line) => JSON.parse(line) as EgressEntry);
}

/** Whose egress log the attempts go to, and how refusals are told. */
export interface EgressRecordOptions {
  server: string;
  profile: string;
  /** Announce refusals on stderr (the shim) or only log them (background servers, installs). */
  announce?: boolean | undefined;
}

/**
 * Returns what is done with each outbound attempt: it is appended to the server's egress log,
 * and a refusal tells the user, on stderr, the profile change that would allow it.
 */
export function createEgressRecorder(ctx: Context, options: EgressRecordOptions): (entry: EgressEntry) => void {
  const logPath = egressLogPath(ctx.paths.state, options.server);
  const maxBytes = logMaxBytes(ctx.env);
  mkdirSync(join(ctx.paths.state, 'egress'), { recursive: true, mode: 0o700 });
  return (entry) => {
    const line = `${JSON.stringify(entry)}\n`;
    try {
      rotateBeforeAppend(logPath, Buffer.byteLength(line), maxBytes);
      appendFileSync(logPath, line);
    } catch { /* the log must not break the server */ }
    // The host (and so the reason) is what the sandbox asked for: it goes to a terminal escaped.
    if (!entry.allowed) (options.announce === false ? ctx.debug : ctx.log)(escapeControl(`mcp-lok: egress denied: ${entry.reason ?? `${entry.host}:${entry.port}`}; to allow it, ${entry.fix ?? 'change the profile'} in profile ${options.profile}.`));
  };
}

/** The longest Unix socket path the kernel takes (sun_path less its final NUL); a longer one is silently cut. */
export const MAX_SOCKET_PATH_BYTES = process.platform === 'darwin' ? 103 : 107;

/**
 * Starts the egress proxy for one sandbox on a socket beside its pipes (an engine on this
 * machine's kernel), recording every attempt (see createEgressRecorder). A path too long for a
 * socket is refused before anything listens: Node would bind a shortened one elsewhere.
 */
export async function startSandboxEgress(
  ctx: Context,
  options: EgressRecordOptions & { dir: string; rules: OutboundRules; upstreamProxy?: UpstreamProxy | undefined },
): Promise<Server> {
  const record = createEgressRecorder(ctx, options);
  const socketPath = join(options.dir, EGRESS_SOCKET);
  const bytes = Buffer.byteLength(socketPath);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new LokError('INVALID_INPUT', `The egress proxy's socket ${socketPath} is too long for a Unix socket (${bytes} bytes; at most ${MAX_SOCKET_PATH_BYTES}).`, {
      exitCode: EXIT.engine, hint: 'Set MCP_LOK_HOME to a shorter folder, such as ~/.mcp-lok.',
    });
  }
  const server = await startEgressProxy({ socketPath, rules: options.rules, hostAddresses: listHostAddresses(), record, upstreamProxy: options.upstreamProxy });
  try {
    // The sandbox user is not ours; the pipes' 0700 parent keeps other host users out.
    chmodSync(socketPath, 0o666);
  } catch (error) {
    server.close();
    throw error;
  }
  server.unref();
  return server;
}

const SIDECAR_READY_TIMEOUT_MS = 30_000;
/** Longest line the sidecar may print (one log entry); stops it from filling our memory. */
const MAX_SIDECAR_LINE_BYTES = 64 * 1024;

/** The egress proxy running in a sidecar container, for an engine in a VM or across TCP. */
export interface EgressSidecar {
  /** The sidecar's id: a sandbox mounts its socket's volume with `volumesFrom: [`${id}:ro`]`. */
  id: string;
  /** Stops the sidecar; resolves once it is gone, with its volume. */
  stop: () => Promise<void>;
}

export interface EgressSidecarOptions extends EgressRecordOptions {
  endpoint: EngineEndpoint;
  /** The sidecar's own container name. */
  containerName: string;
  /** The sandbox image (it holds the sidecar script and the compiled proxy). */
  image: string;
  rules: OutboundRules;
  launcher: LabelInput['launcher'];
  /** The user's own proxy, which the sidecar goes through. */
  upstreamProxy?: UpstreamProxy | undefined;
}

function isEgressEntry(value: unknown): value is EgressEntry {
  const e = value as Partial<EgressEntry> | null;
  return typeof e === 'object' && e !== null && typeof e.host === 'string' && typeof e.port === 'number' && typeof e.allowed === 'boolean';
}

/**
 * Starts mcp-lok's egress proxy in a sidecar container, for an engine that cannot mount a
 * socket from this machine (a VM, TCP). The sidecar is the only container with a network; its
 * socket is in an anonymous volume that the sandbox mounts read-only, and each attempt it
 * reports is recorded as startSandboxEgress records it. Resolves once the proxy listens.
 */
export async function startEgressSidecar(ctx: Context, options: EgressSidecarOptions): Promise<EgressSidecar> {
  const record = createEgressRecorder(ctx, options);
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => { markReady = resolve; });
  let isReady = false;
  const errors: string[] = [];
  const lastWords = (): string => (errors.length > 0 ? `: ${errors.join(' ')}` : '');
  const onLine = (line: string): void => {
    let message: unknown;
    try { message = JSON.parse(line); } catch { ctx.debug(`egress sidecar: ${line}`); return; }
    if ((message as { ready?: unknown } | null)?.ready === true) { isReady = true; markReady(); return; }
    if (isEgressEntry(message)) record(message);
  };
  const sidecar = await startSidecar({
    endpoint: options.endpoint, name: options.containerName, what: 'the egress sidecar', image: options.image,
    cmd: ['node', '/opt/mcp-lok/egress-sidecar.mjs', `${FIFO_MOUNT}/${EGRESS_SOCKET}`],
    // It refuses this machine's addresses; it adds its own and its gateway's (the VM) itself.
    // On stdin: the proxy's credentials must not show in `docker inspect`.
    stdinLine: JSON.stringify({ rules: options.rules, refuse: listHostAddresses(), upstreamProxy: options.upstreamProxy }),
    // Anonymous: the engine removes it with the auto-removed sidecar.
    mounts: [{ type: 'volume', source: '', target: FIFO_MOUNT, readOnly: false }],
    // The only container with a network: the proxy in it decides what the sandbox reaches.
    network: 'bridge',
    labels: buildLabels({
      name: options.server, role: 'egress', launcher: options.launcher, transport: 'stdio', profile: options.profile,
      packages: [], image: options.image, owner: currentOwner(),
    }),
    onStdout: splitLines(onLine, { maxLineBytes: MAX_SIDECAR_LINE_BYTES }),
    onStderr: splitLines((line) => {
      if (isReady) ctx.debug(`egress sidecar: ${line}`);
      else if (errors.push(line) > 3) errors.shift();
    }, { maxLineBytes: MAX_SIDECAR_LINE_BYTES }),
    exitDetail: () => ` before its proxy listened${lastWords()}`,
  });
  await awaitSidecarReady(sidecar, ready, 'the egress sidecar', SIDECAR_READY_TIMEOUT_MS, lastWords);
  void sidecar.exited.then((code) => {
    if (!sidecar.stopping) ctx.log(`mcp-lok: the egress sidecar exited (code ${code}); ${options.server} can no longer reach the network.`);
  }, () => {});
  return { id: sidecar.id, stop: sidecar.stop };
}

/** How a container reaches one sandbox's egress proxy: its socket appears at FIFO_MOUNT/EGRESS_SOCKET. */
export interface EgressAccess {
  /** Read-only mounts that carry the socket (an engine on this machine's kernel). */
  mounts: MountPlan[];
  /** The sidecar whose volume carries the socket, read-only (an engine in a VM or over TCP). */
  volumesFrom: string[] | undefined;
  /** The socket's directory on this machine, for a reaper to remove if this process dies. */
  dir: string | undefined;
  /** Stops the proxy (and its sidecar, with its volume). */
  close: () => Promise<void>;
}

export interface OpenEgressOptions extends EgressRecordOptions {
  endpoint: EngineEndpoint;
  /** The engine can mount a socket from this machine (else the proxy runs in a sidecar). */
  local: boolean;
  rules: OutboundRules;
  /** The sandbox image (the sidecar runs the proxy from it). */
  image: string;
  /** The sidecar's container name, when there is one. */
  containerName: string;
  launcher: LabelInput['launcher'];
  upstreamProxy?: UpstreamProxy | undefined;
}

/**
 * Starts an egress proxy for one sandbox, wherever its engine can reach it: in mcp-lok, on a
 * socket in a private directory to bind-mount (an engine on this machine's kernel), or in a
 * sidecar whose volume holds the socket (an engine in a VM or over TCP).
 */
export async function openEgress(ctx: Context, options: OpenEgressOptions): Promise<EgressAccess> {
  const record = { server: options.server, profile: options.profile, announce: options.announce };
  if (!options.local) {
    const sidecar = await startEgressSidecar(ctx, {
      ...record, endpoint: options.endpoint, containerName: options.containerName, image: options.image, rules: options.rules,
      launcher: options.launcher, upstreamProxy: options.upstreamProxy,
    });
    return { mounts: [], volumesFrom: [`${sidecar.id}:ro`], dir: undefined, close: sidecar.stop };
  }
  // Named after the server, so the orphan sweep keeps it while any of the server's containers lives.
  const dir = await createSandboxDir(join(ctx.paths.state, 'run'), `${options.server}.${randomBytes(4).toString('hex')}`);
  let server: Server;
  try {
    server = await startSandboxEgress(ctx, { ...record, dir, rules: options.rules, upstreamProxy: options.upstreamProxy });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    mounts: [{ type: 'bind', source: dir, target: FIFO_MOUNT, readOnly: true }],
    volumesFrom: undefined,
    dir,
    close: async () => { server.close(); await rm(dir, { recursive: true, force: true }).catch(() => {}); },
  };
}
