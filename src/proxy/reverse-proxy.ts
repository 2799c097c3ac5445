import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { Transform } from 'node:stream';
import { checkRequestOrigin, type ListenPolicy } from './host-check.js';

/** Where the MCP server answers: the forwarder's Unix socket, or a TCP address. */
export type Upstream = { socketPath: string } | { host: string; port: number };

export interface ReverseProxyOptions {
  /** Where to listen; port 0 picks a free one. */
  listen: { host: string; port: number };
  /** Undefined while the server is not ready yet (requests get 503). */
  upstream: Upstream | undefined;
  /** Host header value sent upstream, e.g. `localhost:8080` (the server may check it). */
  upstreamHost: string;
  /** Extra host names accepted in Host and Origin (see `ListenPolicy.extraNames`). */
  extraNames?: readonly string[];
  /** One line per finished request (method, path, status, ms) and per upstream failure. */
  log?: (line: string) => void;
}

export interface ReverseProxy {
  /** The bound port. */
  readonly port: number;
  /** The proxy's own address, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  /** Swaps the upstream (the supervisor does this when it restarts a container). */
  setUpstream(upstream: Upstream | undefined): void;
  /** Stops listening and destroys open connections, SSE streams included. */
  close(): Promise<void>;
}

/** Bytes of an SSE stream scanned for the `endpoint` event before passing the rest through untouched. */
export const ENDPOINT_SCAN_LIMIT_BYTES = 64 * 1024;

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
const LF = 0x0a;
const CR = 0x0d;

/**
 * Starts an HTTP reverse proxy in front of an MCP server that speaks SSE or streamable HTTP.
 * Every request must name this listener in Host and Origin, which stops DNS rebinding: a web
 * page whose name resolves to 127.0.0.1 cannot reach the server through it.
 */
export async function startReverseProxy(options: ReverseProxyOptions): Promise<ReverseProxy> {
  const { upstreamHost, log } = options;
  const policy: ListenPolicy = { host: options.listen.host, port: 0, extraNames: options.extraNames };
  const agent = new Agent({ keepAlive: true, noDelay: true });
  let upstream = options.upstream;

  const server = createServer({ noDelay: true }, (req, res) => {
    const started = log ? performance.now() : 0;
    let clientGone = false;
    res.once('close', () => {
      clientGone = !res.writableFinished;
      if (log) log(`${req.method} ${stripQuery(req.url)} ${res.statusCode}${clientGone ? ' aborted' : ''} ${(performance.now() - started).toFixed(1)}ms`);
    });

    const refusal = checkRequestOrigin(policy, req.headers.host, req.headers.origin);
    if (refusal !== undefined) return sendJsonRpcError(res, 403, `Forbidden: ${refusal}`);
    const target = upstream;
    if (!target) return sendJsonRpcError(res, 503, 'Service unavailable: the MCP server is not ready yet', { 'retry-after': '1' });

    const upstreamReq = httpRequest({ ...target, agent, method: req.method, path: req.url, headers: buildUpstreamHeaders(req, upstreamHost) });
    let upstreamRes: IncomingMessage | undefined;
    res.once('close', () => { if (clientGone) upstreamReq.destroy(); });

    upstreamReq.once('response', (upRes) => {
      upstreamRes = upRes;
      const headers = copyEndToEndHeaders(upRes.headers);
      const sse = /^\s*text\/event-stream/i.test(upRes.headers['content-type'] ?? '');
      // Only a GET stream can carry the legacy transport's endpoint event; its client waits for
      // the headers before anything else. A POST's events go out with their headers.
      const stream = sse && req.method === 'GET';
      if (stream) delete headers['content-length'];
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, headers);
      if (stream) res.flushHeaders();
      else flushHeadersUnlessBodyFollows(upRes, res);
      upRes.once('error', (error) => {
        if (!clientGone) log?.(`upstream ${describeUpstream(target)} broke off ${req.method} ${stripQuery(req.url)}: ${describeError(error)}`);
        res.destroy();
      });
      if (stream) upRes.pipe(createEndpointRewriteStream(`http://${req.headers.host}`)).pipe(res);
      else pumpCoalesced(upRes, res);
    });
    upstreamReq.on('error', (error) => {
      if (clientGone) return;
      if (upstreamRes) { res.destroy(); return; }
      req.unpipe(upstreamReq);
      log?.(`upstream ${describeUpstream(target)} failed for ${req.method} ${stripQuery(req.url)}: ${describeError(error)}`);
      sendJsonRpcError(res, 502, 'Bad gateway: the MCP server is not answering');
    });
    req.pipe(upstreamReq);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listen.port, options.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  policy.port = port;

  return {
    port,
    url: `http://${formatUrlHost(options.listen.host)}:${port}`,
    setUpstream(next) { upstream = next; },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      agent.destroy();
    }),
  };
}

/**
 * Returns a rewriter for an SSE byte stream: the legacy SSE transport's first `endpoint` event
 * may carry an absolute URL naming the server's own (unreachable) address, so its origin is
 * replaced with `publicOrigin`. Events are held only until complete, which a client needs
 * anyway before it can dispatch them; after the endpoint event, or after
 * `ENDPOINT_SCAN_LIMIT_BYTES` without one, chunks pass through untouched.
 */
export function createEndpointRewriter(publicOrigin: string): { push(chunk: Buffer): Buffer; end(): Buffer } {
  let pending: Buffer | undefined;
  let lineStart = 0;
  let scanned = 0;
  let done = false;

  return {
    push(chunk) {
      if (done) return chunk;
      scanned += chunk.length;
      const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      const out: Buffer[] = [];
      let eventStart = 0;
      let i = lineStart;
      while (i < buf.length) {
        const byte = buf[i];
        if (byte !== LF && byte !== CR) { i++; continue; }
        if (byte === CR && i + 1 === buf.length) break;
        const next = byte === CR && buf[i + 1] === LF ? i + 2 : i + 1;
        if (i === lineStart) {
          const event = buf.subarray(eventStart, next);
          const endpoint = rewriteEndpointEvent(event, publicOrigin);
          out.push(endpoint ?? event);
          eventStart = next;
          if (endpoint) {
            done = true;
            out.push(buf.subarray(next));
            pending = undefined;
            return Buffer.concat(out);
          }
        }
        lineStart = next;
        i = next;
      }
      if (scanned >= ENDPOINT_SCAN_LIMIT_BYTES) {
        done = true;
        pending = undefined;
        out.push(buf.subarray(eventStart));
        return Buffer.concat(out);
      }
      pending = eventStart < buf.length ? buf.subarray(eventStart) : undefined;
      lineStart -= eventStart;
      return out.length === 1 ? out[0]! : Buffer.concat(out);
    },
    end() {
      done = true;
      const rest = pending ?? Buffer.alloc(0);
      pending = undefined;
      return rest;
    },
  };
}

/** Returns the event with its endpoint URL's origin replaced, the event unchanged when relative, or undefined when not an endpoint event. */
function rewriteEndpointEvent(event: Buffer, publicOrigin: string): Buffer | undefined {
  const pieces = event.toString('utf8').split(/(\r\n|\n|\r)/);
  let isEndpoint = false;
  let dataIndex = -1;
  let dataLines = 0;
  for (let k = 0; k < pieces.length; k += 2) {
    const line = pieces[k]!;
    const field = fieldName(line);
    if (field === 'event') isEndpoint = fieldValue(line) === 'endpoint';
    else if (field === 'data') { dataIndex = k; dataLines++; }
  }
  if (!isEndpoint) return undefined;
  if (dataLines !== 1) return event;
  const line = pieces[dataIndex]!;
  const value = fieldValue(line);
  const origin = /^https?:\/\/[^/?#]*/i.exec(value);
  if (!origin || !URL.canParse(value)) return event;
  const prefix = line.startsWith('data: ') ? 'data: ' : 'data:';
  pieces[dataIndex] = `${prefix}${publicOrigin}${value.slice(origin[0].length)}`;
  return Buffer.from(pieces.join(''), 'utf8');
}

function fieldName(line: string): string {
  const colon = line.indexOf(':');
  return colon < 0 ? line : line.slice(0, colon);
}

function fieldValue(line: string): string {
  const colon = line.indexOf(':');
  if (colon < 0) return '';
  return line.charCodeAt(colon + 1) === 0x20 ? line.slice(colon + 2) : line.slice(colon + 1);
}

function createEndpointRewriteStream(publicOrigin: string): Transform {
  const rewriter = createEndpointRewriter(publicOrigin);
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const out = rewriter.push(chunk);
      if (out.length > 0) this.push(out);
      callback();
    },
    flush(callback) {
      const rest = rewriter.end();
      if (rest.length > 0) this.push(rest);
      callback();
    },
  });
}

/** Returns the end-to-end headers: hop-by-hop ones and those the Connection header lists are dropped. */
function copyEndToEndHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const listed = headers.connection ? new Set(headers.connection.toLowerCase().split(',').map((t) => t.trim())) : undefined;
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || listed?.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** Returns the headers sent upstream: Host and Origin name the upstream so its own rebinding check accepts them. */
function buildUpstreamHeaders(req: IncomingMessage, upstreamHost: string): OutgoingHttpHeaders {
  const headers = copyEndToEndHeaders(req.headers);
  delete headers.expect;
  headers.host = upstreamHost;
  if (req.headers.origin !== undefined) headers.origin = `http://${upstreamHost}`;
  if (req.headers['transfer-encoding'] !== undefined && req.headers['content-length'] === undefined) headers['transfer-encoding'] = 'chunked';
  const client = req.socket.remoteAddress ?? '';
  const prior = req.headers['x-forwarded-for'];
  headers['x-forwarded-for'] = prior ? `${prior}, ${client}` : client;
  headers['x-forwarded-host'] = req.headers.host;
  headers['x-forwarded-proto'] = 'http';
  return headers;
}

/**
 * Copies a response body, holding each tick's writes (headers, chunks, the end) into one
 * socket write: on small replies the system calls, not the bytes, are the proxy's cost.
 */
function pumpCoalesced(upRes: IncomingMessage, res: ServerResponse): void {
  let corked = false;
  const uncork = (): void => { corked = false; if (!res.writableEnded) res.uncork(); };
  upRes.on('data', (chunk: Buffer) => {
    if (!corked) { corked = true; res.cork(); process.nextTick(uncork); }
    if (!res.write(chunk)) { upRes.pause(); res.once('drain', () => upRes.resume()); }
  });
  upRes.once('end', () => { res.end(); });
}

/** Sends the headers on the next turn when no body byte came with them, so a slow response is not held back. */
function flushHeadersUnlessBodyFollows(upRes: IncomingMessage, res: ServerResponse): void {
  let bodyStarted = false;
  upRes.once('data', () => { bodyStarted = true; });
  setImmediate(() => { if (!bodyStarted && !res.writableEnded && !res.destroyed) res.flushHeaders(); });
}

function sendJsonRpcError(res: ServerResponse, status: number, message: string, extra: OutgoingHttpHeaders = {}): void {
  const body = JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null });
  res.writeHead(status, { ...extra, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function stripQuery(url: string | undefined): string {
  if (url === undefined) return '';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function describeUpstream(upstream: Upstream): string {
  return 'socketPath' in upstream ? upstream.socketPath : `${formatUrlHost(upstream.host)}:${upstream.port}`;
}

function describeError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code ? `${code} (${error.message})` : error.message;
}

function formatUrlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return isIP(host) === 6 ? `[${host}]` : host;
}
