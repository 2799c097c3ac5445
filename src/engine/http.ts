import http from 'node:http';
import type https from 'node:https';
import { createRequire } from 'node:module';
import type { Duplex, Readable } from 'node:stream';
import { LokError, EXIT } from '../errors.js';
import type { EngineEndpoint } from './endpoint.js';

/**
 * mcp-lok's Docker Engine API client over node:http: every request to the engine goes through
 * here (JSON requests, attach, and the streaming image endpoints in images.ts). It replaced
 * dockerode, whose import alone cost ~200 ms on the start path (and execa ~135 ms), measured
 * with `await import()` timings on Node 20.
 */
export interface EngineResponse<T = unknown> {
  status: number;
  body: T;
  headers: http.IncomingHttpHeaders;
}

const agentFor = new WeakMap<EngineEndpoint, http.Agent>();

// Loaded only for an engine over TLS: node:https brings node:tls, which a start over the
// local socket does not need.
let httpsModule: typeof https | undefined;
const loadHttps = (): typeof https => (httpsModule ??= createRequire(import.meta.url)('node:https') as typeof https);

function requestOptions(endpoint: EngineEndpoint, method: string, path: string): http.RequestOptions {
  // Unversioned paths mean the engine's newest API; discovery pins the negotiated one.
  const prefix = endpoint.apiVersion ? `/v${endpoint.apiVersion}` : '';
  const base: http.RequestOptions = { method, path: prefix + path, headers: { host: 'docker' } };
  let agent = agentFor.get(endpoint);
  if (!agent) {
    agent = endpoint.kind === 'tcp' && endpoint.tls ? new (loadHttps().Agent)({ keepAlive: true }) : new http.Agent({ keepAlive: true });
    agentFor.set(endpoint, agent);
  }
  base.agent = agent;
  // No TLS on a socket: an empty server name spares Node's agent working one out of the Host
  // header (its IPv6 check compiles a large regular expression, on every shim's start path).
  if (endpoint.kind === 'unix') return { ...base, socketPath: endpoint.socketPath, servername: '' } as http.RequestOptions;
  return { ...base, host: endpoint.host, port: endpoint.port };
}

function transport(endpoint: EngineEndpoint): typeof http | typeof https {
  return endpoint.kind === 'tcp' && endpoint.tls ? loadHttps() : http;
}

/** Returns true for errors that mean nothing is listening at the endpoint. */
export function isConnectError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'EACCES' || code === 'ECONNRESET' ||
    code === 'EHOSTUNREACH' || code === 'ETIMEDOUT' || code === 'ENOTFOUND' || code === 'EPERM';
}

/** Sends one API request and parses a JSON answer (or returns the raw text). */
export function engineRequest<T = unknown>(
  endpoint: EngineEndpoint,
  method: string,
  path: string,
  body?: unknown,
  options: { timeoutMs?: number } = {},
): Promise<EngineResponse<T>> {
  return new Promise((resolve, reject) => {
    const opts = requestOptions(endpoint, method, path);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    if (payload) opts.headers = { ...opts.headers, 'content-type': 'application/json', 'content-length': payload.length };
    const req = transport(endpoint).request(opts, (res) => { readResponse<T>(res).then(resolve, reject); });
    if (options.timeoutMs) req.setTimeout(options.timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Reads a whole answer, parsing JSON bodies (a body that is not JSON stays text). */
function readResponse<T>(res: http.IncomingMessage): Promise<EngineResponse<T>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let parsed: unknown = text;
      if ((res.headers['content-type'] ?? '').includes('json') && text) {
        try { parsed = JSON.parse(text); } catch { parsed = text; }
      }
      resolve({ status: res.statusCode ?? 0, body: parsed as T, headers: res.headers });
    });
    res.on('error', reject);
  });
}

/** An engine answer with an error status, carrying the engine's own message. */
export class EngineHttpError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'EngineHttpError';
    this.status = status;
  }
}

/**
 * Sends a request whose answer is a stream (pull, build, import progress) and resolves with
 * the answer once its status is 2xx; otherwise rejects with an EngineHttpError. `body` is
 * sent as is: a Buffer with its length, a stream chunked.
 */
export function engineStream(
  endpoint: EngineEndpoint,
  method: string,
  path: string,
  options: { body?: Buffer | Readable; contentType?: string; headers?: Record<string, string> } = {},
): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const opts = requestOptions(endpoint, method, path);
    // A connection of its own: a build can hold it for minutes, and it closes with the answer.
    opts.agent = false;
    const { body, contentType } = options;
    opts.headers = {
      ...opts.headers,
      ...options.headers,
      ...(contentType ? { 'content-type': contentType } : {}),
      ...(Buffer.isBuffer(body) ? { 'content-length': body.length } : {}),
    };
    const req = transport(endpoint).request(opts, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) { resolve(res); return; }
      readResponse(res).then((answer) => reject(new EngineHttpError(status, engineMessage(answer).trim())), reject);
    });
    req.on('error', reject);
    if (body === undefined || Buffer.isBuffer(body)) {
      req.end(body);
    } else {
      body.on('error', (error) => req.destroy(error));
      body.pipe(req);
    }
  });
}

/** Returns the engine's message from an error answer. */
export function engineMessage(response: EngineResponse): string {
  const body = response.body as { message?: string } | string;
  if (typeof body === 'string') return body.trim() || `HTTP ${response.status}`;
  return body?.message ?? `HTTP ${response.status}`;
}

/** Throws an ENGINE_ERROR unless the answer's status is one of `ok`. */
export function expectStatus(response: EngineResponse, ok: number[], what: string): void {
  if (ok.includes(response.status)) return;
  throw new LokError('ENGINE_ERROR', `${what} failed: ${engineMessage(response)}`, { exitCode: EXIT.engine });
}

/**
 * Opens a hijacked connection (attach): the answer's socket carries raw bytes both ways.
 */
export function engineUpgrade(endpoint: EngineEndpoint, path: string): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const opts = requestOptions(endpoint, 'POST', path);
    opts.agent = false;
    opts.headers = { ...opts.headers, connection: 'Upgrade', upgrade: 'tcp', 'content-type': 'application/vnd.docker.raw-stream' };
    const req = transport(endpoint).request(opts);
    req.on('upgrade', (_res, socket, head) => {
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => reject(new LokError('ENGINE_ERROR', `attach failed: ${Buffer.concat(chunks).toString('utf8').trim() || res.statusCode}`, { exitCode: EXIT.engine })));
    });
    req.on('error', reject);
    req.end();
  });
}
