import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BackendHandlers, BridgeCore, BridgeSession, SessionBackend, TransportHandler } from './bridge.js';
import { Backpressure } from './backpressure.js';
import { isJsonContentType, MAX_BATCH_MESSAGES, messageKind, readPostedMessages, sendJsonRpcError, splitJsonArray, toSingleLine } from './json-lines.js';

/** What the server may send before the stream opens, before its output waits for the stream. */
const MAX_EARLY_CHARS = 64 * 1024;
const SSE_HEAD = ['content-type', 'text/event-stream', 'cache-control', 'no-cache, no-transform', 'x-accel-buffering', 'no'];

/** A legacy SSE session: one stream carries every server message; the session lives as long as it. */
class SseSession implements BridgeSession, BackendHandlers {
  backend: SessionBackend | undefined;
  ended: string | undefined;
  stream: ServerResponse | undefined;
  /** Events the server sent before the stream started. */
  early = '';
  readonly flow = new Backpressure(() => this.backend?.resume());

  constructor(readonly id: string, private readonly core: BridgeCore) {}

  readonly onMessage = (line: string): boolean => {
    if (this.ended !== undefined) return true;
    const event = `event: message\ndata: ${line.includes('\r') ? line.replace(/\r/g, ' ') : line}\n\n`;
    if (this.stream !== undefined) {
      this.flow.write(this.stream, event);
      return this.flow.clear;
    }
    this.early += event;
    return this.early.length < MAX_EARLY_CHARS;
  };

  readonly onEnd = (message: string): void => this.end(message);

  keepAlive(): void {
    if (this.stream !== undefined) this.flow.write(this.stream, ': keepalive\n\n');
  }

  end(message: string): void {
    if (this.ended !== undefined) return;
    this.ended = message;
    if (this.core.sessions.get(this.id) === this) {
      this.core.sessions.delete(this.id);
      this.core.log(`session ${this.id} closed: ${message}`);
    }
    this.stream?.end();
    this.stream = undefined;
    if (this.backend !== undefined) this.core.closeBackend(this.id, this.backend);
  }
}

async function openStream(core: BridgeCore, res: ServerResponse): Promise<void> {
  const session = new SseSession(randomUUID(), core);
  const opened = await core.openBackend(session.id, session);
  if ('status' in opened) return sendJsonRpcError(res, opened.status, -32000, opened.message);
  session.backend = opened.backend;
  if (session.ended !== undefined) {
    core.closeBackend(session.id, opened.backend);
    return sendJsonRpcError(res, 500, -32000, session.ended);
  }
  if (res.destroyed || !res.socket || res.socket.destroyed) return session.end('the client went away');
  if (!core.register(session)) {
    session.end('the bridge closed');
    return sendJsonRpcError(res, 503, -32000, 'the bridge is closing');
  }
  res.writeHead(200, SSE_HEAD);
  session.flow.write(res, `event: endpoint\ndata: /message?sessionId=${session.id}\n\n${session.early}`);
  session.early = '';
  session.stream = res;
  res.on('close', () => session.end('the client closed the stream'));
  // Reading stopped while the stream was not open yet, when the server said much early on.
  if (session.flow.clear) opened.backend.resume();
}

async function postMessage(core: BridgeCore, req: IncomingMessage, res: ServerResponse, query: string): Promise<void> {
  const id = new URLSearchParams(query).get('sessionId');
  if (!id) return sendJsonRpcError(res, 400, -32000, 'Bad Request: the sessionId query parameter is required');
  const session = core.sessions.get(id);
  if (!(session instanceof SseSession) || session.ended !== undefined) return sendJsonRpcError(res, 404, -32001, 'Session not found');
  if (!isJsonContentType(req.headers['content-type'])) return sendJsonRpcError(res, 415, -32000, 'Unsupported Media Type: Content-Type must be application/json');
  const posted = await readPostedMessages(req, res);
  if (!posted) return;
  const { body, batch, messages } = posted;
  if (messages.length === 0 || messages.length > MAX_BATCH_MESSAGES || !messages.every((m) => messageKind(m) !== undefined)) {
    return sendJsonRpcError(res, 400, -32600, 'Invalid Request: not a JSON-RPC 2.0 message');
  }
  if (session.ended !== undefined) return sendJsonRpcError(res, 404, -32001, 'Session not found');
  try {
    if (batch) for (const part of splitJsonArray(body)) session.backend!.send(toSingleLine(part));
    else session.backend!.send(toSingleLine(body));
  } catch (error) {
    session.end(`the server could not be reached: ${error instanceof Error ? error.message : String(error)}`);
    return sendJsonRpcError(res, 500, -32000, session.ended!);
  }
  res.writeHead(202, { 'content-type': 'text/plain' });
  res.end('Accepted');
}

/** Serves the legacy SSE transport (MCP 2024-11-05): GET /sse opens a session, POST /message feeds it. */
export function createSseHandler(core: BridgeCore): TransportHandler {
  return async (req, res, path, query) => {
    if (path === '/sse') {
      if (req.method === 'GET') return openStream(core, res);
      return sendJsonRpcError(res, 405, -32000, 'Method not allowed.', { allow: 'GET' });
    }
    if (path === '/message') {
      if (req.method === 'POST') return postMessage(core, req, res, query);
      return sendJsonRpcError(res, 405, -32000, 'Method not allowed.', { allow: 'POST' });
    }
    return sendJsonRpcError(res, 404, -32000, 'Not Found');
  };
}
