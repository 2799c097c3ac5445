// One client connection of the reverse proxy, spliced to a connection of its own to the MCP
// server: request heads are checked and rewritten, everything else is copied as bytes.
import { connect, type Socket } from 'node:net';
import { createEndpointRewriter } from './endpoint-rewriter.js';
import {
  checkClientBody, checkClientEncoding, checkRoutingHeaders, createJsonFilter, encodingRefusal, createJsonTap, createSseFilter, createSseTap, HELD_REQUEST_LIMIT_BYTES, HeldBodyTooLarge,
  looseMessageBodyKind, messageBodyKind, UncheckableMessage, type BodyTap, type BodyTransform, type MessageHooks, type RoutingHeaders,
} from './messages.js';
import { checkBearerToken, checkRequestOrigin, type ListenPolicy } from '../host-check.js';
import {
  ChunkedDecoder, formatErrorResponse, formatHeadWithoutLength, formatJsonResponse, formatUpstreamHead, HeadScanner, HttpFramingError,
  inspectRequest, parseRequestHead, parseResponseHead, RequestReader, responseBodyFraming, stripQuery, type RequestHead, type ResponseHead,
} from '../framing.js';

/** Where the MCP server answers: the forwarder's Unix socket, or a TCP address. */
export type Upstream = { socketPath: string } | { host: string; port: number };

export interface SpliceOptions {
  policy: ListenPolicy;
  upstreamHost: string;
  /** The upstream a new upstream connection goes to; undefined while the server is not ready. */
  currentUpstream: () => Upstream | undefined;
  log: ((line: string) => void) | undefined;
  logRequest: ((line: string) => void) | undefined;
  /** Shorter limits for tests; the defaults are the constants below. */
  timeouts?: Partial<SpliceTimeouts> | undefined;
  /** Tool pinning: the JSON-RPC messages in bodies are shown to these (observing), or checked and filtered (enforcing). */
  hooks?: MessageHooks | undefined;
}

/** A request held whole before it goes upstream, so that its messages can be checked first (enforcing). */
interface HeldRequest {
  exchange: Exchange;
  head: string;
  /** The body as framed, to forward. */
  raw: Buffer[];
  /** The body's data, to check. */
  data: Buffer[];
  size: number;
  /** The client takes MCP's streamable HTTP (it accepts an event stream): a refusal is a JSON-RPC error with status 200. */
  streamable: boolean;
  /** Its Mcp-Method and Mcp-Name headers (2026-07-28), checked against the body. */
  routing: RoutingHeaders;
  /** Its Content-Type and Content-Encoding (repeated ones joined): a body the server would read otherwise is refused. */
  contentType: string | undefined;
  contentEncoding: string | undefined;
}

/** Returns the first value of a header (by lower-case name) among a head's name/value pairs. */
function headerValue(fields: readonly string[], lowerName: string): string | undefined {
  for (let k = 0; k < fields.length; k += 2) if (fields[k]?.toLowerCase() === lowerName) return fields[k + 1];
  return undefined;
}

/** Returns all values of a header joined by `, ` (as a server reading it would see them), or undefined without one. */
function headerValues(fields: readonly string[], lowerName: string): string | undefined {
  let joined: string | undefined;
  for (let k = 0; k < fields.length; k += 2) {
    if (fields[k]?.toLowerCase() === lowerName) joined = joined === undefined ? fields[k + 1] : `${joined}, ${fields[k + 1]}`;
  }
  return joined;
}

/** Runs a step of a body's tool-pinning filter: a body it cannot pass checked becomes a 502 (broken off once begun). */
function checkedBody(step: () => Buffer): Buffer {
  try {
    return step();
  } catch (error) {
    if (error instanceof HeldBodyTooLarge || error instanceof UncheckableMessage) throw new HttpFramingError(502, `${error.message}, which mcp-lok does not pass unchecked under --pin-tools enforce`);
    throw error;
  }
}

/** How long a connection refused with an error stays open to drain what the client still sends. */
const LINGER_MS = 1000;

/** Limits that stop a client from holding connections open without finishing a request (slowloris). */
export interface SpliceTimeouts {
  /** From a request's first byte to the end of its head. */
  headMs: number;
  /** From a request's first byte to the end of its body. */
  requestMs: number;
  /** With no request under way and no response owed, before the proxy closes the connection. */
  idleMs: number;
}

/** A request head has 30 s (Node's own server allows 60 s). */
export const REQUEST_HEAD_TIMEOUT_MS = 30_000;
/** A whole request, body included, has 5 min (as Node's own server). */
export const REQUEST_TIMEOUT_MS = 5 * 60_000;
/** A connection with nothing under way is closed after 1 min (clients reopen at once). */
export const IDLE_TIMEOUT_MS = 60_000;

const DEFAULT_TIMEOUTS: SpliceTimeouts = { headMs: REQUEST_HEAD_TIMEOUT_MS, requestMs: REQUEST_TIMEOUT_MS, idleMs: IDLE_TIMEOUT_MS };

// What the connection's one timer is waiting for.
const NO_TIMER = 0;
const IDLE_TIMER = 1;
const HEAD_TIMER = 2;
const BODY_TIMER = 3;

/** One request, from its head until its response is complete. */
interface Exchange {
  /** Empty for a request too malformed to name. */
  method: string;
  path: string;
  /** The client's Host header: the origin an SSE `endpoint` event is rewritten to. */
  publicHost: string;
  minor: number;
  started: number;
  /** The final status, once its head is through. */
  status: number;
  /** A byte of the response went to the client. */
  answered: boolean;
  /** The response the proxy gives itself; the connection closes after it. */
  local: Buffer | undefined;
  /** The client asked to close the connection after this request. */
  close: boolean;
}

// Where the response direction of the connection is in its current message.
const HEAD = 0;
const LENGTH = 1;
const CHUNKED = 2;
const UNTIL_CLOSE = 3;

/**
 * Splices `client` to an upstream connection opened at its first accepted request. Requests and
 * responses stay in order (a FIFO of exchanges), so keep-alive and pipelining pass through.
 */
export class SpliceConnection {
  private upstream: Socket | undefined;
  private upstreamTarget: Upstream | undefined;
  private upstreamError: Error | undefined;
  private readonly pending: Exchange[] = [];
  private readonly clientAddress: string;
  private clientPaused = false;
  private passedHost: string | undefined;
  private passedOrigin: string | undefined;
  private upstreamPaused = false;

  private readonly requests = new RequestReader();
  /** No more requests are read: one was refused, or the connection is closing. */
  private requestsStopped = false;

  private responsePhase = HEAD;
  private responseLeft = 0;
  private readonly responseHead = new HeadScanner(false);
  private readonly responseChunks = new ChunkedDecoder(false);
  private closeAfterResponse = false;
  /** Set while a body goes through a rewrite: an SSE GET's endpoint event, or tool pinning's filter. */
  private rewriter: BodyTransform | undefined;
  /** Set while a body's copy goes to tool pinning's observer. */
  private tap: BodyTap | undefined;
  /** The request whose body is being held (enforcing). */
  private held: HeldRequest | undefined;
  private readonly onHeldData = (buf: Buffer, from: number, to: number): void => { this.held?.data.push(buf.subarray(from, to)); };
  private rewriteAsChunks = false;
  private readonly timeouts: SpliceTimeouts;
  private timer: NodeJS.Timeout | undefined;
  private timerKind = NO_TIMER;
  /** When the request being read began (its first byte). */
  private requestStarted = 0;

  constructor(private readonly client: Socket, private readonly options: SpliceOptions, onClose: () => void, private onPassed?: () => void) {
    client.setNoDelay(true);
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.clientAddress = client.remoteAddress ?? '';
    client.on('data', (chunk: Buffer) => this.onClientData(chunk));
    client.on('end', () => this.onClientEnd());
    client.on('error', () => {});
    client.once('close', () => {
      this.setTimer(NO_TIMER, 0);
      this.onClientClose();
      onClose();
    });
    this.setTimer(IDLE_TIMER, this.timeouts.idleMs);
  }

  /** Arms the connection's one timer for `kind`, `ms` from now (NO_TIMER clears it). */
  private setTimer(kind: number, ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerKind = kind;
    if (kind === NO_TIMER) return;
    this.timer = setTimeout(() => this.onTimer(kind), Math.max(0, ms));
    this.timer.unref();
  }

  private onTimer(kind: number): void {
    this.timer = undefined;
    this.timerKind = NO_TIMER;
    if (this.client.destroyed || this.requestsStopped) return;
    if (kind === IDLE_TIMER) {
      // Nothing under way: close quietly, as Node's own server does after keepAliveTimeout.
      this.requestsStopped = true;
      this.client.end();
      this.dropUpstream();
      return;
    }
    this.log(`closing a connection from ${this.clientAddress || 'a client'}: its request ${kind === HEAD_TIMER ? 'head' : 'body'} took longer than ${(kind === HEAD_TIMER ? this.timeouts.headMs : this.timeouts.requestMs) / 1000}s`);
    const exchange = this.pending[this.pending.length - 1];
    if (kind === HEAD_TIMER && this.pending.length === 0) {
      this.refuse(undefined, 408, 'Request timeout: the request head took too long');
    } else if (kind === BODY_TIMER && this.pending.length === 1 && exchange && !exchange.answered) {
      // Its head went upstream: cut the server off before the request completes.
      this.dropUpstream();
      this.pending.length = 0;
      this.refuse(exchange, 408, 'Request timeout: the request body took too long');
    } else {
      this.destroy();
    }
  }

  /** Once a request is read whole and no response is owed, the connection is idle. */
  private armIdleIfIdle(): void {
    if (!this.requestsStopped && this.requests.idle && this.pending.length === 0) this.setTimer(IDLE_TIMER, this.timeouts.idleMs);
    else if (this.timerKind === IDLE_TIMER) this.setTimer(NO_TIMER, 0);
  }

  /** A request was read whole: its timer stops; the connection may now be idle. */
  private endOfRequest(): void {
    this.setTimer(NO_TIMER, 0);
    this.armIdleIfIdle();
  }

  /** Destroys both sockets. */
  destroy(): void {
    this.client.destroy();
    this.dropUpstream();
  }

  private onClientData(chunk: Buffer): void {
    const corked = this.upstream;
    corked?.cork();
    try {
      let i = 0;
      while (i < chunk.length && !this.requestsStopped) {
        if (this.requests.idle) {
          // The first byte of a request: its head and its body each have a deadline from here.
          this.requestStarted = performance.now();
          this.setTimer(HEAD_TIMER, this.timeouts.headMs);
        }
        const inBody = this.requests.inBody;
        let part;
        const held = this.held;
        try {
          part = this.requests.read(chunk, i, held ? (from, to) => this.onHeldData(chunk, from, to) : undefined);
        } catch (error) {
          if (inBody) this.breakOffRequest(error);
          else this.refuseMalformed(undefined, error);
          return;
        }
        if (!part) return;
        if (part.kind === 'head') {
          this.startRequest(part.head);
          if (this.requests.inBody) this.setTimer(BODY_TIMER, this.requestStarted + this.timeouts.requestMs - performance.now());
          else if (this.timerKind === HEAD_TIMER) this.endOfRequest();
        } else if (held) {
          held.raw.push(chunk.subarray(i, part.end));
          held.size += part.end - i;
          if (held.size > HELD_REQUEST_LIMIT_BYTES) { this.refuseHeld(413, `Content too large: under --pin-tools enforce a request body may hold at most ${HELD_REQUEST_LIMIT_BYTES / 1024 / 1024} MiB`); return; }
          if (part.last) { this.releaseHeld(); this.endOfRequest(); }
        } else {
          this.forward(chunk.subarray(i, part.end));
          if (part.last) this.endOfRequest();
        }
        i = part.end;
      }
    } finally {
      corked?.uncork();
    }
  }

  private startRequest(raw: Buffer): void {
    let head: RequestHead;
    try { head = parseRequestHead(raw); } catch (error) { this.refuseMalformed(undefined, error); return; }
    const exchange: Exchange = {
      method: head.method, path: stripQuery(head.target), publicHost: '', minor: head.minor,
      started: this.options.logRequest ? performance.now() : 0, status: 0, answered: false, local: undefined, close: false,
    };
    let info;
    try { info = inspectRequest(head); } catch (error) { this.refuseMalformed(exchange, error); return; }
    // Requests on one connection mostly repeat Host and Origin: the last pair that passed needs no second look.
    if (info.host === undefined || info.host !== this.passedHost || info.origin !== this.passedOrigin) {
      const refusal = checkRequestOrigin(this.options.policy, info.host, info.origin);
      if (refusal !== undefined) { this.refuse(exchange, 403, `Forbidden: ${refusal}`); return; }
      this.passedHost = info.host;
      this.passedOrigin = info.origin;
    }
    if (this.options.policy.token !== undefined) {
      const refusal = checkBearerToken(this.options.policy, headerValue(head.fields, 'authorization'));
      if (refusal !== undefined) { this.refuse(exchange, 401, `Unauthorized: ${refusal}`, { 'WWW-Authenticate': 'Bearer realm="mcp-lok"' }); return; }
    }
    if (info.upgrade) { this.refuse(exchange, 501, 'Not implemented: protocol upgrades (WebSocket) are not supported'); return; }
    // The connection has passed the checks: it no longer counts against unchecked connections.
    this.onPassed?.();
    this.onPassed = undefined;
    exchange.publicHost = info.host ?? '';
    exchange.close = info.close;
    if (!this.upstream && !this.openUpstream()) {
      this.refuse(exchange, 503, 'Service unavailable: the MCP server is not ready yet', { 'Retry-After': '1' });
      return;
    }
    this.pending.push(exchange);
    // mcp-lok's own token is for mcp-lok: the sandboxed server never sees it.
    const upstreamHead = formatUpstreamHead(head, info, this.options.upstreamHost, this.clientAddress, this.options.policy.token !== undefined);
    if (this.options.hooks?.rewrites && head.method === 'POST' && info.body.kind !== 'none') {
      // Enforcing: the request goes upstream only once its messages are checked.
      const accept = headerValue(head.fields, 'accept') ?? '';
      const routing = { method: headerValues(head.fields, 'mcp-method'), name: headerValues(head.fields, 'mcp-name') };
      this.held = {
        exchange, head: upstreamHead, raw: [], data: [], size: 0, streamable: /text\/event-stream/i.test(accept), routing,
        contentType: headerValues(head.fields, 'content-type'), contentEncoding: headerValues(head.fields, 'content-encoding'),
      };
    } else {
      this.forward(upstreamHead);
    }
    this.requests.beginBody(info);
  }

  /** A held request is whole: forwarded when its messages pass, else answered here (and the connection closes after). */
  private releaseHeld(): void {
    const held = this.held!;
    this.held = undefined;
    const body = Buffer.concat(held.data);
    // A body this check would read otherwise than the server is refused first: it cannot be checked.
    const unreadable = checkClientEncoding(held.contentType, held.contentEncoding, body);
    // Headers that name another call than the body are refused next, as a conforming server would.
    const mismatch = unreadable === undefined ? checkRoutingHeaders(body, held.routing) : undefined;
    const refusal = unreadable !== undefined ? encodingRefusal(unreadable) : mismatch ?? checkClientBody(body, this.options.hooks!);
    if (refusal === undefined) {
      this.forward(held.head);
      for (const part of held.raw) this.forward(part);
      return;
    }
    // The legacy SSE transport answers on its event stream, and its clients read only a POST's
    // status: a 403 (with the same JSON-RPC error as its body) is what they report.
    const status = unreadable !== undefined ? 415 : mismatch !== undefined ? 400 : held.streamable ? 200 : 403;
    this.requestsStopped = true;
    held.exchange.status = status;
    held.exchange.local = formatJsonResponse(status, refusal);
    if (this.pending[0] === held.exchange) this.sendLocalResponse();
  }

  /** Refuses the held request (nothing of it went upstream). */
  private refuseHeld(status: number, message: string): void {
    const held = this.held!;
    this.held = undefined;
    this.pending.pop();
    this.refuse(held.exchange, status, message);
  }

  /** Sends bytes (or latin1 text) upstream, pausing the client while the upstream's buffer is full. */
  private forward(bytes: Buffer | string): void {
    const upstream = this.upstream;
    // Without an upstream the server already answered and left: the rest of the body has nowhere to go.
    if (!upstream || bytes.length === 0) return;
    if (!upstream.write(bytes, 'latin1') && !this.clientPaused) {
      this.clientPaused = true;
      this.client.pause();
      upstream.once('drain', () => this.resumeClient());
    }
  }

  private resumeClient(): void {
    if (!this.clientPaused) return;
    this.clientPaused = false;
    this.client.resume();
  }

  /** Sends bytes (or latin1 text) to the client, pausing the upstream while the client's buffer is full. */
  private reply(bytes: Buffer | string): void {
    if (bytes.length === 0) return;
    const upstream = this.upstream;
    if (!this.client.write(bytes, 'latin1') && upstream && !this.upstreamPaused) {
      this.upstreamPaused = true;
      upstream.pause();
      this.client.once('drain', () => {
        this.upstreamPaused = false;
        upstream.resume();
      });
    }
  }

  private openUpstream(): Socket | undefined {
    const target = this.options.currentUpstream();
    if (!target) return undefined;
    const upstream = 'socketPath' in target ? connect({ path: target.socketPath }) : connect({ host: target.host, port: target.port, noDelay: true });
    this.upstream = upstream;
    this.upstreamTarget = target;
    this.upstreamError = undefined;
    this.upstreamPaused = false;
    this.responsePhase = HEAD;
    this.responseHead.reset();
    upstream.setNoDelay(true);
    // What is written before the connection is up goes out in one write once it is.
    upstream.cork();
    upstream.once('connect', () => upstream.uncork());
    upstream.on('data', (chunk: Buffer) => { if (upstream === this.upstream) this.onUpstreamData(chunk); });
    upstream.on('error', (error) => { if (upstream === this.upstream) this.upstreamError = error; });
    upstream.once('close', () => { if (upstream === this.upstream) this.onUpstreamClose(); });
    return upstream;
  }

  private dropUpstream(): void {
    const upstream = this.upstream;
    this.upstream = undefined;
    upstream?.destroy();
    this.resumeClient();
  }

  private onUpstreamData(chunk: Buffer): void {
    this.client.cork();
    try {
      this.relayResponses(chunk);
    } catch (error) {
      if (!(error instanceof HttpFramingError)) throw error;
      const exchange = this.pending[0];
      const what = `upstream ${this.describeUpstream()} sent a malformed response${exchange ? ` to ${exchange.method} ${exchange.path}` : ''}: ${error.message}`;
      if (exchange && !exchange.answered) this.answerBadGateway(exchange, what);
      else { this.log(what); this.destroy(); }
    } finally {
      this.client.uncork();
    }
  }

  /**
   * Copies response bytes to the client, following their framing to tell where each response
   * ends. Runs of bytes that need no change go out as one write.
   */
  private relayResponses(chunk: Buffer): void {
    let i = 0;
    let copied = 0;
    const copyTo = (end: number): void => {
      if (end > copied) this.reply(chunk.subarray(copied, end));
      copied = end;
    };
    while (i < chunk.length) {
      const exchange = this.pending[0];
      if (!exchange || exchange.local) throw new HttpFramingError(502, 'a response to no request');
      if (this.responsePhase === HEAD) {
        const from = i;
        copyTo(from);
        const found = this.responseHead.push(chunk, i);
        if (!found) { copied = chunk.length; return; }
        i = found.end;
        const head = parseResponseHead(found.head);
        if (head.status === 101) throw new HttpFramingError(502, 'switching protocols, which the proxy never asks for');
        const framing = responseBodyFraming(exchange.method, head);
        // Decided before a byte of the response goes out: a body that cannot be checked is a 502 still.
        const transform = framing.kind === 'none' || head.status < 200 ? undefined : this.bodyTransform(exchange, head);
        exchange.answered = true;
        if (transform) {
          this.rewriter = transform;
          this.rewriteAsChunks = framing.kind === 'chunked';
          let out = found.head;
          // The rewrite may change the length: such a body goes out chunked, or to HTTP/1.0 until close.
          if (framing.kind === 'length') {
            this.rewriteAsChunks = exchange.minor === 1;
            if (!this.rewriteAsChunks) this.closeAfterResponse = true;
            out = formatHeadWithoutLength(found.head, this.rewriteAsChunks);
          }
          this.reply(out);
          copied = i;
        } else if (found.head.length !== i - from) {
          // Begun in an earlier read, the head was held back until whole.
          this.reply(found.head);
          copied = i;
        }
        if (head.status < 200) continue;
        exchange.status = head.status;
        if (head.close) this.closeAfterResponse = true;
        if (framing.kind === 'none') {
          copyTo(i);
          if (!this.completeResponse()) return;
        } else if (framing.kind === 'length') {
          this.responsePhase = LENGTH;
          this.responseLeft = framing.bytes;
        } else if (framing.kind === 'chunked') {
          this.responsePhase = CHUNKED;
          this.responseChunks.reset();
        } else {
          this.responsePhase = UNTIL_CLOSE;
        }
      } else if (this.responsePhase === LENGTH) {
        const n = Math.min(this.responseLeft, chunk.length - i);
        if (this.rewriter) { copyTo(i); this.rewrite(chunk.subarray(i, i + n)); copied = i + n; }
        else this.tap?.push(chunk.subarray(i, i + n));
        i += n;
        this.responseLeft -= n;
        if (this.responseLeft === 0) {
          copyTo(i);
          this.finishRewrite();
          if (!this.completeResponse()) return;
        }
      } else if (this.responsePhase === CHUNKED) {
        // Once the endpoint event is through, the stream is copied again from the next chunk.
        if (this.rewriter?.done && this.responseChunks.atChunkStart) this.rewriter = undefined;
        const rewriter = this.rewriter;
        if (rewriter) {
          copyTo(i);
          i = this.responseChunks.feed(chunk, i, (from, to) => this.rewrite(chunk.subarray(from, to)));
          copied = i;
        } else {
          const tap = this.tap;
          i = this.responseChunks.feed(chunk, i, tap ? (from, to) => tap.push(chunk.subarray(from, to)) : undefined);
        }
        if (this.responseChunks.done) {
          copyTo(i);
          this.finishRewrite();
          if (!this.completeResponse()) return;
        }
      } else {
        if (this.rewriter) { copyTo(i); this.rewrite(chunk.subarray(i)); copied = chunk.length; }
        else this.tap?.push(chunk.subarray(i));
        i = chunk.length;
      }
    }
    copyTo(chunk.length);
  }

  /**
   * Returns how a response body is rewritten on its way (undefined: copied as it is): an SSE
   * GET's endpoint event; with tool pinning enforced, every MCP body's messages. An observed
   * body is copied, and a copy goes to the tap.
   */
  private bodyTransform(exchange: Exchange, head: ResponseHead): BodyTransform | undefined {
    const strict = messageBodyKind(head.contentType);
    const endpoint = exchange.method === 'GET' && strict === 'sse' ? createEndpointRewriter(`http://${exchange.publicHost}`) : undefined;
    const hooks = this.options.hooks;
    if (!hooks) return endpoint;
    const kind = strict ?? looseMessageBodyKind(head.contentType);
    if (!kind) return endpoint;
    // A type some client reads as JSON or SSE, though it is neither: observed as that, never passed unchecked.
    if (!strict && hooks.rewrites) throw new HttpFramingError(502, `a body of type ${JSON.stringify(head.contentType.slice(0, 100))}, which a client may read as MCP messages and mcp-lok cannot check under --pin-tools enforce`);
    if (head.contentEncoding !== '' && head.contentEncoding.toLowerCase() !== 'identity') {
      if (hooks.rewrites) throw new HttpFramingError(502, `a body with Content-Encoding ${head.contentEncoding}, which mcp-lok cannot check under --pin-tools enforce`);
      return endpoint;
    }
    if (!hooks.rewrites) {
      this.tap = kind === 'sse' ? createSseTap(hooks) : createJsonTap(hooks);
      return endpoint;
    }
    const filter = kind === 'sse' ? createSseFilter(hooks) : createJsonFilter(hooks);
    return endpoint ? chainTransforms(endpoint, filter) : filter;
  }

  private rewrite(bytes: Buffer): void {
    this.emit(checkedBody(() => this.rewriter!.push(bytes)));
  }

  /** Sends rewritten body bytes, re-framed as chunks when the body's length changed. */
  private emit(out: Buffer): void {
    if (out.length === 0) return;
    if (!this.rewriteAsChunks) { this.reply(out); return; }
    this.reply(`${out.length.toString(16)}\r\n`);
    this.reply(out);
    this.reply('\r\n');
  }

  /** Ends a rewritten body; a chunked one still being re-encoded gets a bare last chunk (SSE streams carry no trailers). */
  private finishRewrite(): void {
    const rewriter = this.rewriter;
    if (!rewriter) return;
    const rest = checkedBody(() => rewriter.end());
    if (rest.length > 0) this.emit(rest);
    this.rewriter = undefined;
    if (this.rewriteAsChunks) this.reply('0\r\n\r\n');
  }

  /** Retires the exchange at the head of the FIFO; returns false once the connection is closing. */
  private completeResponse(): boolean {
    const exchange = this.pending.shift()!;
    this.responsePhase = HEAD;
    this.tap?.end();
    this.tap = undefined;
    this.logExchange(exchange, false);
    if (this.closeAfterResponse || exchange.close) {
      this.requestsStopped = true;
      this.setTimer(NO_TIMER, 0);
      this.client.end();
      this.dropUpstream();
      return false;
    }
    if (this.pending[0]?.local) { this.sendLocalResponse(); return false; }
    if (this.pending.length === 0 && this.timerKind === NO_TIMER) this.armIdleIfIdle();
    return true;
  }

  /** Answers a request the proxy will not forward, after the responses before it, and closes. */
  private refuse(exchange: Exchange | undefined, status: number, message: string, extra?: Record<string, string>): void {
    this.requestsStopped = true;
    const refused = exchange ?? { method: '', path: '', publicHost: '', minor: 1, started: 0, status: 0, answered: false, local: undefined, close: true };
    refused.status = status;
    refused.local = formatErrorResponse(status, message, extra);
    this.pending.push(refused);
    if (this.pending.length === 1) this.sendLocalResponse();
  }

  /** Refuses a request whose head or body breaks the framing rules. */
  private refuseMalformed(exchange: Exchange | undefined, error: unknown): void {
    if (!(error instanceof HttpFramingError)) throw error;
    const label = error.status === 431 ? 'Request header fields too large' : 'Bad request';
    this.refuse(exchange, error.status, `${label}: ${error.message}`);
  }

  /** A malformed chunked body: answered with a 400 when nothing of its response went out yet. */
  private breakOffRequest(error: unknown): void {
    if (!(error instanceof HttpFramingError)) throw error;
    const exchange = this.pending[0];
    if (exchange && this.pending.length === 1 && !exchange.answered) {
      this.dropUpstream();
      this.pending.length = 0;
      this.refuseMalformed(exchange, error);
    } else {
      this.destroy();
    }
  }

  private sendLocalResponse(): void {
    const exchange = this.pending[0]!;
    this.pending.length = 0;
    this.requestsStopped = true;
    this.setTimer(NO_TIMER, 0);
    this.dropUpstream();
    exchange.answered = true;
    this.client.end(exchange.local!);
    this.logExchange(exchange, false);
    // Reading on (and dropping) what the client still sends lets it read the answer instead of a reset.
    setTimeout(() => this.client.destroy(), LINGER_MS).unref();
  }

  private onUpstreamClose(): void {
    this.upstream = undefined;
    this.resumeClient();
    if (this.client.destroyed) return;
    const exchange = this.pending[0];
    if (!exchange) {
      // An idle connection the server closed: the next request opens a new one.
      return;
    }
    if (this.responsePhase === UNTIL_CLOSE) {
      this.client.cork();
      try {
        this.finishRewrite();
      } catch (error) {
        if (!(error instanceof HttpFramingError)) throw error;
        this.log(`upstream ${this.describeUpstream()} sent a response to ${exchange.method} ${exchange.path} that was broken off: ${error.message}`);
        this.client.uncork();
        this.client.destroy();
        return;
      }
      this.closeAfterResponse = true;
      this.completeResponse();
      this.client.uncork();
      return;
    }
    const reason = this.upstreamError ? describeError(this.upstreamError) : 'the connection closed';
    if (exchange.answered) {
      this.log(`upstream ${this.describeUpstream()} broke off ${exchange.method} ${exchange.path}: ${reason}`);
      this.client.destroy();
      return;
    }
    this.answerBadGateway(exchange, `upstream ${this.describeUpstream()} failed for ${exchange.method} ${exchange.path}: ${reason}`);
  }

  /** Answers a request none of whose response reached the client with a 502, and closes. */
  private answerBadGateway(exchange: Exchange, logLine: string): void {
    this.log(logLine);
    this.pending.length = 1;
    exchange.status = 502;
    exchange.local = formatErrorResponse(502, 'Bad gateway: the MCP server is not answering');
    this.sendLocalResponse();
  }

  private onClientEnd(): void {
    if (this.requestsStopped) return;
    // A closed socket shows only as the end of its input, so with responses still owed the
    // client is taken as gone, as Node's own HTTP server does: an SSE stream's server must
    // learn at once that nobody listens.
    if (this.pending.length > 0 || !this.requests.idle) { this.destroy(); return; }
    this.client.end();
    this.dropUpstream();
  }

  private onClientClose(): void {
    this.dropUpstream();
    for (const exchange of this.pending) if (!exchange.local) this.logExchange(exchange, true);
    this.pending.length = 0;
  }

  private logExchange(exchange: Exchange, aborted: boolean): void {
    const log = this.options.logRequest;
    if (!log || exchange.method === '') return;
    const ms = (performance.now() - exchange.started).toFixed(1);
    log(`${exchange.method} ${exchange.path} ${exchange.status || '-'}${aborted ? ' aborted' : ''} ${ms}ms`);
  }

  private log(line: string): void {
    this.options.log?.(line);
  }

  private describeUpstream(): string {
    const target = this.upstreamTarget;
    if (!target) return '(none)';
    return 'socketPath' in target ? target.socketPath : `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
  }
}

function describeError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code ? `${code} (${error.message})` : error.message;
}

/** Returns a transform that runs `first`, then `second` on what it gives out. */
function chainTransforms(first: BodyTransform, second: BodyTransform): BodyTransform {
  return {
    get done() { return first.done && second.done; },
    push(chunk) {
      const out = first.done ? chunk : first.push(chunk);
      return out.length === 0 ? out : second.push(out);
    },
    end() {
      const rest = first.end();
      const out = rest.length === 0 ? [] : [second.push(rest)];
      out.push(second.end());
      return Buffer.concat(out);
    },
  };
}
