import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { request, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type RequestListener } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createEndpointRewriter, ENDPOINT_SCAN_LIMIT_BYTES, startReverseProxy, type ReverseProxy, type ReverseProxyOptions, type Upstream } from '../../src/proxy/reverse-proxy.js';
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

function send(port: number, options: { method?: string; path?: string; headers?: OutgoingHttpHeaders; body?: string } = {}): Promise<Reply> {
  return within(new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, agent: false, method: options.method ?? 'GET', path: options.path ?? '/', headers: options.headers }, (res) => {
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

proxy('passes MCP headers both ways, names the upstream in Host, and drops hop-by-hop headers', async () => {
  const p = await proxyTo(await upstreamOn((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'sess-2', 'mcp-protocol-version': '2025-06-18', connection: 'x-hop-res', 'x-hop-res': 'drop' });
    res.end(JSON.stringify(req.headers));
  }));
  const reply = await send(p.port, {
    method: 'POST',
    path: '/mcp',
    headers: {
      'mcp-session-id': 'sess-1', 'mcp-protocol-version': '2025-06-18', 'last-event-id': 'ev-7', authorization: 'Bearer t',
      accept: 'application/json, text/event-stream', 'content-type': 'application/json', 'x-custom': 'keep',
      connection: 'keep-alive, x-hop', 'x-hop': 'drop', te: 'trailers', 'proxy-authorization': 'Basic eDp4', 'x-forwarded-for': '10.0.0.9',
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
  for (const dropped of ['x-hop', 'te', 'proxy-authorization']) assert.is(seen[dropped], undefined, dropped);
  assert.not.match(seen.connection ?? '', 'x-hop');
  assert.is(reply.headers['mcp-session-id'], 'sess-2');
  assert.is(reply.headers['mcp-protocol-version'], '2025-06-18');
  assert.is(reply.headers['x-hop-res'], undefined);
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

proxy('reuses one upstream connection for consecutive requests', async () => {
  let connections = 0;
  const upstream = await upstreamOn((req, res) => {
    if (!(req.socket as { counted?: boolean }).counted) { (req.socket as { counted?: boolean }).counted = true; connections++; }
    res.end('ok');
  });
  const p = await proxyTo(upstream);
  for (let i = 0; i < 3; i++) assert.is((await send(p.port)).body, 'ok');
  assert.is(connections, 1);
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
