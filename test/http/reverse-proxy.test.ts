// lok-offline-data: evil.example, mybox, 10.0.0.2, 10.0.0.9; Host, Origin, forwarding and SSE values sent to the proxy under test on loopback
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type RequestListener } from 'node:http';
import { createConnection, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createEndpointRewriter, ENDPOINT_SCAN_LIMIT_BYTES, startReverseProxy, type ReverseProxy, type ReverseProxyOptions, type Upstream } from '../../src/http/reverse-proxy/proxy.js';
import { createAbsoluteEndpointSseHandler, createSdkSseHandler, createStreamableHandler, listenHttp, type ListenAddress } from '../support/sdk-http-servers.js';

const dir = mkdtempSync(join(tmpdir(), 'mcp-lok-rp-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** How long a test waits for something that should happen at once before calling it a failure. */
const FAIL_AFTER_MS = 2000;
const UPSTREAM_HOST = 'localhost:8080';

function within<T>(promise: Promise<T>, what: string, ms = FAIL_AFTER_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => { resolve = r; });
  return { promise, resolve };
}

interface Reply { status: number; headers: IncomingHttpHeaders; body: string }

function send(port: number, options: { method?: string; path?: string; headers?: OutgoingHttpHeaders; body?: string; agent?: Agent } = {}): Promise<Reply> {
  return within(new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, agent: options.agent ?? false, method: options.method ?? 'GET', path: options.path ?? '/', headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  }), `a reply to ${options.method ?? 'GET'} ${options.path ?? '/'}`);
}

/** Opens a GET through the proxy and resolves with the response once its first bytes arrive. */
function openStream(port: number, path = '/events'): Promise<{ res: IncomingMessage; first: string; destroy(): void }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, agent: false, path }, (res) => {
      res.once('data', (c: Buffer) => resolve({ res, first: c.toString('utf8'), destroy: () => req.destroy() }));
    });
    req.on('error', reject);
    req.end();
  });
}

function waitUntil(check: () => boolean, what: string): Promise<void> {
  return within(new Promise<void>((resolve) => {
    const poll = () => (check() ? resolve() : setTimeout(poll, 5));
    poll();
  }), what);
}

const toClose: Array<() => Promise<void>> = [];

async function closeAll(): Promise<void> {
  while (toClose.length > 0) await within(toClose.pop()!(), 'cleanup');
}

async function upstreamOn(handler: RequestListener, where: 'tcp' | 'unix' = 'tcp'): Promise<Upstream> {
  const address: ListenAddress = where === 'tcp' ? { host: '127.0.0.1', port: 0 } : { socketPath: join(dir, `up-${toClose.length}-${Date.now()}.sock`) };
  const server = await listenHttp(handler, address);
  toClose.push(server.close);
  return 'socketPath' in address ? address : { host: '127.0.0.1', port: server.port! };
}

async function proxyTo(upstream: Upstream | undefined, extra: Partial<ReverseProxyOptions> = {}): Promise<ReverseProxy> {
  const proxy = await startReverseProxy({ listen: { host: '127.0.0.1', port: 0 }, upstream, upstreamHost: UPSTREAM_HOST, ...extra });
  toClose.push(proxy.close);
  return proxy;
}

/** A raw connection to the proxy: writes bytes as given and collects everything it gets back. */
interface RawClient {
  write(data: string | Buffer): Promise<void>;
  /** Writes one byte at a time, letting the proxy read between bytes. */
  writeBytewise(data: string): Promise<void>;
  /** Resolves with all received so far once it contains `text`. */
  waitFor(text: string): Promise<string>;
  /** Resolves with all received once the proxy closes the connection. */
  closed(): Promise<string>;
  received(): string;
  destroy(): void;
}

async function connectRaw(port: number): Promise<RawClient> {
  const socket = createConnection({ host: '127.0.0.1', port, noDelay: true });
  await within(new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject)), 'a connection');
  let received = '';
  const waiters = new Set<() => void>();
  socket.on('data', (c: Buffer) => { received += c.toString('latin1'); for (const w of waiters) w(); });
  socket.on('error', () => {});
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const turn = () => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
  const write = (data: string | Buffer) => new Promise<void>((resolve, reject) => { socket.write(data, (error) => (error ? reject(error) : resolve())); });
  toClose.push(async () => { socket.destroy(); });
  return {
    write,
    async writeBytewise(data) {
      for (const byte of Buffer.from(data, 'latin1')) { await write(Buffer.from([byte])); await turn(); }
    },
    waitFor(text) {
      return within(new Promise<string>((resolve) => {
        const check = () => { if (received.includes(text)) { waiters.delete(check); resolve(received); } };
        waiters.add(check);
        check();
      }), JSON.stringify(text));
    },
    closed: () => within(ended.then(() => received), 'the proxy to close the connection'),
    received: () => received,
    destroy: () => socket.destroy(),
  };
}

/** A TCP upstream that records every byte it receives and answers with `respond`, if given. */
async function rawUpstream(respond?: (socket: Socket, received: string) => void): Promise<{ upstream: Upstream; received(): string; connections(): number }> {
  let received = '';
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    connections++;
    sockets.add(socket);
    let mine = '';
    socket.on('data', (c: Buffer) => { received += c.toString('latin1'); mine += c.toString('latin1'); respond?.(socket, mine); });
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  toClose.push(() => new Promise<void>((resolve) => { server.close(() => resolve()); for (const s of sockets) s.destroy(); }));
  return { upstream: { host: '127.0.0.1', port: (server.address() as AddressInfo).port }, received: () => received, connections: () => connections };
}

function head(port: number, lines: string[], method = 'GET /mcp'): string {
  return `${method} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`;
}

function statusLines(text: string): string[] {
  return [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]!);
}

function jsonRpcMessage(text: string): string {
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  return (JSON.parse(body) as { error: { message: string } }).error.message;
}

const echo: RequestListener = (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    res.writeHead(201, { 'content-type': 'application/json', 'x-upstream': 'yes' });
    res.end(JSON.stringify({ method: req.method, url: req.url, body: Buffer.concat(chunks).toString('utf8'), headers: req.headers }));
  });
};

function rewriteAll(chunks: readonly string[], origin = 'http://127.0.0.1:9000'): string {
  const rewriter = createEndpointRewriter(origin);
  const out = chunks.map((c) => rewriter.push(Buffer.from(c, 'utf8')).toString('utf8')).join('');
  return out + rewriter.end().toString('utf8');
}

const rewrite = suite('createEndpointRewriter');

rewrite('replaces the origin of an absolute endpoint URL, keeping path and query', () => {
  assert.is(rewriteAll(['event: endpoint\ndata: http://localhost:3000/message?sessionId=x\n\n']), 'event: endpoint\ndata: http://127.0.0.1:9000/message?sessionId=x\n\n');
});

rewrite('keeps CRLF line endings, a value without a space, https URLs and fragments', () => {
  assert.is(rewriteAll(['event:endpoint\r\ndata:https://10.0.0.2/m?s=1#f\r\n\r\n']), 'event:endpoint\r\ndata:http://127.0.0.1:9000/m?s=1#f\r\n\r\n');
});

rewrite('handles an event split anywhere across chunks, CRLF split included', () => {
  const text = 'event: endpoint\r\ndata: http://localhost:3000/message?sessionId=ü\r\n\r\nevent: message\r\ndata: {}\r\n\r\n';
  const bytes = Buffer.from(text, 'utf8');
  const rewriter = createEndpointRewriter('http://127.0.0.1:9000');
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i++) out.push(rewriter.push(bytes.subarray(i, i + 1)));
  out.push(rewriter.end());
  assert.is(Buffer.concat(out).toString('utf8'), text.replace('http://localhost:3000', 'http://127.0.0.1:9000'));
});

rewrite('passes a relative endpoint unchanged and stops looking after it', () => {
  const input = 'event: endpoint\ndata: /messages?sessionId=1\n\nevent: endpoint\ndata: http://localhost:3000/x\n\n';
  assert.is(rewriteAll([input]), input);
});

rewrite('rewrites only the first endpoint event, after other events', () => {
  const out = rewriteAll([': comment\n\nevent: message\ndata: http://localhost:3000/a\n\n', 'event: endpoint\ndata: http://localhost:3000/b\n\nevent: endpoint\ndata: http://localhost:3000/c\n\n']);
  assert.is(out, ': comment\n\nevent: message\ndata: http://localhost:3000/a\n\nevent: endpoint\ndata: http://127.0.0.1:9000/b\n\nevent: endpoint\ndata: http://localhost:3000/c\n\n');
});

rewrite('releases each complete event at once and holds only an incomplete one', () => {
  const rewriter = createEndpointRewriter('http://127.0.0.1:9000');
  assert.is(rewriter.push(Buffer.from('data: one\n\ndata: tw')).toString(), 'data: one\n\n');
  assert.is(rewriter.push(Buffer.from('o\n')).toString(), '');
  assert.is(rewriter.push(Buffer.from('\n')).toString(), 'data: two\n\n');
});

rewrite(`passes bytes through untouched after ${ENDPOINT_SCAN_LIMIT_BYTES} bytes without an endpoint event`, () => {
  const filler = `data: ${'x'.repeat(ENDPOINT_SCAN_LIMIT_BYTES)}\n\n`;
  const late = 'event: endpoint\ndata: http://localhost:3000/x\n\n';
  assert.is(rewriteAll([filler, late]), filler + late);
});

rewrite.run();

const proxy = suite('startReverseProxy');
proxy.after.each(closeAll);

proxy('forwards method, path, body, status and headers both ways over TCP and a Unix socket', async () => {
  for (const where of ['tcp', 'unix'] as const) {
    const p = await proxyTo(await upstreamOn(echo, where));
    const reply = await send(p.port, { method: 'POST', path: '/mcp?x=1', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    assert.is(reply.status, 201, where);
    assert.is(reply.headers['x-upstream'], 'yes');
    const seen = JSON.parse(reply.body) as { method: string; url: string; body: string };
    assert.equal([seen.method, seen.url, seen.body], ['POST', '/mcp?x=1', '{"a":1}'], where);
  }
});

proxy('passes MCP and connection-level headers through unchanged, names the upstream in Host, and drops proxy headers', async () => {
  const p = await proxyTo(await upstreamOn((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'sess-2', 'mcp-protocol-version': '2025-06-18', connection: 'x-hop-res', 'x-hop-res': 'kept' });
    res.end(JSON.stringify(req.headers));
  }));
  const reply = await send(p.port, {
    method: 'POST',
    path: '/mcp',
    headers: {
      'mcp-session-id': 'sess-1', 'mcp-protocol-version': '2025-06-18', 'last-event-id': 'ev-7', authorization: 'Bearer t',
      accept: 'application/json, text/event-stream', 'content-type': 'application/json', 'x-custom': 'keep',
      connection: 'keep-alive, x-hop', 'x-hop': 'kept', te: 'trailers', 'proxy-authorization': 'Basic eDp4', proxy: 'http://evil.example', 'x-forwarded-for': '10.0.0.9',
    },
    body: '{}',
  });
  const seen = JSON.parse(reply.body) as Record<string, string>;
  assert.equal(
    [seen['mcp-session-id'], seen['mcp-protocol-version'], seen['last-event-id'], seen.authorization, seen.accept, seen['content-type'], seen['x-custom']],
    ['sess-1', '2025-06-18', 'ev-7', 'Bearer t', 'application/json, text/event-stream', 'application/json', 'keep'],
  );
  assert.is(seen.host, UPSTREAM_HOST);
  assert.is(seen.origin, undefined);
  assert.equal([seen['x-forwarded-for'], seen['x-forwarded-host'], seen['x-forwarded-proto']], ['10.0.0.9, 127.0.0.1', `127.0.0.1:${p.port}`, 'http']);
  // The client and the server share one connection, so its headers are theirs to see.
  assert.equal([seen.connection, seen['x-hop'], seen.te, seen['content-length']], ['keep-alive, x-hop', 'kept', 'trailers', '2']);
  for (const dropped of ['proxy-authorization', 'proxy']) assert.is(seen[dropped], undefined, dropped);
  assert.is(reply.headers['mcp-session-id'], 'sess-2');
  assert.is(reply.headers['mcp-protocol-version'], '2025-06-18');
  assert.is(reply.headers['x-hop-res'], 'kept');
});

proxy('refuses a Host that does not name the proxy with a 403 JSON-RPC error, never reaching upstream', async () => {
  let reached = 0;
  const p = await proxyTo(await upstreamOn((req, res) => { reached++; echo(req, res); }));
  const reply = await send(p.port, { headers: { host: `evil.example:${p.port}` } });
  assert.is(reply.status, 403);
  assert.is(reply.headers['content-type'], 'application/json');
  const body = JSON.parse(reply.body) as { jsonrpc: string; id: unknown; error: { code: number; message: string } };
  assert.equal([body.jsonrpc, body.id, body.error.code], ['2.0', null, -32000]);
  assert.match(body.error.message, /^Forbidden: Host "evil\.example:\d+" is not this server$/);
  assert.is((await send(p.port, { headers: { host: `localhost:${p.port + 1}` } })).status, 403);
  assert.is(reached, 0);
});

proxy('with a token, refuses a request without it or with another one (401), never reaching upstream, and keeps the token from the server', async () => {
  let reached = 0;
  const p = await proxyTo(await upstreamOn((req, res) => { reached++; echo(req, res); }), { token: 'sekrit-token' });
  for (const authorization of [undefined, 'Bearer wrong', 'Basic c2Vrcml0LXRva2Vu', 'Bearer sekrit-token-and-more']) {
    const reply = await send(p.port, authorization ? { headers: { authorization } } : {});
    assert.is(reply.status, 401, String(authorization));
    assert.is(reply.headers['www-authenticate'], 'Bearer realm="mcp-lok"');
    assert.match(reply.body, /Unauthorized/);
  }
  assert.is(reached, 0);
  const ok = await send(p.port, { headers: { authorization: 'Bearer sekrit-token' } });
  assert.is(ok.status, 201);
  assert.is((JSON.parse(ok.body) as { headers: Record<string, string> }).headers.authorization, undefined);
  // Without a token, a server's own Authorization header passes through untouched.
  const open = await proxyTo(await upstreamOn(echo));
  const passed = await send(open.port, { headers: { authorization: 'Bearer the-servers-own' } });
  assert.is((JSON.parse(passed.body) as { headers: Record<string, string> }).headers.authorization, 'Bearer the-servers-own');
});

proxy('refuses a foreign Origin with 403, never reaching upstream', async () => {
  let reached = 0;
  const p = await proxyTo(await upstreamOn((req, res) => { reached++; echo(req, res); }));
  const reply = await send(p.port, { method: 'POST', headers: { origin: 'http://evil.example' }, body: '{}' });
  assert.is(reply.status, 403);
  assert.match(reply.body, 'Forbidden: Origin');
  assert.is(reached, 0);
});

proxy('lets a local Origin and an extra name through, sending the upstream its own origin', async () => {
  const p = await proxyTo(await upstreamOn(echo), { extraNames: ['MyBox'] });
  const reply = await send(p.port, { headers: { origin: `http://localhost:${p.port}` } });
  assert.is(reply.status, 201);
  assert.is((JSON.parse(reply.body) as { headers: Record<string, string> }).headers.origin, `http://${UPSTREAM_HOST}`);
  const named = await send(p.port, { headers: { host: `mybox:${p.port}`, origin: `http://mybox:${p.port}` } });
  assert.is(named.status, 201);
});

proxy('delivers each SSE event before the upstream ends the response', async () => {
  const release = deferred();
  const p = await proxyTo(await upstreamOn((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('event: message\ndata: one\n\n');
    void release.promise.then(() => res.end('data: two\n\n'));
  }));
  const stream = await within(openStream(p.port), 'the first event');
  assert.is(stream.first, 'event: message\ndata: one\n\n');
  const rest: string[] = [];
  stream.res.on('data', (c: Buffer) => rest.push(c.toString('utf8')));
  const ended = new Promise((resolve) => stream.res.on('end', resolve));
  release.resolve();
  await within(ended, 'the end of the stream');
  assert.is(rest.join(''), 'data: two\n\n');
});

proxy('sends response headers before a slow non-SSE body arrives', async () => {
  const release = deferred();
  const p = await proxyTo(await upstreamOn((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 's' });
    res.flushHeaders();
    void release.promise.then(() => res.end('{}'));
  }));
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    request({ host: '127.0.0.1', port: p.port, agent: false, method: 'POST' }, resolve).on('error', reject).end('{}');
  });
  const res = await within(response, 'the response headers');
  assert.is(res.headers['mcp-session-id'], 's');
  let body = '';
  res.on('data', (c: Buffer) => { body += c.toString('utf8'); });
  const ended = new Promise((resolve) => res.on('end', resolve));
  release.resolve();
  await within(ended, 'the body');
  assert.is(body, '{}');
});

proxy('streams a request body to the upstream before the client finishes it', async () => {
  const firstChunk = deferred<string>();
  const p = await proxyTo(await upstreamOn((req, res) => {
    const chunks: string[] = [];
    req.on('data', (c: Buffer) => { chunks.push(c.toString('utf8')); firstChunk.resolve(chunks[0]!); });
    req.on('end', () => res.end(chunks.join('')));
  }));
  let req!: ClientRequest;
  const reply = new Promise<string>((resolve, reject) => {
    req = request({ host: '127.0.0.1', port: p.port, agent: false, method: 'POST', path: '/upload' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString('utf8'); });
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
  });
  reply.catch(() => {});
  req.write('part1');
  assert.is(await within(firstChunk.promise, 'the first body chunk upstream'), 'part1');
  req.end('part2');
  assert.is(await within(reply, 'the reply'), 'part1part2');
});

proxy('answers 502 and logs when the upstream socket does not exist', async () => {
  const lines: string[] = [];
  const p = await proxyTo({ socketPath: join(dir, 'missing.sock') }, { log: (line) => lines.push(line) });
  const reply = await send(p.port, { method: 'POST', path: '/mcp', body: '{}' });
  assert.is(reply.status, 502);
  assert.is(reply.headers['content-type'], 'application/json');
  assert.match((JSON.parse(reply.body) as { error: { message: string } }).error.message, 'not answering');
  await waitUntil(() => lines.length >= 2, 'two log lines');
  assert.ok(lines.some((l) => l.includes('missing.sock') && l.includes('ENOENT')), lines.join('\n'));
});

proxy('answers 502 when the upstream resets the connection before answering', async () => {
  const p = await proxyTo(await upstreamOn((req) => req.socket.destroy()));
  const reply = await send(p.port);
  assert.is(reply.status, 502);
  assert.match(reply.body, '"code":-32000');
});

proxy('answers 503 with retry-after until an upstream is set, then follows setUpstream', async () => {
  const p = await proxyTo(undefined);
  const waiting = await send(p.port);
  assert.is(waiting.status, 503);
  assert.is(waiting.headers['retry-after'], '1');
  assert.match((JSON.parse(waiting.body) as { error: { message: string } }).error.message, 'not ready');
  p.setUpstream(await upstreamOn((_req, res) => res.end('first')));
  assert.is((await send(p.port)).body, 'first');
  p.setUpstream(await upstreamOn((_req, res) => res.end('second'), 'unix'));
  assert.is((await send(p.port)).body, 'second');
  p.setUpstream(undefined);
  assert.is((await send(p.port)).status, 503);
});

proxy('destroys the upstream request when the client closes an SSE stream', async () => {
  const upstreamClosed = deferred();
  const p = await proxyTo(await upstreamOn((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: hello\n\n');
    res.on('close', () => upstreamClosed.resolve());
  }));
  const stream = await within(openStream(p.port), 'the first event');
  stream.destroy();
  await within(upstreamClosed.promise, 'the upstream to see the close');
});

proxy('breaks off the client response when the upstream fails mid-stream', async () => {
  const p = await proxyTo(await upstreamOn((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: hello\n\n', () => setTimeout(() => req.socket.destroy(), 20));
  }));
  const stream = await within(openStream(p.port), 'the first event');
  let ended = false;
  stream.res.on('end', () => { ended = true; });
  stream.res.on('error', () => {});
  await within(new Promise((resolve) => stream.res.on('close', resolve)), 'the client response to close');
  assert.is(ended, false);
  assert.is(stream.res.complete, false);
});

proxy('close() resolves while an SSE stream is open, closing both sides', async () => {
  const upstreamClosed = deferred();
  const p = await proxyTo(await upstreamOn((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: hello\n\n');
    res.on('close', () => upstreamClosed.resolve());
  }));
  const stream = await within(openStream(p.port), 'the first event');
  stream.res.on('error', () => {});
  const clientClosed = new Promise((resolve) => stream.res.on('close', resolve));
  await within(p.close(), 'close()');
  await within(clientClosed, 'the client stream to close');
  await within(upstreamClosed.promise, 'the upstream to see the close');
});

proxy('gives each client connection one upstream connection of its own, kept for its consecutive requests', async () => {
  const sockets = new Set<unknown>();
  const upstream = await upstreamOn((req, res) => { sockets.add(req.socket); res.end('ok'); });
  const p = await proxyTo(upstream);
  const first = new Agent({ keepAlive: true, maxSockets: 1 });
  const second = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < 3; i++) assert.is((await send(p.port, { agent: first })).body, 'ok');
    assert.is(sockets.size, 1);
    for (let i = 0; i < 3; i++) assert.is((await send(p.port, { agent: second })).body, 'ok');
    assert.is(sockets.size, 2);
  } finally {
    first.destroy();
    second.destroy();
  }
});

proxy('logs one line per request with method, path without query, status and time', async () => {
  const lines: string[] = [];
  const p = await proxyTo(await upstreamOn((_req, res) => res.end('ok')), { log: (line) => lines.push(line) });
  await send(p.port, { path: '/mcp?token=secret' });
  await send(p.port, { headers: { host: 'evil.example' } });
  await waitUntil(() => lines.length >= 2, 'two log lines');
  assert.match(lines[0]!, /^GET \/mcp 200 \d+\.\dms$/);
  assert.match(lines[1]!, /^GET \/ 403 \d+\.\dms$/);
  assert.is(p.url, `http://127.0.0.1:${p.port}`);
});

proxy.run();

const splice = suite('startReverseProxy splicing');
splice.after.each(closeAll);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

splice('answers pipelined requests on one connection in order, even when an earlier one is slower', async () => {
  const p = await proxyTo(await upstreamOn((req, res) => {
    if (req.url === '/slow') setTimeout(() => echo(req, res), 50);
    else echo(req, res);
  }));
  const client = await connectRaw(p.port);
  await client.write(head(p.port, [], 'GET /slow') + head(p.port, ['Content-Length: 4'], 'POST /body') + 'abcd' + head(p.port, ['Connection: close'], 'GET /last'));
  const text = await client.closed();
  assert.equal(statusLines(text), ['201', '201', '201']);
  assert.equal([...text.matchAll(/"url":"([^"]+)"/g)].map((m) => m[1]), ['/slow', '/body', '/last']);
  assert.match(text, '"body":"abcd"');
});

splice('forwards a chunked request body, extensions and trailers included, whole or a byte at a time, and finds its end', async () => {
  const p = await proxyTo(await upstreamOn((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => res.end(JSON.stringify({ url: req.url, body: Buffer.concat(chunks).toString('latin1'), trailers: req.trailers })));
  }));
  // The third chunk's data looks like a last chunk: only its size says it is not.
  const body = '5;name="v a l"\r\nhello\r\n6\r\n world\r\nA\r\n0\r\n\r\n12345\r\n0\r\nX-Check: yes\r\n\r\n';
  for (const bytewise of [false, true]) {
    const client = await connectRaw(p.port);
    const request = head(p.port, ['Transfer-Encoding: chunked'], 'POST /chunked') + body;
    await (bytewise ? client.writeBytewise(request) : client.write(request));
    await client.write(head(p.port, ['Connection: close'], 'GET /after'));
    const text = await client.closed();
    assert.equal(statusLines(text), ['200', '200'], text);
    assert.match(text, JSON.stringify({ url: '/chunked', body: 'hello world0\r\n\r\n12345', trailers: { 'x-check': 'yes' } }));
    assert.match(text, '"url":"/after"');
  }
});

splice('reads a request head sent a byte at a time, after a stray blank line', async () => {
  const p = await proxyTo(await upstreamOn(echo));
  const client = await connectRaw(p.port);
  await client.writeBytewise(`\r\n${head(p.port, ['X-Custom: one', 'Content-Length: 3'], 'POST /mcp')}abc`);
  const text = await client.waitFor('}');
  assert.equal(statusLines(text), ['201']);
  assert.match(text, '"body":"abc"');
  assert.match(text, '"x-custom":"one"');
});

splice('refuses ambiguous or malformed request framing with a 400 and closes, sending nothing upstream', async () => {
  const up = await rawUpstream();
  const p = await proxyTo(up.upstream);
  const host = `Host: 127.0.0.1:${p.port}`;
  const cases: Array<[string, string]> = [
    ['Content-Length with Transfer-Encoding', head(p.port, ['Content-Length: 5', 'Transfer-Encoding: chunked'], 'POST /mcp') + '0\r\n\r\n'],
    ['a negative Content-Length', head(p.port, ['Content-Length: -1'], 'POST /mcp')],
    ['a Content-Length list', head(p.port, ['Content-Length: 5, 5'], 'POST /mcp') + 'hello'],
    ['two Content-Lengths', head(p.port, ['Content-Length: 5', 'Content-Length: 6'], 'POST /mcp') + 'hello!'],
    ['a coding other than chunked', head(p.port, ['Transfer-Encoding: gzip'], 'POST /mcp')],
    ['chunked twice', head(p.port, ['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'], 'POST /mcp') + '0\r\n\r\n'],
    ['Transfer-Encoding in HTTP/1.0', `POST /mcp HTTP/1.0\r\n${host}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`],
    ['whitespace before a colon', head(p.port, ['Content-Length : 5'], 'POST /mcp') + 'hello'],
    ['a folded header', head(p.port, ['X-A: 1', ' folded'])],
    ['a bare LF', `GET /mcp HTTP/1.1\n${host}\r\n\r\n`],
    ['a bare CR', `GET /mcp HTTP/1.1\r${host}\r\n\r\n`],
    ['an absolute-form target', `GET http://evil.example/mcp HTTP/1.1\r\n${host}\r\n\r\n`],
    ['two Host headers', head(p.port, [`Host: 127.0.0.1:${p.port}`])],
    ['HTTP/2 on the request line', `GET /mcp HTTP/2.0\r\n${host}\r\n\r\n`],
    ['a method Node does not know', head(p.port, [], 'FOO /mcp')],
    ['CONNECT with a path', head(p.port, [], 'CONNECT /mcp')],
    ['a tab after a Content-Length', head(p.port, ['Content-Length: 5\t'], 'POST /mcp') + 'hello'],
    ['an HTTP/0.9 request line', `GET /mcp\r\n${host}\r\n\r\n`],
  ];
  for (const [what, request] of cases) {
    const client = await connectRaw(p.port);
    await client.write(request);
    const text = await client.closed();
    assert.equal(statusLines(text), ['400'], what);
    assert.match(jsonRpcMessage(text), /^Bad request: /, what);
  }
  assert.is(up.received(), '');
  assert.is(up.connections(), 0);
});

splice('reads no request after one that closes the connection, and closes after its response even if the server would not', async () => {
  // A server that keeps every connection open, whatever the client asked.
  const up = await rawUpstream((socket, received) => {
    const answered = received.split('\r\n\r\n').length - 1;
    for (let k = (socket as Socket & { answered?: number }).answered ?? 0; k < answered; k++) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    (socket as Socket & { answered?: number }).answered = answered;
  });
  const p = await proxyTo(up.upstream);
  const smuggled = head(p.port, [], 'DELETE /smuggled');
  for (const first of [`GET /mcp HTTP/1.0\r\nHost: 127.0.0.1:${p.port}\r\n\r\n`, head(p.port, ['Connection: close']), head(p.port, ['Connection: close', 'Content-Length: 2'], 'POST /mcp') + 'ab']) {
    const client = await connectRaw(p.port);
    await client.write(first + smuggled);
    assert.equal(statusLines(await client.closed()), ['200'], first);
  }
  assert.not.match(up.received(), 'smuggled');
  assert.is(up.received().match(/ \/mcp HTTP/g)?.length, 3);
});

splice('answers a malformed chunk with a 400 and cuts the server off before the request completes', async () => {
  const upstreamReq = deferred<IncomingMessage>();
  let ended = false;
  const p = await proxyTo(await upstreamOn((req) => { req.on('end', () => { ended = true; }); req.resume(); upstreamReq.resolve(req); }));
  const client = await connectRaw(p.port);
  await client.write(head(p.port, ['Transfer-Encoding: chunked'], 'POST /mcp') + '5\r\nhello\r\n');
  const req = await within(upstreamReq.promise, 'the request upstream');
  const closed = new Promise((resolve) => req.socket.once('close', resolve));
  await client.write('5 \r\nworld\r\n0\r\n\r\n');
  const text = await client.closed();
  assert.equal(statusLines(text), ['400']);
  assert.match(jsonRpcMessage(text), 'malformed chunk size');
  await within(closed, 'the upstream connection to close');
  assert.is(ended, false);
});

splice(`answers 431 to a head over 64 KiB, whole or in pieces, sending nothing upstream`, async () => {
  const up = await rawUpstream((socket, received) => {
    if (received.includes('\r\n\r\n')) socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
  });
  const p = await proxyTo(up.upstream);
  for (const pieces of [1, 16]) {
    const client = await connectRaw(p.port);
    // In pieces, the head never ends: the proxy must not wait for it.
    const request = head(p.port, [`X-Big: ${'a'.repeat(64 * 1024)}`]).slice(0, pieces === 1 ? undefined : -2);
    const size = Math.ceil(request.length / pieces);
    for (let k = 0; k < request.length; k += size) await client.write(request.slice(k, k + size)).catch(() => {});
    const text = await client.closed();
    assert.equal(statusLines(text), ['431'], `${pieces} pieces`);
    assert.match(jsonRpcMessage(text), /^Request header fields too large/);
  }
  assert.is(up.received(), '');
  const client = await connectRaw(p.port);
  await client.write(head(p.port, [`X-Big: ${'a'.repeat(60 * 1024)}`]));
  assert.equal(statusLines(await client.closed()), ['200']);
});

splice('refuses a WebSocket upgrade with a 501 JSON-RPC error, sending nothing upstream', async () => {
  const up = await rawUpstream();
  const p = await proxyTo(up.upstream);
  const client = await connectRaw(p.port);
  await client.write(head(p.port, ['Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==']));
  const text = await client.closed();
  assert.equal(statusLines(text), ['501']);
  assert.match(jsonRpcMessage(text), 'WebSocket');
  assert.is(up.received(), '');
});

splice('passes Expect: 100-continue through, so the server itself asks for the body', async () => {
  const lines: string[] = [];
  const p = await proxyTo(await upstreamOn(echo), { log: (line) => lines.push(line) });
  const client = await connectRaw(p.port);
  await client.write(head(p.port, ['Expect: 100-continue', 'Content-Length: 5'], 'POST /mcp'));
  assert.is(await client.waitFor('\r\n\r\n'), 'HTTP/1.1 100 Continue\r\n\r\n');
  await client.write('hello');
  await client.waitFor('}');
  // The interim response did not end the exchange: the final one did, so the next request is answered.
  await client.write(`GET /mcp HTTP/1.1\r\nHost: evil.example:${p.port}\r\n\r\n`);
  const text = await client.closed();
  assert.equal(statusLines(text), ['100', '201', '403']);
  assert.match(text, '"body":"hello"');
  assert.match(text, '"expect":"100-continue"');
  assert.match(lines[0] ?? '', /^POST \/mcp 201 /);
});

splice('copies responses framed by length, by chunks, 204, 304 and to HEAD byte for byte, finding where each ends', async () => {
  const handler: RequestListener = (req, res) => {
    if (req.url === '/length') { res.writeHead(200, { 'content-length': '7' }); res.end(req.method === 'HEAD' ? undefined : 'abcdefg'); }
    else if (req.url === '/chunks') { res.writeHead(200, { 'content-type': 'text/plain' }); res.write('0\r\n\r\n'); setTimeout(() => res.end('tail'), 5); }
    else if (req.url === '/none') { res.writeHead(204); res.end(); }
    else if (req.url === '/cached') { res.writeHead(304, { 'content-length': '10', etag: '"x"' }); res.end(); }
    else res.end('last');
  };
  const upstream = await upstreamOn(handler);
  const p = await proxyTo(upstream);
  const requests = ['GET /length', 'GET /chunks', 'GET /none', 'GET /cached', 'HEAD /length', 'GET /chunks'].map((line) => head(p.port, [], line)).join('');
  async function exchange(port: number, last: string): Promise<string> {
    const client = await connectRaw(port);
    await client.write(requests + last);
    return (await client.closed()).replace(/^Date: .*\r\n/gim, '');
  }
  const direct = await exchange((upstream as { port: number }).port, head(p.port, ['Connection: close'], 'GET /last'));
  assert.equal(statusLines(direct), ['200', '200', '204', '304', '200', '200', '200']);
  // The proxy answers a foreign Host only once every response before it has ended.
  const proxied = await exchange(p.port, `GET /mcp HTTP/1.1\r\nHost: evil.example\r\n\r\n`);
  assert.equal(statusLines(proxied), ['200', '200', '204', '304', '200', '200', '403']);
  assert.is(proxied.slice(0, proxied.indexOf('HTTP/1.1 403')), direct.slice(0, direct.lastIndexOf('HTTP/1.1 200')));
});

splice('relays a response whose head and chunks arrive a byte at a time, keeping the connection for the next', async () => {
  const first = 'HTTP/1.1 200 OK\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n';
  const up = await rawUpstream(async (socket, received) => {
    if (!received.endsWith('\r\n\r\n')) return;
    if (received.split('\r\n\r\n').length > 2) { socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext'); return; }
    for (const byte of first) {
      socket.write(byte);
      await new Promise((resolve) => setImmediate(resolve));
    }
  });
  const p = await proxyTo(up.upstream);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const reply = await send(p.port, { path: '/one', agent });
    assert.equal([reply.status, reply.headers['x-a'], reply.body], [200, '1', 'abcdefg']);
    assert.is((await send(p.port, { path: '/two', agent })).body, 'next');
    assert.is(up.connections(), 1);
  } finally {
    agent.destroy();
  }
});

splice('answers 502 and logs when the server sends a response head it cannot frame', async () => {
  const lines: string[] = [];
  const up = await rawUpstream((socket, received) => {
    if (received.endsWith('\r\n\r\n')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\nhello');
  });
  const p = await proxyTo(up.upstream, { log: (line) => lines.push(line) });
  const reply = await send(p.port, { path: '/mcp?x=1' });
  assert.is(reply.status, 502);
  assert.match(reply.body, 'not answering');
  await waitUntil(() => lines.length >= 2, 'two log lines');
  assert.match(lines[0]!, /^upstream 127\.0\.0\.1:\d+ sent a malformed response to GET \/mcp: malformed Content-Length$/);
  assert.match(lines[1]!, /^GET \/mcp 502 /);
});

splice('copies a response delimited by the server closing, then closes the client connection', async () => {
  const up = await rawUpstream((socket, received) => {
    if (!received.endsWith('\r\n\r\n')) return;
    socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\npart1');
    setTimeout(() => socket.end('part2'), 20);
  });
  const p = await proxyTo(up.upstream);
  const reply = await send(p.port, { method: 'POST', body: '' });
  assert.is(reply.status, 200);
  assert.is(reply.body, 'part1part2');
});

splice('rewrites the endpoint event of a chunked SSE GET split across chunks, then copies the stream on', async () => {
  const sockets = new Set<unknown>();
  const p = await proxyTo(await upstreamOn(async (req, res) => {
    sockets.add(req.socket);
    if (req.url !== '/sse') { res.end('next'); return; }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const piece of [': hi\n\nevent: endp', 'oint\ndata: http://localhost:3000/mes', 'sage?sessionId=1\n', '\ndata: after\n\n']) {
      res.write(piece);
      await sleep(10);
    }
    res.end('data: last\n\n');
  }));
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const stream = await send(p.port, { path: '/sse', agent });
    assert.is(stream.body, `: hi\n\nevent: endpoint\ndata: http://127.0.0.1:${p.port}/message?sessionId=1\n\ndata: after\n\ndata: last\n\n`);
    assert.is(stream.headers['transfer-encoding'], 'chunked');
    assert.is((await send(p.port, { path: '/next', agent })).body, 'next');
    assert.is(sockets.size, 1);
  } finally {
    agent.destroy();
  }
});

splice('rewrites the endpoint event of SSE GET streams framed by length or by the server closing', async () => {
  const event = 'event: endpoint\ndata: http://localhost:3000/m?s=1\n\n';
  const rewritten = (port: number) => `event: endpoint\ndata: http://127.0.0.1:${port}/m?s=1\n\n`;
  const p = await proxyTo(await upstreamOn((req, res) => {
    if (req.url === '/sse') res.writeHead(200, { 'content-type': 'text/event-stream', 'content-length': Buffer.byteLength(event) }).end(event);
    else res.end('next');
  }));
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const stream = await send(p.port, { path: '/sse', agent });
    assert.is(stream.body, rewritten(p.port));
    assert.is(stream.headers['content-length'], undefined);
    assert.is((await send(p.port, { path: '/next', agent })).body, 'next');
  } finally {
    agent.destroy();
  }

  const up = await rawUpstream((socket, received) => {
    if (received.endsWith('\r\n\r\n')) socket.end(`HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n${event}`);
  });
  const q = await proxyTo(up.upstream);
  assert.is((await send(q.port, { path: '/sse' })).body, rewritten(q.port));
});

splice('refuses a later request with a foreign Host on a connection whose first request was fine', async () => {
  let reached = 0;
  const p = await proxyTo(await upstreamOn((req, res) => { reached++; setTimeout(() => echo(req, res), 20); }));
  const foreign = `GET /mcp HTTP/1.1\r\nHost: evil.example:${p.port}\r\n\r\n`;
  const client = await connectRaw(p.port);
  await client.write(head(p.port, []));
  await client.waitFor('}');
  await client.write(foreign);
  assert.equal(statusLines(await client.closed()), ['201', '403']);
  // Pipelined behind a slow one, the refusal waits its turn.
  const pipelined = await connectRaw(p.port);
  await pipelined.write(head(p.port, []) + foreign);
  const text = await pipelined.closed();
  assert.equal(statusLines(text), ['201', '403']);
  assert.match(jsonRpcMessage(text.slice(text.indexOf('HTTP/1.1 403'))), 'Forbidden: Host');
  // The same Host with a foreign Origin, and no Host at all, are refused too.
  const origin = await connectRaw(p.port);
  await origin.write(head(p.port, []) + head(p.port, ['Origin: http://evil.example']));
  assert.equal(statusLines(await origin.closed()), ['201', '403']);
  const hostless = await connectRaw(p.port);
  await hostless.write('GET /mcp HTTP/1.1\r\n\r\n');
  assert.match(jsonRpcMessage(await hostless.closed()), 'Forbidden: missing Host header');
  assert.is(reached, 3);
});

splice('closes the upstream connection when the client drops an SSE stream it opened after another request', async () => {
  const upstreamClosed = deferred();
  const p = await proxyTo(await upstreamOn((req, res) => {
    if (req.url !== '/sse') { echo(req, res); return; }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('event: endpoint\ndata: /messages\n\n');
    res.on('close', () => upstreamClosed.resolve());
  }));
  const client = await connectRaw(p.port);
  await client.write(head(p.port, []));
  await client.waitFor('}');
  await client.write(head(p.port, [], 'GET /sse'));
  await client.waitFor('data: /messages');
  client.destroy();
  await within(upstreamClosed.promise, 'the upstream to see the close');
});

splice('keeps a connection on its upstream after setUpstream, moving it once that upstream closes it', async () => {
  let n = 0;
  const a = await listenHttp((_req, res) => res.end(`from-a-${++n}`), { host: '127.0.0.1', port: 0 });
  const b = await upstreamOn((_req, res) => res.end('from-b'));
  const p = await proxyTo({ host: '127.0.0.1', port: a.port! });
  const client = await connectRaw(p.port);
  await client.write(head(p.port, []));
  await client.waitFor('from-a-1');
  p.setUpstream(b);
  await client.write(head(p.port, []));
  await client.waitFor('from-a-2');
  await a.close();
  await sleep(20);
  await client.write(head(p.port, []));
  await client.waitFor('from-b');
  const other = await connectRaw(p.port);
  await other.write(head(p.port, ['Connection: close']));
  assert.match(await other.closed(), 'from-b');
});

splice('stops reading from the server while the client does not read', async () => {
  let written = 0;
  const p = await proxyTo(await upstreamOn((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const chunk = Buffer.alloc(1 << 20);
    const pump = (): void => {
      while (written < 512 << 20) {
        written += chunk.length;
        if (!res.write(chunk)) { res.once('drain', pump); return; }
      }
      res.end();
    };
    pump();
  }));
  const socket = createConnection({ host: '127.0.0.1', port: p.port });
  toClose.push(async () => { socket.destroy(); });
  socket.pause();
  socket.write(head(p.port, []));
  await sleep(400);
  const stalled = written;
  assert.ok(stalled < 96 << 20, `the server wrote ${stalled >> 20} MiB to a client that reads nothing`);
  socket.resume();
  await waitUntil(() => written > stalled + (32 << 20), 'the server to write on once the client reads');
});

splice('stops reading from the client while the server does not read', async () => {
  const upstreamReq = deferred<IncomingMessage>();
  const p = await proxyTo(await upstreamOn((req) => { req.pause(); upstreamReq.resolve(req); }));
  const socket = createConnection({ host: '127.0.0.1', port: p.port });
  toClose.push(async () => { socket.destroy(); });
  socket.on('error', () => {});
  const total = 512 << 20;
  let written = 0;
  const chunk = Buffer.alloc(1 << 20);
  const pump = (): void => {
    while (written < total) {
      written += chunk.length;
      if (!socket.write(chunk)) { socket.once('drain', pump); return; }
    }
  };
  socket.write(head(p.port, [`Content-Length: ${total}`], 'POST /mcp'));
  pump();
  const req = await within(upstreamReq.promise, 'the request upstream');
  await sleep(400);
  const stalled = written;
  assert.ok(stalled < 96 << 20, `the client wrote ${stalled >> 20} MiB to a server that reads nothing`);
  req.resume();
  await waitUntil(() => written > stalled + (32 << 20), 'the client to write on once the server reads');
});

// Slow-request (slowloris) and idle limits, shortened here: what matters is that the proxy, not
// the client, ends these connections, and that a response still owed is never cut.
const SHORT = { headMs: 150, requestMs: 300, idleMs: 150 };

splice('answers 408 to a request head still unfinished at its deadline, however steadily it trickles, sending nothing upstream', async () => {
  const up = await rawUpstream();
  const p = await proxyTo(up.upstream, { timeouts: SHORT });
  const client = await connectRaw(p.port);
  await client.write(`GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:${p.port}\r\nX-Slow: `);
  const drip = setInterval(() => { void client.write('a').catch(() => {}); }, 30);
  try {
    const text = await client.closed();
    assert.equal(statusLines(text), ['408']);
    assert.match(jsonRpcMessage(text), /^Request timeout: the request head took too long/);
  } finally { clearInterval(drip); }
  assert.is(up.connections(), 0);
});

splice('answers 408 to a request body still unfinished at its deadline, and cuts the server off', async () => {
  const upstreamReq = deferred<IncomingMessage>();
  let ended = false;
  const p = await proxyTo(await upstreamOn((req) => { req.on('end', () => { ended = true; }); req.resume(); upstreamReq.resolve(req); }), { timeouts: SHORT });
  const client = await connectRaw(p.port);
  await client.write(head(p.port, ['Content-Length: 100'], 'POST /mcp') + 'only a little');
  const seen = await within(upstreamReq.promise, 'the request upstream');
  const cut = new Promise<void>((resolve) => seen.socket.once('close', () => resolve()));
  const text = await client.closed();
  assert.equal(statusLines(text), ['408']);
  assert.match(jsonRpcMessage(text), /^Request timeout: the request body took too long/);
  await within(cut, 'the server connection to close');
  assert.not.ok(ended, 'the server saw a complete request');
});

splice('closes a connection that sends nothing, and one left idle after its responses', async () => {
  const p = await proxyTo(await upstreamOn(echo), { timeouts: SHORT });
  const silent = await connectRaw(p.port);
  assert.is(await silent.closed(), '');
  const used = await connectRaw(p.port);
  await used.write(head(p.port, ['Content-Length: 2'], 'POST /mcp') + 'hi');
  const text = await used.closed();
  assert.equal(statusLines(text), ['201']);
});

splice('keeps a connection whose response is still streaming, however long past the idle limit', async () => {
  const release = deferred();
  const p = await proxyTo(await upstreamOn((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: one\n\n');
    void release.promise.then(() => res.end('data: two\n\n'));
  }), { timeouts: SHORT });
  const stream = await within(openStream(p.port), 'the first event');
  const rest: string[] = [];
  stream.res.on('data', (c: Buffer) => rest.push(c.toString('utf8')));
  const ended = new Promise((resolve) => stream.res.on('end', resolve));
  await new Promise((resolve) => setTimeout(resolve, SHORT.idleMs * 4));
  release.resolve();
  await within(ended, 'the end of the stream');
  assert.is(rest.join(''), 'data: two\n\n');
});

splice('holds at most 64 connections that sent no checked request: more close the oldest, and a client with the token is still served', async () => {
  const p = await proxyTo(await upstreamOn(echo), { token: 'sekrit-token' });
  // A keep-alive client that passed the checks is never one of those closed.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  assert.is((await send(p.port, { agent, headers: { authorization: 'Bearer sekrit-token' } })).status, 201);
  const closed: boolean[] = [];
  const sockets: Socket[] = [];
  for (let i = 0; i < 64 + 36; i++) {
    const socket = createConnection({ host: '127.0.0.1', port: p.port });
    await within(new Promise((resolve) => socket.once('connect', resolve)), 'a connection');
    const index = closed.push(false) - 1;
    socket.on('error', () => {}).once('close', () => { closed[index] = true; });
    sockets.push(socket);
    toClose.push(async () => { socket.destroy(); });
  }
  await waitUntil(() => closed.slice(0, 36).every(Boolean), 'the 36 oldest idle connections to be closed');
  await sleep(100);
  assert.is(closed.filter(Boolean).length, 36);
  assert.is((await send(p.port, { agent, headers: { authorization: 'Bearer sekrit-token' } })).status, 201);
  assert.is((await send(p.port, { headers: { authorization: 'Bearer sekrit-token' } })).status, 201);
  agent.destroy();
});

splice.run();

const sdk = suite('startReverseProxy with MCP SDK servers');
sdk.after.each(closeAll);

/** Fails an SDK test that hangs instead of letting it stall the run. */
function timed(body: () => Promise<void>): () => Promise<void> {
  return () => within(body(), 'the MCP exchange', 3 * FAIL_AFTER_MS);
}

sdk('a streamable HTTP client gets the same results through the proxy as direct, in one session', timed(async () => {
  let tcpPort = 0;
  const handler = createStreamableHandler({ allowedHosts: () => [UPSTREAM_HOST, `127.0.0.1:${tcpPort}`] });
  const direct = await upstreamOn(handler, 'tcp');
  tcpPort = (direct as { port: number }).port;
  const p = await proxyTo(await upstreamOn(handler, 'unix'));

  async function session(url: string) {
    const client = new Client({ name: 'proxy-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(url));
    await client.connect(transport);
    try {
      const tools = (await client.listTools()).tools.map((t) => t.name).sort();
      const sum = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
      const seenSession = await client.callTool({ name: 'session', arguments: {} });
      return { tools, sum, seenSession, sessionId: transport.sessionId };
    } finally {
      await client.close();
    }
  }
  const directly = await session(`http://127.0.0.1:${tcpPort}/mcp`);
  const proxied = await session(`${p.url}/mcp`);
  assert.equal(proxied.tools, ['add', 'session']);
  assert.equal(proxied.tools, directly.tools);
  assert.equal(proxied.sum, directly.sum);
  assert.equal(proxied.sum.content, [{ type: 'text', text: '5' }]);
  assert.ok(proxied.sessionId);
  assert.equal(proxied.seenSession.content, [{ type: 'text', text: proxied.sessionId }]);
}));

sdk('a legacy SSE client gets an absolute endpoint rewritten to the proxy and can call tools', timed(async () => {
  let upstreamPort = 0;
  const legacy = createAbsoluteEndpointSseHandler(() => `http://localhost:${upstreamPort}/message?sessionId=x`);
  const upstream = await upstreamOn(legacy.handler, 'tcp');
  upstreamPort = (upstream as { port: number }).port;
  const p = await proxyTo(upstream, { upstreamHost: `localhost:${upstreamPort}` });

  const raw = await within(openStream(p.port, '/sse'), 'the endpoint event');
  raw.destroy();
  assert.is(raw.first, `event: endpoint\r\ndata: http://127.0.0.1:${p.port}/message?sessionId=x\r\n\r\n`);

  const client = new Client({ name: 'proxy-test', version: '1.0.0' });
  await client.connect(new SSEClientTransport(new URL(`${p.url}/sse`)));
  try {
    const sum = await client.callTool({ name: 'add', arguments: { a: 40, b: 2 } });
    assert.equal(sum.content, [{ type: 'text', text: '42' }]);
  } finally {
    await client.close();
  }
  assert.ok(legacy.posts.length >= 2);
  assert.ok(legacy.posts.every((path) => path === '/message?sessionId=x'), legacy.posts.join(' '));
}));

sdk('a legacy SSE client works end to end with the SDK SSEServerTransport behind a Unix socket', timed(async () => {
  const p = await proxyTo(await upstreamOn(createSdkSseHandler(), 'unix'));
  const client = new Client({ name: 'proxy-test', version: '1.0.0' });
  await client.connect(new SSEClientTransport(new URL(`${p.url}/sse`)));
  try {
    assert.equal((await client.listTools()).tools.map((t) => t.name).sort(), ['add', 'session']);
    const sum = await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } });
    assert.equal(sum.content, [{ type: 'text', text: '3' }]);
  } finally {
    await client.close();
  }
}));

sdk.run();
