import { randomBytes } from 'node:crypto';
import { chown, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createSandboxDir } from '../state/run-dirs.js';
import { splitLines } from '../lines.js';
import type { Context } from './context.js';
import { ensureSandboxImage } from '../prepare/images.js';
import { LokError, EXIT } from '../errors.js';
import { listenError } from '../http/listen-error.js';
import { startReverseProxy, type ReverseProxy } from '../http/reverse-proxy/proxy.js';
import { startStdioBridge, type OpenBackend, type StdioBridge } from '../http/session-bridge/bridge.js';
import { buildLabels } from '../sandbox/labels.js';
import { currentOwner } from '../state/owner.js';
import { openEgress, type EgressAccess } from '../egress/wiring.js';
import { INGRESS_SOCKET, startLoopbackSidecar } from '../egress/loopback.js';
import { createToolsWatch, holdPreparedTree, launchSandbox, openLegacySandbox, startServerPlan, toolsMessageHooks, type ServerPlan } from './run-server.js';
import { keepWatchingForUpdates } from './update-check.js';
import type { ServerRequest } from '../request/server-request.js';
import type { Sidecar } from '../egress/sidecar.js';

/** The port a server that listens itself is told to use (its network namespace is its own). */
export const DEFAULT_TARGET_PORT = 8080;
/** How long a server may take from start to answering (an install can precede it). */
const READY_TIMEOUT_MS = 60_000;
const PROBE_INTERVAL_MS = 100;
const BACKOFF_START_MS = 1000;
const BACKOFF_MAX_MS = 30_000;
/** A server that ran this long before crashing restarts without waiting. */
const HEALTHY_RUN_MS = 60_000;

export type HttpTransport = 'sse' | 'streamable-http';
/** `proxy`: the server listens itself, behind the reverse proxy; `bridge`: a stdio server, one sandbox per client session. */
export type ServeMode = 'proxy' | 'bridge';

/** One server to serve over HTTP, from `mcp-lok run` (foreground) or a `start` supervisor. */
export interface HttpServeRequest extends ServerRequest {
  transport: HttpTransport;
  listen: { host: string; port: number };
  /** The port the server listens on in its sandbox; set means it speaks HTTP itself. */
  targetPort: number | undefined;
  /** Known from an earlier start: skips finding out. */
  mode?: ServeMode | undefined;
  /** Names besides loopback that clients may use in Host (when bound beyond loopback). */
  extraNames?: string[];
  /** Clients must send `Authorization: Bearer <token>` when set. */
  token?: string | undefined;
}

/** What a supervisor reports about its server. */
export interface ServeStatus {
  state: 'starting' | 'running' | 'restarting' | 'waiting for the engine';
  restarts: number;
  sessions?: number;
  lastExit?: string;
}

/** A server being served: where clients go, and how to stop it. */
export interface HttpServing {
  name: string;
  url: string;
  mode: ServeMode;
  plan: ServerPlan;
  /** Stops the server, its containers and the listener. */
  close(): Promise<void>;
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

/** Resolves true once something answers HTTP on the socket. */
function probeHttp(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/', method: 'GET', headers: { host: 'localhost' }, timeout: 2000 }, (res) => { res.resume(); resolve(true); });
    req.on('error', () => resolve(false));
    req.on('timeout', () => { req.destroy(); resolve(false); });
    req.end();
  });
}

/** The sidecar that lets the proxy reach a server that listens itself: it owns the network namespace the server joins. */
interface Ingress {
  sidecar: Sidecar;
  socketPath: string;
  dir: string;
  /** The server's egress proxy, which the sidecar forwards 127.0.0.1:3128 to (a profile with outbound rules). */
  egress: EgressAccess | undefined;
  /** It is gone (an engine restart takes it too). */
  gone: boolean;
}

interface Running {
  exited: Promise<number>;
  stop: AbortController;
}

/**
 * Starts the ingress sidecar: a sandbox with no network (loopback only) whose namespace the
 * server joins, forwarding a Unix socket mounted from the host to the server's port, and, for a
 * profile with outbound rules, 127.0.0.1:3128 to the server's egress proxy (so a server from any
 * image reaches what its profile allows, and nothing else). The server depends on it, never the
 * reverse, so the server can be restarted (or removed, on Podman) while the sidecar, the
 * proxy's socket and the egress proxy stay.
 */
async function startIngress(ctx: Context, plan: ServerPlan, targetPort: number): Promise<Ingress> {
  const image = await ensureSandboxImage(plan.endpoint, { log: ctx.log });
  const name = `${plan.name}-in-${randomBytes(3).toString('hex')}`;
  // Named after the server, so the orphan sweep keeps it while the server's containers live.
  const dir = await createSandboxDir(join(ctx.paths.state, 'run'), `${plan.name}.${randomBytes(4).toString('hex')}`);
  if (process.getuid?.() === 0) await chown(dir, plan.user.uid, plan.user.gid);
  let egress: EgressAccess | undefined;
  let sidecar: Sidecar;
  try {
    if (plan.net.egress) {
      egress = await openEgress(ctx, {
        server: plan.name, profile: plan.profileName, announce: false, endpoint: plan.endpoint, local: plan.local,
        rules: plan.net.egress, image, containerName: `${name}-egress`, launcher: plan.launcher,
      });
    }
    sidecar = await startLoopbackSidecar(ctx, {
      endpoint: plan.endpoint, name, image, user: plan.user, ingress: { dir, port: targetPort }, egress,
      labels: buildLabels({ name: plan.name, role: 'ingress', launcher: plan.launcher, transport: 'stdio', profile: plan.profileName, packages: [], image, owner: currentOwner() }),
      onStderr: (chunk) => { ctx.stderr.write(chunk); }, cleanupDir: dir,
    });
  } catch (error) {
    await egress?.close();
    await rm(dir, { recursive: true, force: true }).catch(() => {});
    throw error;
  }
  const ingress: Ingress = { sidecar, socketPath: join(dir, INGRESS_SOCKET), dir, egress, gone: false };
  void sidecar.exited.catch(() => {}).finally(() => { ingress.gone = true; });
  return ingress;
}

async function stopIngress(ingress: Ingress | undefined): Promise<void> {
  if (!ingress) return;
  await ingress.sidecar.stop();
  await ingress.egress?.close();
  await rm(ingress.dir, { recursive: true, force: true }).catch(() => {});
}

/**
 * Starts the server container with PORT/MCP_PORT set and its stdin held open, in the ingress
 * sidecar's network namespace when there is one; when `detect`, also sends `initialize` on
 * stdin. Resolves with how the server answered: HTTP on the port (it listens itself) or a
 * JSON-RPC line on stdout (a stdio server).
 */
async function startServerContainer(
  ctx: Context, plan: ServerPlan, transport: HttpTransport, targetPort: number, detect: boolean, ingress: Ingress | undefined,
): Promise<{ running: Running; answered: ServeMode }> {
  const stdin = new PassThrough();
  const stop = new AbortController();
  let stdioAnswer!: () => void;
  const sawStdio = new Promise<ServeMode>((resolve) => { stdioAnswer = () => resolve('bridge'); });
  const detectLine = splitLines((line) => { if (line.includes('"jsonrpc"')) stdioAnswer(); });
  const onStdout = (chunk: Buffer): void => { ctx.stderr.write(chunk); if (detect) detectLine(chunk); };
  const exited = launchSandbox(ctx, plan, {
    containerName: `${plan.name}-${randomBytes(3).toString('hex')}`, role: 'run', transport,
    io: { stdin, onStdout, onStderr: (chunk) => { ctx.stderr.write(chunk); }, ...(ctx.stderrFd !== undefined ? { stderrFd: ctx.stderrFd } : {}) },
    env: { PORT: String(targetPort), MCP_PORT: String(targetPort) },
    handleSignals: false, signal: stop.signal, announceEgress: false, watched: plan.toolPin !== undefined,
    ...(ingress ? { joinNetworkOf: ingress.sidecar.id, egressInNamespace: ingress.egress !== undefined } : {}),
  });
  const died = exited.then((code) => { throw new LokError('SERVER_EXITED', `The server exited (code ${code}) before answering.`, { exitCode: EXIT.failure, hint: `Its output is above${plan.launcher === 'start' ? ` and in \`mcp-lok logs ${plan.name}\`` : ''}.` }); });
  died.catch(() => {});
  try {
    if (detect) {
      stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 'mcp-lok-probe', method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'mcp-lok', version: '0' } } })}\n`);
    }
    const deadline = Date.now() + READY_TIMEOUT_MS;
    const poll = async (): Promise<ServeMode> => {
      while (Date.now() < deadline && !stop.signal.aborted) {
        if (ingress && await probeHttp(ingress.socketPath)) return 'proxy';
        await delay(PROBE_INTERVAL_MS, stop.signal);
      }
      throw new LokError('SERVER_TIMEOUT', ingress
        ? `The server did not answer on port ${targetPort}${detect ? ' or on stdio' : ''} within ${READY_TIMEOUT_MS / 1000}s.`
        : `The server did not answer on stdio within ${READY_TIMEOUT_MS / 1000}s.`, {
        exitCode: EXIT.failure,
        hint: ingress ? 'If it listens on another port, pass it with --target-port.' : 'A server that listens itself needs an engine on this machine\'s kernel (Docker Engine or Podman on Linux) in this version.',
      });
    };
    const answered = await Promise.race([poll(), ...(detect ? [sawStdio] : []), died]);
    return { running: { exited, stop }, answered };
  } catch (error) {
    stop.abort();
    await exited.catch(() => {});
    throw error;
  }
}

async function stopRunning(running: Running | undefined): Promise<void> {
  if (!running) return;
  running.stop.abort();
  await running.exited.catch(() => {});
}

/**
 * Serves a server over HTTP on `listen`: behind the reverse proxy when it listens itself
 * (restarted with backoff when it crashes or the engine restarts), or, for a stdio server,
 * through the bridge with one sandbox per client session. Resolves once clients can connect.
 */
export async function serveHttp(ctx: Context, req: HttpServeRequest, onStatus: (status: ServeStatus) => void = () => {}): Promise<HttpServing> {
  const plan = await startServerPlan(ctx, req);
  // Its sessions and restarts start containers later: the tree stays held while it serves.
  const release = holdPreparedTree(ctx, plan);
  let serving: HttpServing;
  try {
    serving = await servePlan(ctx, plan, req, onStatus);
  } catch (error) {
    release();
    throw error;
  }
  // Once clients can connect, and only then, a look for a newer version of its pin (when one is
  // due), and again each day it keeps running.
  const updates = keepWatchingForUpdates(ctx, plan.endpoint, plan.prepared.pinned);
  updates.started();
  return { ...serving, close: async () => { await updates.stop(); await serving.close(); release(); } };
}

async function servePlan(ctx: Context, plan: ServerPlan, req: HttpServeRequest, onStatus: (status: ServeStatus) => void): Promise<HttpServing> {
  if (!plan.local && req.targetPort !== undefined) {
    throw new LokError('INVALID_INPUT', 'A server that listens itself (--target-port) needs an engine on this machine\'s kernel (Docker Engine or Podman on Linux) in this version.', {
      exitCode: EXIT.usage, hint: 'Run it where Docker or Podman runs natively, or use a stdio server (bridged to HTTP).',
    });
  }
  const targetPort = req.targetPort ?? DEFAULT_TARGET_PORT;
  let mode = req.mode ?? (req.targetPort !== undefined ? 'proxy' : undefined);
  const status: ServeStatus = { state: 'starting', restarts: 0 };
  const report = (change: Partial<ServeStatus>): void => { Object.assign(status, change); onStatus({ ...status }); };
  if (mode !== 'bridge') {
    // The sidecar's socket is mounted from this machine: an engine in a VM cannot offer it.
    const ingress = plan.local ? await startIngress(ctx, plan, targetPort) : undefined;
    let first: Awaited<ReturnType<typeof startServerContainer>>;
    try {
      first = await startServerContainer(ctx, plan, req.transport, targetPort, mode === undefined, ingress);
    } catch (error) {
      await stopIngress(ingress);
      throw error;
    }
    mode = first.answered;
    if (mode === 'proxy' && ingress) return serveProxy(ctx, plan, req, targetPort, ingress, first.running, report);
    await stopRunning(first.running);
    await stopIngress(ingress);
  }
  const bridge = await serveBridge(ctx, plan, req, report);
  return { name: plan.name, url: bridge.url, mode: 'bridge', plan, close: async () => { await bridge.close(); await ctx.swept(); } };
}

async function serveProxy(
  ctx: Context, plan: ServerPlan, req: HttpServeRequest, targetPort: number, firstIngress: Ingress, firstRunning: Running,
  report: (change: Partial<ServeStatus>) => void,
): Promise<HttpServing> {
  let proxy: ReverseProxy;
  let ingress: Ingress | undefined = firstIngress;
  // One watch for all the proxy's clients: the server's tools are the server's, whoever asks.
  const watch = plan.toolPin ? createToolsWatch(ctx, plan.toolPin) : undefined;
  const hooks = watch ? toolsMessageHooks(watch) : undefined;
  try {
    proxy = await startReverseProxy({
      listen: req.listen, upstream: { socketPath: firstIngress.socketPath }, upstreamHost: `localhost:${targetPort}`,
      extraNames: req.extraNames ?? [], token: req.token, hooks,
      // Failures go to the log (`mcp-lok logs NAME`); a line per request only with --debug.
      log: (line) => ctx.log(`mcp-lok: proxy: ${line}`), logRequest: (line) => ctx.debug(`proxy: ${line}`),
    });
  } catch (error) {
    await stopRunning(firstRunning);
    await stopIngress(firstIngress);
    throw listenError(error, req.listen);
  }
  report({ state: 'running' });
  const closing = new AbortController();
  let current: Running | undefined = firstRunning;
  const supervise = async (): Promise<void> => {
    let backoff = BACKOFF_START_MS;
    let restarts = 0;
    while (!closing.signal.aborted) {
      const startedAt = Date.now();
      if (current) {
        const code = await current.exited.catch((error: unknown) => `engine: ${(error as Error).message}`);
        current = undefined;
        if (closing.signal.aborted) return;
        if (Date.now() - startedAt >= HEALTHY_RUN_MS) backoff = BACKOFF_START_MS;
        ctx.log(`mcp-lok: ${plan.name} exited (${typeof code === 'number' ? `code ${code}` : code}); restarting in ${backoff / 1000}s.`);
        report({ state: 'restarting', lastExit: typeof code === 'number' ? `code ${code}` : code });
      }
      await delay(backoff, closing.signal);
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      if (closing.signal.aborted) return;
      try {
        // An engine restart takes the sidecar too: start a new one (a new socket for the proxy).
        if (!ingress || ingress.gone) {
          proxy.setUpstream(undefined);
          await stopIngress(ingress);
          ingress = undefined;
          ingress = await startIngress(ctx, plan, targetPort);
          proxy.setUpstream({ socketPath: ingress.socketPath });
        }
        current = (await startServerContainer(ctx, plan, req.transport, targetPort, false, ingress)).running;
        if (closing.signal.aborted) { await stopRunning(current); return; }
        restarts += 1;
        ctx.log(`mcp-lok: ${plan.name} is running again (restart ${restarts}).`);
        report({ state: 'running', restarts });
      } catch (error) {
        // A grant refused on its check again (a swapped path, a new socket) is no engine trouble.
        const refused = error instanceof LokError && error.code === 'PROFILE_INVALID';
        const engineDown = !refused && /engine|ECONNREFUSED|ENOENT|socket/i.test((error as Error).message);
        ctx.log(`mcp-lok: restarting ${plan.name} failed: ${(error as Error).message}`);
        report({ state: engineDown ? 'waiting for the engine' : 'restarting', lastExit: (error as Error).message });
      }
    }
  };
  const supervised = supervise();
  return {
    name: plan.name, url: `${proxy.url}${req.transport === 'sse' ? '/sse' : '/mcp'}`, mode: 'proxy', plan,
    close: async () => {
      closing.abort();
      await Promise.allSettled([proxy.close(), stopRunning(current)]);
      await supervised;
      // The server leaves first: it lives in the sidecar's namespace.
      await stopIngress(ingress);
      await watch?.settled();
      await ctx.swept();
    },
  };
}

async function serveBridge(ctx: Context, plan: ServerPlan, req: HttpServeRequest, report: (change: Partial<ServeStatus>) => void): Promise<StdioBridge> {
  let bridge: StdioBridge | undefined;
  const openBackend: OpenBackend = async (handlers, info) => {
    const backend = await openLegacySandbox(ctx, plan, {
      onMessage: handlers.onMessage,
      onEnd: (message) => { handlers.onEnd(message); report({ sessions: bridge?.sessionCount() ?? 0 }); },
    }, { containerName: `${plan.name}-${info.sessionId.replace(/-/g, '').slice(0, 12)}`, role: 'session', transport: req.transport, what: `this session (${info.sessionId})` });
    report({ sessions: (bridge?.sessionCount() ?? 0) + 1 });
    return backend;
  };
  try {
    bridge = await startStdioBridge({
      transport: req.transport, listen: req.listen, extraNames: req.extraNames ?? [], token: req.token, openBackend,
      log: (line) => ctx.log(`mcp-lok: bridge: ${line}`),
    });
  } catch (error) {
    throw listenError(error, req.listen);
  }
  report({ state: 'running', sessions: 0 });
  return bridge;
}
