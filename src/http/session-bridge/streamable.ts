import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BackendHandlers, BridgeCore, BridgeSession, SessionBackend, TransportHandler } from './bridge.js';
import { MAX_MESSAGE_BYTES } from '../../lines.js';
import { formatJsonRpcError } from '../json-rpc.js';
import { answerStatus, checkRequestHeaders, isModernMessage, isModernVersion, type Message } from '../../era/translate.js';
import { Backpressure } from './backpressure.js';
import { isJsonContentType, MAX_BATCH_MESSAGES, messageKind, readPostedMessages, sendJsonRpcError, splitJsonArray, toSingleLine } from './json-lines.js';

/** Server messages kept for a standalone stream not yet open; older ones are dropped first. */
const MAX_QUEUED_MESSAGES = 1000;
/** What those messages may hold in all (one message of the largest size fits). */
const MAX_QUEUED_CHARS = MAX_MESSAGE_BYTES;
/** Keep-alive ticks (15 s each) a POST may wait without headers before it becomes a stream. */
const MAX_HELD_TICKS = 2;
const PROTOCOL_VERSION = /^\d{4}-\d{2}-\d{2}$/;
const KEEPALIVE = ': keepalive\n\n';

/** One POST carrying requests, waiting for their responses. */
interface Exchange {
  readonly res: ServerResponse;
  /** JSON.stringify(id) of each request it carried. */
  readonly keys: string[];
  readonly progressKeys: string[] | undefined;
  readonly json: boolean;
  readonly sse: boolean;
  readonly born: number;
  remaining: number;
  streaming: boolean;
  collected: string[] | undefined;
  done: boolean;
}

type ClientRequest = { id: string | number; params?: { _meta?: { progressToken?: unknown } } };
type ServerMessage = { id?: unknown; method?: unknown; params?: { progressToken?: unknown } };

function sseEvent(line: string): string {
  return `event: message\ndata: ${line}\n\n`;
}

function isGone(res: ServerResponse): boolean {
  return res.destroyed || !res.socket || res.socket.destroyed;
}

/** A streamable-HTTP session: routes each server message to the HTTP response it belongs to. */
class StreamableSession implements BridgeSession, BackendHandlers {
  backend: SessionBackend | undefined;
  ended: string | undefined;
  private readonly pending = new Map<string, Exchange>();
  private readonly progress = new Map<string, Exchange>();
  private readonly posts = new Set<Exchange>();
  private getStream: ServerResponse | undefined;
  private queue: string[] = [];
  private queuedChars = 0;
  private readonly flow = new Backpressure(() => this.backend?.resume());
  private idleSince = performance.now();
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly jsonHead: string[];
  private readonly sseHead: string[];

  constructor(readonly id: string, private readonly core: BridgeCore) {
    this.jsonHead = ['content-type', 'application/json', 'mcp-session-id', id];
    this.sseHead = ['content-type', 'text/event-stream', 'cache-control', 'no-cache, no-transform', 'x-accel-buffering', 'no', 'mcp-session-id', id];
  }

  readonly onMessage = (line: string): boolean => {
    this.take(line);
    return this.flow.clear;
  };

  readonly onEnd = (message: string): void => this.end(message);

  private take(line: string): void {
    if (this.ended !== undefined) return;
    let msg: ServerMessage;
    try {
      msg = JSON.parse(line) as ServerMessage;
    } catch {
      this.core.log(`session ${this.id}: dropped a line from the server that is not JSON`);
      return;
    }
    if (typeof msg !== 'object' || msg === null) return;
    if (Array.isArray(msg)) {
      for (const part of splitJsonArray(line)) this.take(part);
      return;
    }
    if (line.includes('\r')) line = line.replace(/\r/g, ' ');
    if (typeof msg.method === 'string') {
      this.route(line, msg);
      return;
    }
    const key = idKey(msg.id);
    const ex = key === undefined ? undefined : this.pending.get(key);
    if (ex === undefined) return;
    this.pending.delete(key!);
    this.deliver(ex, line, --ex.remaining === 0);
  }

  /** Sends a notification or server-to-client request where the client will read it. */
  private route(line: string, msg: ServerMessage): void {
    if (msg.method === 'notifications/progress' && msg.params?.progressToken !== undefined) {
      const token = idKey(msg.params.progressToken);
      const ex = token === undefined ? undefined : this.progress.get(token);
      if (ex?.sse) return this.push(ex, line);
    }
    if (this.getStream !== undefined) {
      this.flow.write(this.getStream, sseEvent(line));
      return;
    }
    for (const ex of this.posts) if (ex.sse) return this.push(ex, line);
    while (this.queue.length > 0 && (this.queue.length >= MAX_QUEUED_MESSAGES || this.queuedChars + line.length > MAX_QUEUED_CHARS)) {
      this.queuedChars -= this.queue.shift()!.length;
    }
    this.queue.push(line);
    this.queuedChars += line.length;
  }

  private push(ex: Exchange, line: string): void {
    if (!ex.streaming) this.startStream(ex);
    this.flow.write(ex.res, sseEvent(line));
  }

  private startStream(ex: Exchange): void {
    ex.streaming = true;
    ex.res.writeHead(200, this.sseHead);
  }

  /** Writes a response to its POST, choosing JSON when it is the only message and the client takes JSON. */
  private deliver(ex: Exchange, line: string, final: boolean): void {
    if (!ex.streaming && final && ex.json && ex.collected === undefined) {
      ex.res.writeHead(200, this.jsonHead);
      this.flow.end(ex.res, line);
    } else if (ex.streaming || ex.sse) {
      if (!ex.streaming) this.startStream(ex);
      if (final) this.flow.end(ex.res, sseEvent(line));
      else this.flow.write(ex.res, sseEvent(line));
    } else {
      (ex.collected ??= []).push(line);
      if (final) {
        ex.res.writeHead(200, this.jsonHead);
        this.flow.end(ex.res, `[${ex.collected.join(',')}]`);
      }
    }
    if (final) this.finish(ex);
  }

  private finish(ex: Exchange): void {
    ex.done = true;
    this.posts.delete(ex);
    if (ex.progressKeys !== undefined) for (const k of ex.progressKeys) if (this.progress.get(k) === ex) this.progress.delete(k);
    this.idleSince = performance.now();
  }

  private abandon(ex: Exchange): void {
    if (ex.done) return;
    for (const k of ex.keys) if (this.pending.get(k) === ex) this.pending.delete(k);
    this.finish(ex);
  }

  /** Registers a POST's requests; returns an error message when an id is already waiting. */
  begin(res: ServerResponse, messages: readonly unknown[], json: boolean, sse: boolean): string | undefined {
    const keys: string[] = [];
    let progressKeys: string[] | undefined;
    for (const m of messages) {
      const msg = m as ClientRequest;
      if (!('method' in msg) || !('id' in msg)) continue;
      const key = JSON.stringify(msg.id);
      if (this.pending.has(key) || keys.includes(key)) return `Invalid Request: request id ${key} is already in use`;
      keys.push(key);
      const token = msg.params?._meta?.progressToken;
      const tokenKey = idKey(token);
      if (tokenKey !== undefined) (progressKeys ??= []).push(tokenKey);
    }
    const ex: Exchange = { res, keys, progressKeys, json, sse, born: this.core.tick, remaining: keys.length, streaming: false, collected: undefined, done: false };
    for (const k of keys) this.pending.set(k, ex);
    if (progressKeys !== undefined) for (const k of progressKeys) this.progress.set(k, ex);
    this.posts.add(ex);
    res.on('close', () => this.abandon(ex));
    return undefined;
  }

  /** Writes client messages to the server; on failure the session ends and false is returned. */
  forward(lines: readonly string[]): boolean {
    try {
      for (const line of lines) this.backend!.send(line);
      return true;
    } catch (error) {
      this.end(`the server could not be reached: ${error instanceof Error ? error.message : String(error)}`);
      return false;
    }
  }

  touch(): void {
    this.idleSince = performance.now();
  }

  hasStream(): boolean {
    return this.getStream !== undefined;
  }

  /** Makes `res` the session's standalone stream and flushes what was queued for it. */
  openStream(res: ServerResponse): void {
    res.writeHead(200, this.sseHead);
    if (this.queue.length > 0) this.flow.write(res, this.queue.map(sseEvent).join(''));
    else res.flushHeaders();
    this.queue = [];
    this.queuedChars = 0;
    this.getStream = res;
    res.on('close', () => {
      if (this.getStream !== res) return;
      this.getStream = undefined;
      this.touch();
    });
  }

  armIdle(delayMs = this.core.idleTimeoutMs): void {
    this.idleTimer = setTimeout(this.checkIdle, delayMs);
    this.idleTimer.unref();
  }

  private readonly checkIdle = (): void => {
    if (this.ended !== undefined) return;
    if (this.posts.size > 0 || this.getStream !== undefined) return this.armIdle();
    const quietMs = performance.now() - this.idleSince;
    if (quietMs >= this.core.idleTimeoutMs) this.end(`the session was idle for ${Math.round(quietMs)} ms`);
    else this.armIdle(this.core.idleTimeoutMs - quietMs);
  };

  keepAlive(): void {
    if (this.getStream !== undefined) this.flow.write(this.getStream, KEEPALIVE);
    for (const ex of this.posts) {
      if (!ex.streaming && ex.sse && this.core.tick - ex.born >= MAX_HELD_TICKS) this.startStream(ex);
      if (ex.streaming) this.flow.write(ex.res, KEEPALIVE);
    }
  }

  end(message: string): void {
    if (this.ended !== undefined) return;
    this.ended = message;
    clearTimeout(this.idleTimer);
    if (this.core.sessions.get(this.id) === this) {
      this.core.sessions.delete(this.id);
      this.core.log(`session ${this.id} closed: ${message}`);
    }
    for (const ex of [...this.posts]) {
      for (const k of ex.keys) {
        if (this.pending.get(k) !== ex) continue;
        this.pending.delete(k);
        this.deliver(ex, formatJsonRpcError(-32000, message, k), --ex.remaining === 0);
      }
    }
    this.getStream?.end();
    this.getStream = undefined;
    this.queue = [];
    this.queuedChars = 0;
    if (this.backend !== undefined) this.core.closeBackend(this.id, this.backend);
  }
}

function accepts(header: string | undefined, type: string, family: string): boolean {
  return header === undefined || header.includes(type) || header.includes(family) || header.includes('*/*');
}

/** Finds the session a request names, or answers 400/404 as the SDK does. */
function findSession(core: BridgeCore, req: IncomingMessage, res: ServerResponse): StreamableSession | undefined {
  const id = req.headers['mcp-session-id'];
  if (typeof id !== 'string' || id === '') {
    sendJsonRpcError(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');
    return undefined;
  }
  const session = core.sessions.get(id);
  if (!(session instanceof StreamableSession) || session.ended !== undefined) {
    sendJsonRpcError(res, 404, -32001, 'Session not found');
    return undefined;
  }
  const version = req.headers['mcp-protocol-version'];
  if (version !== undefined && (typeof version !== 'string' || !PROTOCOL_VERSION.test(version))) {
    sendJsonRpcError(res, 400, -32000, `Bad Request: Unsupported protocol version: ${String(version)}`);
    return undefined;
  }
  return session;
}

/**
 * The key of a JSON-RPC id or progress token (a string or a number); undefined for anything
 * else, which matches nothing (and a server's deeply nested one would overflow JSON.stringify).
 */
function idKey(value: unknown): string | undefined {
  return typeof value === 'string' || typeof value === 'number' ? JSON.stringify(value) : undefined;
}

async function openSession(core: BridgeCore, res: ServerResponse): Promise<StreamableSession | undefined> {
  const session = new StreamableSession(randomUUID(), core);
  const opened = await core.openBackend(session.id, session);
  if ('status' in opened) {
    sendJsonRpcError(res, opened.status, -32000, opened.message);
    return undefined;
  }
  session.backend = opened.backend;
  if (session.ended !== undefined) {
    core.closeBackend(session.id, opened.backend);
    sendJsonRpcError(res, 500, -32000, session.ended);
    return undefined;
  }
  if (isGone(res)) {
    session.end('the client went away');
    return undefined;
  }
  if (!core.register(session)) {
    session.end('the bridge closed');
    sendJsonRpcError(res, 503, -32000, 'the bridge is closing');
    return undefined;
  }
  session.armIdle();
  return session;
}

async function handlePost(core: BridgeCore, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const json = accepts(req.headers.accept, 'application/json', 'application/*');
  const sse = accepts(req.headers.accept, 'text/event-stream', 'text/*');
  if (!json && !sse) return sendJsonRpcError(res, 406, -32000, 'Not Acceptable: Client must accept application/json or text/event-stream');
  if (!isJsonContentType(req.headers['content-type'])) return sendJsonRpcError(res, 415, -32000, 'Unsupported Media Type: Content-Type must be application/json');
  let session: StreamableSession | undefined;
  if (req.headers['mcp-session-id'] !== undefined && !(session = findSession(core, req, res))) return;
  const posted = await readPostedMessages(req, res);
  if (!posted) return;
  const { body, batch, messages } = posted;
  if (session === undefined && !batch && core.era !== undefined && isModern(req, messages[0])) return handleModern(core, req, res, messages[0] as Message, json);
  if (messages.length === 0 || messages.length > MAX_BATCH_MESSAGES) return sendJsonRpcError(res, 400, -32600, `Invalid Request: a batch holds 1 to ${MAX_BATCH_MESSAGES} messages`);
  let requests = 0;
  let initialize = false;
  for (const m of messages) {
    const kind = messageKind(m);
    if (kind === undefined) return sendJsonRpcError(res, 400, -32600, 'Invalid Request: not a JSON-RPC 2.0 message');
    if (kind === 'request') {
      requests++;
      if ((m as { method: string }).method === 'initialize') initialize = true;
    }
  }
  if (initialize) {
    if (session !== undefined) return sendJsonRpcError(res, 400, -32600, 'Invalid Request: Server already initialized');
    if (messages.length > 1) return sendJsonRpcError(res, 400, -32600, 'Invalid Request: Only one initialization request is allowed');
    if (!(session = await openSession(core, res))) return;
  } else if (session === undefined) {
    return sendJsonRpcError(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');
  } else if (session.ended !== undefined) {
    return sendJsonRpcError(res, 404, -32001, 'Session not found');
  }
  const lines = batch ? splitJsonArray(body).map(toSingleLine) : [toSingleLine(body)];
  if (requests === 0) {
    session.touch();
    if (!session.forward(lines)) return sendJsonRpcError(res, 500, -32000, session.ended!);
    res.writeHead(202);
    res.end();
    return;
  }
  const refusal = session.begin(res, messages, json, sse);
  if (refusal !== undefined) return sendJsonRpcError(res, 400, -32600, refusal);
  session.forward(lines);
}

/** True for a message of the modern era (2026-07-28), which carries no session: by its `_meta`, or its version header. */
function isModern(req: IncomingMessage, message: unknown): boolean {
  if (isModernMessage(message)) return true;
  const kind = messageKind(message);
  return (kind === 'request' || kind === 'notification') && (message as { method: string }).method !== 'initialize' && isModernVersion(req.headers['mcp-protocol-version']);
}

/**
 * Serves one modern request through the era gateway: JSON when its answer comes alone and the
 * client takes JSON, else an SSE stream (its own notifications, then the answer); a
 * `subscriptions/listen` stream stays open until the client closes it.
 */
function handleModern(core: BridgeCore, req: IncomingMessage, res: ServerResponse, message: Message, json: boolean): void {
  const kind = messageKind(message);
  if (kind === 'notification') {
    // Over HTTP a client cancels by closing its response stream; a notification names ids any
    // client may use, so it is accepted and dropped, never matched against others' requests.
    res.writeHead(202);
    res.end();
    return;
  }
  if (kind !== 'request') return sendJsonRpcError(res, 400, -32600, 'Invalid Request: a modern POST carries one JSON-RPC request or notification');
  const header = (name: string): string | undefined => { const v = req.headers[name]; return typeof v === 'string' ? v : undefined; };
  const mismatch = checkRequestHeaders(message, { version: header('mcp-protocol-version'), method: header('mcp-method'), name: header('mcp-name') });
  if (mismatch !== undefined) {
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ jsonrpc: '2.0', id: message.id, error: mismatch }));
    return;
  }
  let streaming = false;
  let answered = false;
  const head = ['content-type', 'text/event-stream', 'cache-control', 'no-cache, no-transform', 'x-accel-buffering', 'no'];
  const cancel = core.era!.request(message as Message & { id: string | number; method: string }, req.headers.authorization ?? '', {
    notify: (line, resume) => {
      if (answered || isGone(res)) return true;
      if (!streaming) {
        streaming = true;
        res.writeHead(200, head);
        core.modernStreams.add(res);
      }
      if (res.write(sseEvent(toSingleLine(line)))) return true;
      const release = (): void => { res.off('drain', release); res.off('close', release); resume(); };
      res.on('drain', release);
      res.on('close', release);
      return false;
    },
    answer: (line) => {
      if (answered) return;
      answered = true;
      core.modernStreams.delete(res);
      if (isGone(res)) return;
      if (streaming) res.end(sseEvent(toSingleLine(line)));
      else if (json) {
        res.writeHead(answerStatus(line), { 'content-type': 'application/json' });
        res.end(line);
      } else {
        res.writeHead(200, head);
        res.end(sseEvent(toSingleLine(line)));
      }
    },
  });
  res.on('close', () => {
    core.modernStreams.delete(res);
    if (!answered) cancel();
  });
}

async function handleGet(core: BridgeCore, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!accepts(req.headers.accept, 'text/event-stream', 'text/*')) return sendJsonRpcError(res, 406, -32000, 'Not Acceptable: Client must accept text/event-stream');
  const session = findSession(core, req, res);
  if (session === undefined) return;
  if (session.hasStream()) return sendJsonRpcError(res, 409, -32000, 'Conflict: Only one SSE stream is allowed per session');
  session.openStream(res);
}

function handleDelete(core: BridgeCore, req: IncomingMessage, res: ServerResponse): void {
  const session = findSession(core, req, res);
  if (session === undefined) return;
  session.end('the client ended the session');
  res.writeHead(200);
  res.end();
}

/** Serves the streamable HTTP transport (MCP 2025-03-26 and later) at /mcp. */
export function createStreamableHandler(core: BridgeCore): TransportHandler {
  return async (req, res, path) => {
    if (path !== '/mcp') return sendJsonRpcError(res, 404, -32000, 'Not Found');
    switch (req.method) {
      case 'POST': return handlePost(core, req, res);
      case 'GET': return handleGet(core, req, res);
      case 'DELETE': return handleDelete(core, req, res);
      default: return sendJsonRpcError(res, 405, -32000, 'Method not allowed.', { allow: 'GET, POST, DELETE' });
    }
  };
}
