import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { EraGateway, type LegacyBackend, type LegacyHandlers } from '../../era/gateway.js';
import { MAX_CONNECTIONS, UncheckedConnections } from '../connection-guard.js';
import { checkBearerToken, checkRequestOrigin, listenerUrl, type ListenPolicy } from '../host-check.js';
import { sendJsonRpcError } from './json-lines.js';
import { createSseHandler } from './sse.js';
import { createStreamableHandler } from './streamable.js';

/** Callbacks a backend calls with what its MCP server does (the era gateway's sandboxes have the same). */
export type BackendHandlers = LegacyHandlers;

/** One MCP server serving exactly one client session. */
export type SessionBackend = LegacyBackend;

/** Starts a fresh MCP server for a new client session. */
export type OpenBackend = (handlers: BackendHandlers, info: { sessionId: string }) => Promise<SessionBackend>;

export interface StdioBridgeOptions {
  transport: 'streamable-http' | 'sse';
  /** Port 0 picks a free port. */
  listen: { host: string; port: number };
  extraNames?: readonly string[];
  /** Every request must carry `Authorization: Bearer <token>`. */
  token?: string | undefined;
  /** Host and Origin may name the listener on any port (in a pod, behind a Service); see ListenPolicy. */
  anyPort?: boolean | undefined;
  openBackend: OpenBackend;
  /** A streamable-HTTP session with no request in flight and no open stream for this long is closed. */
  idleTimeoutMs?: number;
  /** Beyond this many sessions new sessions get 503; stops one client from starting unbounded servers. */
  maxSessions?: number;
  log?: (line: string) => void;
}

export interface StdioBridge {
  readonly port: number;
  /** `http://host:port/mcp`, or `http://host:port/sse` for the SSE transport. */
  readonly url: string;
  sessionCount(): number;
  /** Closes every session's backend and the listener; resolves when all are closed. */
  close(): Promise<void>;
}

/** A session as the bridge sees it, whatever its transport. */
export interface BridgeSession {
  readonly id: string;
  /** Ends the session: streams end, requests still waiting get `message` as their error. */
  end(message: string): void;
  /** Called every keep-alive tick to keep idle streams from timing out in proxies and clients. */
  keepAlive(): void;
}

/** What a transport handler needs from the bridge. */
export interface BridgeCore {
  readonly sessions: Map<string, BridgeSession>;
  /** Serves modern (2026-07-28) requests, which carry no session, from pooled legacy sandboxes; streamable HTTP only. */
  readonly era: EraGateway | undefined;
  /** The open SSE responses of modern requests (listen streams, long calls): they get the keep-alive ticks too. */
  readonly modernStreams: Set<ServerResponse>;
  readonly idleTimeoutMs: number;
  /** Keep-alive ticks so far. */
  tick: number;
  log(line: string): void;
  /** Starts a backend for a new session, or says why not with an HTTP status. */
  openBackend(sessionId: string, handlers: BackendHandlers): Promise<OpenResult>;
  /** Adds an opened session; false when the bridge is closing and the session must end. */
  register(session: BridgeSession): boolean;
  /** Stops a backend in the background; the bridge's close() waits for it. */
  closeBackend(sessionId: string, backend: SessionBackend): void;
}

/** A started backend, or why none was started with the HTTP status to answer. */
export type OpenResult = { backend: SessionBackend } | { status: number; message: string };

export type TransportHandler = (req: IncomingMessage, res: ServerResponse, path: string, query: string) => Promise<void>;

const DEFAULT_IDLE_TIMEOUT_MS = 30 * 60_000;
const DEFAULT_MAX_SESSIONS = 32;
/** How often idle SSE streams get a comment, as the SDK does (15 s). */
const SSE_KEEPALIVE_MS = 15_000;

function normalizeOptions(options: StdioBridgeOptions): Required<Omit<StdioBridgeOptions, 'extraNames' | 'token' | 'anyPort'>> & { extraNames: readonly string[]; token: string | undefined; anyPort: boolean } {
  const o = Object.assign(Object.create(null) as object, options) as StdioBridgeOptions;
  const idleTimeoutMs = o.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const maxSessions = o.maxSessions ?? DEFAULT_MAX_SESSIONS;
  if (o.transport !== 'streamable-http' && o.transport !== 'sse') throw new TypeError(`Expected the \`transport\` option to be \`streamable-http\` or \`sse\`, got \`${String(o.transport)}\`.`);
  if (!Number.isInteger(o.listen?.port) || o.listen.port < 0 || o.listen.port > 65535) throw new TypeError(`Expected the \`listen.port\` option to be a port number, got \`${String(o.listen?.port)}\`.`);
  if (!(idleTimeoutMs > 0)) throw new TypeError(`Expected the \`idleTimeoutMs\` option to be a positive number of milliseconds, got \`${String(idleTimeoutMs)}\`.`);
  if (!Number.isInteger(maxSessions) || maxSessions < 1) throw new TypeError(`Expected the \`maxSessions\` option to be a positive integer, got \`${String(maxSessions)}\`.`);
  return { transport: o.transport, listen: o.listen, extraNames: o.extraNames ?? [], token: o.token, anyPort: o.anyPort === true, openBackend: o.openBackend, idleTimeoutMs, maxSessions, log: o.log ?? (() => {}) };
}

/** Serves a stdio MCP server over streamable HTTP or SSE, with a backend of its own for each client session. */
export async function startStdioBridge(options: StdioBridgeOptions): Promise<StdioBridge> {
  const opts = normalizeOptions(options);
  const sessions = new Map<string, BridgeSession>();
  const inFlight = new Set<Promise<unknown>>();
  let opening = 0;
  let closing = false;
  const track = (p: Promise<unknown>): void => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };
  const closeBackend = (sessionId: string, backend: SessionBackend): void => {
    track(backend.close().catch((error: unknown) => opts.log(`session ${sessionId}: stopping the server failed: ${String(error)}`)));
  };
  const era = opts.transport === 'streamable-http' ? new EraGateway({
    open: (handlers, info) => {
      if (closing) return Promise.reject(new Error('the bridge is closing'));
      const opened = opts.openBackend(handlers, { sessionId: info.id });
      track(opened);
      return opened;
    },
    maxSandboxes: opts.maxSessions,
    log: (line) => opts.log(`modern: ${line}`),
  }) : undefined;
  const core: BridgeCore = {
    sessions, era, modernStreams: new Set(), idleTimeoutMs: opts.idleTimeoutMs, tick: 0, log: opts.log, closeBackend,
    openBackend(sessionId, handlers) {
      if (closing) return Promise.resolve({ status: 503, message: 'the bridge is closing' });
      if (sessions.size + opening >= opts.maxSessions) return Promise.resolve({ status: 503, message: `too many sessions (at most ${opts.maxSessions})` });
      opening++;
      const opened = startBackend(sessionId, handlers).finally(() => opening--);
      track(opened);
      return opened;
    },
    register(session) {
      if (closing) return false;
      sessions.set(session.id, session);
      opts.log(`session ${session.id} opened`);
      return true;
    },
  };
  async function startBackend(sessionId: string, handlers: BackendHandlers): Promise<OpenResult> {
    try {
      const backend = await opts.openBackend(handlers, { sessionId });
      if (!closing) return { backend };
      closeBackend(sessionId, backend);
      return { status: 503, message: 'the bridge is closing' };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      opts.log(`session ${sessionId}: the server could not be started: ${message}`);
      return { status: 500, message: `the server could not be started: ${message}` };
    }
  }
  const policy: ListenPolicy = { host: opts.listen.host, port: opts.listen.port, extraNames: opts.extraNames, token: opts.token, anyPort: opts.anyPort };
  const handle = opts.transport === 'sse' ? createSseHandler(core) : createStreamableHandler(core);
  const unchecked = new UncheckedConnections();
  const server = createServer({ noDelay: true }, (req, res) => {
    const refusal = checkRequestOrigin(policy, req.headers.host, req.headers.origin);
    if (refusal !== undefined) return sendJsonRpcError(res, 403, -32000, `Forbidden: ${refusal}`);
    const unauthorized = checkBearerToken(policy, req.headers.authorization);
    if (unauthorized !== undefined) return sendJsonRpcError(res, 401, -32000, `Unauthorized: ${unauthorized}`, { 'www-authenticate': 'Bearer realm="mcp-lok"' });
    unchecked.passed(req.socket);
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    handle(req, res, q === -1 ? url : url.slice(0, q), q === -1 ? '' : url.slice(q + 1)).catch((error: unknown) => {
      opts.log(`request failed: ${String(error)}`);
      sendJsonRpcError(res, 500, -32603, 'Internal error');
    });
  });
  server.maxConnections = MAX_CONNECTIONS;
  server.on('connection', (socket: Socket) => unchecked.add(socket));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listen.port, opts.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as { port: number }).port;
  policy.port = port;
  const ticker = setInterval(() => {
    core.tick++;
    for (const session of sessions.values()) session.keepAlive();
    for (const res of core.modernStreams) res.write(': keepalive\n\n');
  }, SSE_KEEPALIVE_MS);
  ticker.unref();
  let closed: Promise<void> | undefined;
  return {
    port,
    url: `${listenerUrl(opts.listen.host, port)}${opts.transport === 'sse' ? '/sse' : '/mcp'}`,
    sessionCount: () => sessions.size,
    close() {
      closed ??= (async () => {
        closing = true;
        clearInterval(ticker);
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const session of [...sessions.values()]) session.end('the bridge closed');
        if (era) track(era.close());
        while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
        server.closeAllConnections();
        await stopped;
      })();
      return closed;
    },
  };
}
