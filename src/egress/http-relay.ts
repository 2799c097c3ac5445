// Plain HTTP through the egress proxy: every request on a connection is read and checked (its
// target allowed, its Host header naming that target), not only the first, and responses are
// followed to their end so that a request for another target waits for the ones before it.
import type { Socket } from 'node:net';
import { ChunkedDecoder, HeadScanner, HttpFramingError, parseResponseHead, responseBodyFraming } from '../http/framing.js';
import { isSameTarget, readProxyRequest, type HttpRequest, type Target } from './http-request.js';

/** How long a request head may take from its first byte to its end (slow-request attacks). */
export const EGRESS_HEAD_TIMEOUT_MS = 30_000;

/** An open connection to a request's target, and its log entry's byte counts. */
export interface RelayUpstream {
  socket: Socket;
  target: Target;
  count: { bytesOut: number; bytesIn: number };
}

export interface RelayHooks {
  /**
   * Checks a target and connects to it; resolves with the connection, or with the complete
   * response that refuses it (which the hook has logged).
   */
  open(target: Target): Promise<RelayUpstream | { response: string }>;
  /** A request refused before it was sent anywhere (logged by the hook); returns the response. */
  refuse(refusal: { status: 400 | 403; reason: string; fix: string; target?: Target | undefined }): string;
  /** The connection to a target ended (logged by the hook). */
  closed(upstream: RelayUpstream): void;
  /**
   * A CONNECT on a kept-alive connection (Node's agent reuses proxy connections): once the
   * answers before it are through, the client is handed over with the bytes after its head.
   * Absent inside a tunnel.
   */
  tunnel?(target: Target, rest: Buffer): void;
}

const HEAD = 0;
const LENGTH = 1;
const CHUNKED = 2;
const UNTIL_CLOSE = 3;
/** After a 101: bytes, no longer HTTP. */
const OPAQUE = 4;
/** Waiting: for earlier responses before switching targets, or for the answer to an upgrade. */
const WAIT = 5;
const STOPPED = 6;

interface Owed { method: string; upgrade: boolean }

/**
 * Relays HTTP/1.x requests from one sandbox connection: outside a tunnel each request may name
 * any target (the connection to it is opened once its turn comes), inside a CONNECT tunnel
 * every request must name the tunnel's own target. Nothing unchecked reaches an upstream.
 */
export class HttpRelay {
  private upstream: RelayUpstream | undefined;
  private readonly owed: Owed[] = [];
  private reqPhase = HEAD;
  private reqLeft = 0;
  private readonly reqHead = new HeadScanner(true);
  private readonly reqChunks = new ChunkedDecoder(true);
  private resPhase = HEAD;
  private resLeft = 0;
  private readonly resHead = new HeadScanner(false);
  private readonly resChunks = new ChunkedDecoder(false);
  /** Client bytes not yet read, kept while waiting. */
  private held: Buffer | undefined;
  /** An upgrade request is out: read on only once its answer is known. */
  private awaitingUpgrade = false;
  /** What to do once no response is owed. */
  private whenSettled: (() => void) | undefined;
  private waitingForDrain = false;
  private headTimer: NodeJS.Timeout | undefined;
  private done = false;

  constructor(
    private readonly client: Socket, private readonly hooks: RelayHooks, private readonly tunnel?: RelayUpstream,
    private readonly headTimeoutMs = EGRESS_HEAD_TIMEOUT_MS,
  ) {
    client.on('data', this.onData);
    client.on('end', this.onEnd);
    client.once('close', this.onClose);
    if (tunnel) this.attach(tunnel);
  }

  private readonly onData = (chunk: Buffer): void => this.onClientData(chunk);
  private readonly onEnd = (): void => this.onClientEnd();
  private readonly onClose = (): void => this.finish();

  /** Reads bytes the client sent before the relay took over. */
  feed(bytes: Buffer): void {
    if (bytes.length > 0) this.onClientData(bytes);
  }

  private onClientData(chunk: Buffer): void {
    if (this.done || this.reqPhase === STOPPED) return;
    if (this.reqPhase === WAIT) { this.hold(chunk); return; }
    let i = 0;
    while (i < chunk.length) {
      if (this.reqPhase === HEAD) {
        const wasIdle = this.reqHead.idle;
        let found;
        try { found = this.reqHead.push(chunk, i); } catch (error) { this.refuseNow(error); return; }
        if (!found) {
          if (wasIdle) this.startHeadTimer();
          return;
        }
        this.stopHeadTimer();
        i = found.end;
        const request = readProxyRequest(found.head, this.tunnel?.target);
        if (request.kind === 'refused') { this.refuseAfterOwed(this.hooks.refuse(request)); return; }
        if (request.kind === 'connect') {
          const tunnel = this.hooks.tunnel;
          if (!tunnel) {
            this.refuseAfterOwed(this.hooks.refuse({ status: 400, reason: 'CONNECT inside a tunnel', fix: 'none: open a new connection for a tunnel' }));
            return;
          }
          this.reqPhase = WAIT;
          this.hold(chunk.subarray(i));
          this.afterOwed(() => { const rest = this.handOver(); if (rest) tunnel(request.target, rest); });
          return;
        }
        const current = this.upstream;
        if (current && isSameTarget(current.target, request.target)) {
          this.send(request);
        } else if (this.tunnel) {
          // The tunnel's far end has gone: nothing more can be sent through it.
          this.close();
          return;
        } else {
          // Another target: its turn comes once the responses owed on this one are through.
          this.reqPhase = WAIT;
          this.hold(chunk.subarray(i));
          this.afterOwed(() => { void this.switchTo(request); });
          return;
        }
        if (this.waiting()) { this.hold(chunk.subarray(i)); return; }
      } else if (this.reqPhase === LENGTH) {
        const n = Math.min(this.reqLeft, chunk.length - i);
        this.write(chunk.subarray(i, i + n));
        i += n;
        this.reqLeft -= n;
        if (this.reqLeft === 0) this.endRequestBody();
      } else if (this.reqPhase === CHUNKED) {
        let end;
        try { end = this.reqChunks.feed(chunk, i); } catch { this.close(); return; }
        this.write(chunk.subarray(i, end));
        i = end;
        if (this.reqChunks.done) this.endRequestBody();
      } else if (this.reqPhase === OPAQUE) {
        this.write(chunk.subarray(i));
        return;
      } else if (this.reqPhase === WAIT) {
        this.hold(chunk.subarray(i));
        return;
      } else {
        return;
      }
    }
  }

  /** True while client bytes are held (the phase changes under calls the compiler cannot follow). */
  private waiting(): boolean {
    return this.reqPhase === WAIT;
  }

  /** Sends a checked request's head upstream and follows its body. */
  private send(request: HttpRequest): void {
    this.owed.push({ method: request.method, upgrade: request.upgrade });
    this.write(request.upstreamHead);
    this.awaitingUpgrade = request.upgrade;
    if (request.body.kind === 'length') {
      this.reqPhase = LENGTH;
      this.reqLeft = request.body.bytes;
    } else if (request.body.kind === 'chunked') {
      this.reqPhase = CHUNKED;
      this.reqChunks.reset();
    } else {
      this.endRequestBody();
    }
  }

  private endRequestBody(): void {
    // After an upgrade request, the next bytes are a new protocol's if the answer is 101.
    this.reqPhase = this.awaitingUpgrade ? WAIT : HEAD;
  }

  private async switchTo(request: HttpRequest): Promise<void> {
    const previous = this.upstream;
    if (previous) {
      this.upstream = undefined;
      previous.socket.end();
      this.hooks.closed(previous);
    }
    let opened;
    try { opened = await this.hooks.open(request.target); } catch { this.close(); return; }
    if (this.done) { if (!('response' in opened)) opened.socket.destroy(); return; }
    if ('response' in opened) { this.answerAndClose(opened.response); return; }
    this.attach(opened);
    this.send(request);
    if (this.reqPhase === WAIT && this.awaitingUpgrade) return;
    this.release();
  }

  private attach(upstream: RelayUpstream): void {
    this.upstream = upstream;
    this.resPhase = HEAD;
    this.resHead.reset();
    const socket = upstream.socket;
    socket.on('data', (chunk: Buffer) => { if (this.upstream === upstream) this.onUpstreamData(chunk); });
    socket.on('error', () => {});
    socket.once('close', () => { if (this.upstream === upstream) this.onUpstreamClose(); });
    socket.on('drain', () => { if (this.upstream === upstream) this.drained(); });
    // A connection through the user's proxy comes paused (its answer to CONNECT was read off it).
    socket.resume();
  }

  /** Keeps client bytes for later and stops reading until then. */
  private hold(bytes: Buffer): void {
    if (bytes.length > 0) this.held = this.held ? Buffer.concat([this.held, bytes]) : Buffer.from(bytes);
    this.client.pause();
  }

  /** Reads on from what was held, in the phase the caller set. */
  private release(): void {
    const held = this.held;
    this.held = undefined;
    if (!this.waitingForDrain) this.client.resume();
    if (held) this.onClientData(held);
  }

  private write(bytes: Buffer | string): void {
    const upstream = this.upstream;
    if (!upstream || bytes.length === 0) return;
    upstream.count.bytesOut += typeof bytes === 'string' ? Buffer.byteLength(bytes, 'latin1') : bytes.length;
    if (!upstream.socket.write(bytes, 'latin1')) {
      this.waitingForDrain = true;
      this.client.pause();
    }
  }

  private drained(): void {
    this.waitingForDrain = false;
    if (this.reqPhase !== WAIT && this.reqPhase !== STOPPED) this.client.resume();
  }

  private onUpstreamData(chunk: Buffer): void {
    const upstream = this.upstream!;
    upstream.count.bytesIn += chunk.length;
    if (!this.client.write(chunk)) {
      upstream.socket.pause();
      this.client.once('drain', () => upstream.socket.resume());
    }
    try {
      this.followResponses(chunk);
    } catch (error) {
      if (!(error instanceof HttpFramingError)) throw error;
      // The far end broke HTTP's framing: the client has its bytes; nothing more can be paired.
      this.close();
    }
  }

  /** Follows response framing, so the relay knows when every owed response is through. */
  private followResponses(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.resPhase === OPAQUE || this.resPhase === UNTIL_CLOSE) return;
      if (this.resPhase === HEAD) {
        const owed = this.owed[0];
        if (!owed) throw new HttpFramingError(502, 'a response to no request');
        const found = this.resHead.push(chunk, i);
        if (!found) return;
        i = found.end;
        const head = parseResponseHead(found.head);
        if (head.status === 101) {
          if (!owed.upgrade) throw new HttpFramingError(502, 'switching protocols unasked');
          this.resPhase = OPAQUE;
          this.owed.length = 0;
          this.becomeOpaque();
          return;
        }
        if (head.status < 200) continue;
        if (owed.upgrade) this.upgradeRefused();
        const framing = responseBodyFraming(owed.method, head);
        if (framing.kind === 'none') this.completeResponse();
        else if (framing.kind === 'length') { this.resPhase = LENGTH; this.resLeft = framing.bytes; }
        else if (framing.kind === 'chunked') { this.resPhase = CHUNKED; this.resChunks.reset(); }
        else this.resPhase = UNTIL_CLOSE;
      } else if (this.resPhase === LENGTH) {
        const n = Math.min(this.resLeft, chunk.length - i);
        i += n;
        this.resLeft -= n;
        if (this.resLeft === 0) this.completeResponse();
      } else {
        i = this.resChunks.feed(chunk, i);
        if (this.resChunks.done) this.completeResponse();
      }
    }
  }

  private completeResponse(): void {
    this.owed.shift();
    this.resPhase = HEAD;
    if (this.owed.length === 0) this.settle();
  }

  private settle(): void {
    const next = this.whenSettled;
    this.whenSettled = undefined;
    if (next) queueMicrotask(next);
  }

  /** Runs `next` once no response is owed (at once when none is). */
  private afterOwed(next: () => void): void {
    this.whenSettled = next;
    if (this.owed.length === 0 && this.resPhase === HEAD) this.settle();
  }

  /** A 101 answered the upgrade: both directions are now bytes. */
  private becomeOpaque(): void {
    this.awaitingUpgrade = false;
    this.reqPhase = OPAQUE;
    const held = this.held;
    this.held = undefined;
    if (held) this.write(held);
    if (!this.waitingForDrain) this.client.resume();
  }

  /** The upgrade was answered with an ordinary response: requests go on as before. */
  private upgradeRefused(): void {
    this.owed[0]!.upgrade = false;
    if (!this.awaitingUpgrade) return;
    this.awaitingUpgrade = false;
    if (this.reqPhase === WAIT && !this.whenSettled) {
      this.reqPhase = HEAD;
      queueMicrotask(() => this.release());
    }
  }

  private onUpstreamClose(): void {
    const upstream = this.upstream!;
    this.upstream = undefined;
    this.hooks.closed(upstream);
    if (this.resPhase === UNTIL_CLOSE || this.resPhase === OPAQUE) {
      // The end of a body read until close, or of an upgraded stream: the client's ends too.
      this.owed.length = 0;
      this.client.end();
      return;
    }
    if (this.owed.length > 0) {
      // Answers that will never come.
      this.client.destroy();
      return;
    }
    if (this.tunnel) { this.client.end(); return; }
    // Outside a tunnel the client may go on: its next request opens a new connection.
  }

  private onClientEnd(): void {
    if (this.owed.length === 0 && this.reqPhase !== OPAQUE) { this.close(); return; }
    // Let the owed answers come, as a plain pipe would.
    this.upstream?.socket.end();
  }

  /** Answers a request the proxy refuses once the responses before it are through, then closes. */
  private refuseAfterOwed(response: string): void {
    this.reqPhase = STOPPED;
    this.stopHeadTimer();
    this.client.pause();
    this.afterOwed(() => this.answerAndClose(response));
  }

  private refuseNow(error: unknown): void {
    if (!(error instanceof HttpFramingError)) throw error;
    this.refuseAfterOwed(this.hooks.refuse({ status: 400, reason: `not an HTTP request: ${error.message}`, fix: 'none: send HTTP/1.x requests through the proxy (CONNECT for TLS)' }));
  }

  private answerAndClose(response: string): void {
    this.reqPhase = STOPPED;
    if (this.upstream) this.upstream.socket.end();
    this.client.end(response);
    // Drop what the client still sends; a reset could lose the answer.
    this.client.resume();
    setTimeout(() => this.client.destroy(), 1000).unref();
  }

  private startHeadTimer(): void {
    this.stopHeadTimer();
    this.headTimer = setTimeout(() => {
      this.headTimer = undefined;
      this.refuseAfterOwed('HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nmcp-lok egress: the request head took too long\n');
    }, this.headTimeoutMs);
    this.headTimer.unref();
  }

  private stopHeadTimer(): void {
    if (this.headTimer) clearTimeout(this.headTimer);
    this.headTimer = undefined;
  }

  /** Lets go of the client (its upstream is closed and logged); returns the bytes it held, or undefined once closed. */
  private handOver(): Buffer | undefined {
    if (this.done) return undefined;
    this.client.off('data', this.onData);
    this.client.off('end', this.onEnd);
    this.client.off('close', this.onClose);
    const held = this.held ?? Buffer.alloc(0);
    this.held = undefined;
    this.finish();
    return held;
  }

  /** Ends both sides. */
  close(): void {
    this.client.destroy();
    this.finish();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.stopHeadTimer();
    const upstream = this.upstream;
    this.upstream = undefined;
    if (upstream) {
      upstream.socket.destroy();
      this.hooks.closed(upstream);
    }
  }
}
