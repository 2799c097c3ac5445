// The reverse proxy's tool pinning hooks: JSON-RPC messages found in JSON and SSE bodies, shown
// to an observer as they pass, or checked and filtered before the client (or server) gets them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'node:http';
import { deflateSync, gzipSync } from 'node:zlib';
import {
  checkClientBody, checkRoutingHeaders, createJsonFilter, createJsonTap, createSseFilter, createSseTap, eventData, looseMessageBodyKind, messageBodyKind, parseMessages,
  SseEvents, type MessageHooks,
} from '../../src/http/reverse-proxy/messages.js';
import { startReverseProxy, type ReverseProxy, type Upstream } from '../../src/http/reverse-proxy/proxy.js';
import { createSdkSseHandler, createStreamableHandler, listenHttp } from '../support/sdk-http-servers.js';

const dir = mkdtempSync(join(tmpdir(), 'mcp-lok-rpm-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

interface ToolsResult { result: { tools: Array<{ name: string }> } }

function hasTools(m: unknown): m is ToolsResult {
  return Array.isArray((m as ToolsResult | null)?.result?.tools);
}

/** Hooks that hide one tool and refuse calls to it (enforcing), or only record what passes (observing). */
function hooksFor(hidden: string, rewrites: boolean): MessageHooks & { seen: string[][]; refused: number } {
  const hooks = {
    seen: [] as string[][],
    refused: 0,
    rewrites,
    serverMayMatter: (text: string) => text.includes('"tools"'),
    fromServer(m: unknown) {
      if (!hasTools(m)) return undefined;
      hooks.seen.push(m.result.tools.map((t) => t.name));
      if (!rewrites) return undefined;
      return { ...m, result: { ...m.result, tools: m.result.tools.filter((t) => t.name !== hidden) } };
    },
    clientMayMatter: (text: string) => text.includes('tools/call'),
    fromClient(m: unknown) {
      const call = m as { method?: string; params?: { name?: string } } | null;
      if (call?.method !== 'tools/call' || call.params?.name !== hidden) return undefined;
      hooks.refused += 1;
      return { code: -32602, message: `Tool ${hidden} changed; run: mcp-lok approve test` };
    },
  };
  return hooks;
}

const units = suite('tool pinning message parsing');

units('SSE events are whole however the bytes are split, CRLF and CR included', () => {
  const stream = 'event: message\r\ndata: {"a":1}\r\n\r\nid: 2\ndata: {"b":\ndata: 2}\n\n: comment\r\rdata: x\n';
  for (let size = 1; size <= stream.length; size++) {
    const events = new SseEvents();
    const got: string[] = [];
    for (let i = 0; i < stream.length; i += size) got.push(...events.push(Buffer.from(stream.slice(i, i + size))).map((e) => e.toString()));
    assert.equal(got, ['event: message\r\ndata: {"a":1}\r\n\r\n', 'id: 2\ndata: {"b":\ndata: 2}\n\n', ': comment\r\r'], `split every ${size}`);
    assert.is(events.end().toString(), 'data: x\n');
  }
});

units('an event\'s data lines join with newlines; no data is undefined', () => {
  assert.is(eventData('event: message\ndata: {"b":\ndata:2}\n\n'), '{"b":\n2}');
  assert.is(eventData(': keepalive\n\n'), undefined);
});

units('parseMessages reads one message or a batch, and nothing from what is not JSON', () => {
  assert.equal(parseMessages('{"id":1}'), [{ id: 1 }]);
  assert.equal(parseMessages('[{"id":1},{"id":2}]'), [{ id: 1 }, { id: 2 }]);
  assert.equal(parseMessages('{"id":'), []);
});

units('messageBodyKind tells JSON and SSE bodies from the rest', () => {
  assert.is(messageBodyKind('application/json; charset=utf-8'), 'json');
  assert.is(messageBodyKind('Text/Event-Stream'), 'sse');
  assert.is(messageBodyKind('text/plain'), undefined);
});

const list = (names: string[], id = 1) => JSON.stringify({ jsonrpc: '2.0', id, result: { tools: names.map((name) => ({ name })) } });

units('the SSE filter rewrites only the event holding a tools result, keeping its id and event fields', () => {
  const hooks = hooksFor('evil', true);
  const filter = createSseFilter(hooks);
  const other = 'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress"}\n\n';
  const input = `${other}id: 7\nevent: message\ndata: ${list(['ok', 'evil'])}\n\n`;
  const out = Buffer.concat([...input].map((c) => filter.push(Buffer.from(c)))).toString() + filter.end().toString();
  assert.is(out, `${other}id: 7\nevent: message\ndata: ${list(['ok'])}\n\n`);
});

units('the SSE tap sees the tools without changing anything, once the event is whole', () => {
  const hooks = hooksFor('evil', false);
  const tap = createSseTap(hooks);
  const event = `data: ${list(['ok', 'evil'])}\n\n`;
  tap.push(Buffer.from(event.slice(0, 20)));
  assert.equal(hooks.seen, []);
  tap.push(Buffer.from(event.slice(20)));
  assert.equal(hooks.seen, [['ok', 'evil']]);
});

units('the JSON filter holds the body and rewrites a batch or a single result', () => {
  const hooks = hooksFor('evil', true);
  const single = createJsonFilter(hooks);
  assert.is(single.push(Buffer.from(list(['evil', 'ok']))).length, 0);
  assert.equal(JSON.parse(single.end().toString()), JSON.parse(list(['ok'])));
  const batch = createJsonFilter(hooks);
  batch.push(Buffer.from(`[${list(['evil'], 1)},{"jsonrpc":"2.0","id":2,"result":{}}]`));
  assert.equal(JSON.parse(batch.end().toString()), [JSON.parse(list([], 1)), { jsonrpc: '2.0', id: 2, result: {} }]);
  const untouched = createJsonFilter(hooks);
  untouched.push(Buffer.from('{"jsonrpc":"2.0", "id":3,"result":{}}'));
  assert.is(untouched.end().toString(), '{"jsonrpc":"2.0", "id":3,"result":{}}');
});

units('the JSON filter refuses to hold more than its limit', () => {
  const filter = createJsonFilter(hooksFor('x', true), 10);
  filter.push(Buffer.from('{"a":'));
  assert.throws(() => filter.push(Buffer.from('"0123456789"}')));
});

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
/** Reads a body as a client does (fetch's json(), TextDecoderStream): UTF-8, a leading byte order mark dropped. */
const asClientReads = (body: Buffer): string => new TextDecoder().decode(body);

units('a byte order mark before a body does not hide its tools result from the filters or the taps', () => {
  const enforcing = hooksFor('evil', true);
  const json = createJsonFilter(enforcing);
  json.push(Buffer.concat([BOM, Buffer.from(list(['ok', 'evil']))]));
  assert.equal(JSON.parse(asClientReads(json.end())), JSON.parse(list(['ok'])));
  const sse = createSseFilter(enforcing);
  const out = Buffer.concat([sse.push(Buffer.concat([BOM, Buffer.from(`data: ${list(['ok', 'evil'])}\n\n`)])), sse.end()]);
  assert.equal(JSON.parse(eventData(asClientReads(out))!), JSON.parse(list(['ok'])));
  const observing = hooksFor('evil', false);
  const jsonTap = createJsonTap(observing);
  jsonTap.push(Buffer.concat([BOM, Buffer.from(list(['ok', 'evil']))]));
  jsonTap.end();
  const sseTap = createSseTap(observing);
  sseTap.push(Buffer.concat([BOM, Buffer.from(`data: ${list(['ok', 'evil'])}\n\n`)]));
  assert.equal(observing.seen, [['ok', 'evil'], ['ok', 'evil']]);
});

units('enforcing, a body or event that may list tools and is not JSON is not passed (another client\'s parser may read it)', () => {
  const hooks = hooksFor('evil', true);
  const json = createJsonFilter(hooks);
  json.push(Buffer.from(list(['ok', 'evil']).replace('"evil"}', '"evil","n":NaN}')));
  assert.throws(() => json.end(), /not JSON/);
  const sse = createSseFilter(hooks);
  assert.throws(() => sse.push(Buffer.from(`data: ${list(['evil'])},\n\n`)), /not JSON/);
  const plain = createJsonFilter(hooks);
  plain.push(Buffer.from('not json, no tools'));
  assert.is(plain.end().toString(), 'not json, no tools');
});

units('looseMessageBodyKind finds the types some client reads as JSON or SSE though they are neither', () => {
  for (const [type, kind] of [
    ['text/event-streamx', 'sse'], ['text/plain; a=application/json', 'json'], ['application/jsonx', 'json'],
    ['application/json, text/plain', 'json'], ['text/plain, text/event-stream', 'sse'], ['text/html', undefined], ['', undefined],
  ] as const) {
    assert.is(messageBodyKind(type) === undefined || type.includes(','), true, type);
    assert.is(looseMessageBodyKind(type), kind, type);
  }
});

units('a refused call is answered with a JSON-RPC error; a batch holding one is refused whole', () => {
  const hooks = hooksFor('evil', true);
  const call = (id: number, name: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } });
  assert.is(checkClientBody(Buffer.from(JSON.stringify(call(1, 'ok'))), hooks), undefined);
  assert.equal(JSON.parse(checkClientBody(Buffer.from(JSON.stringify(call(4, 'evil'))), hooks)!), {
    jsonrpc: '2.0', id: 4, error: { code: -32602, message: 'Tool evil changed; run: mcp-lok approve test' },
  });
  const batch = JSON.parse(checkClientBody(Buffer.from(JSON.stringify([call(1, 'ok'), call(2, 'evil'), { jsonrpc: '2.0', method: 'notifications/x' }])), hooks)!) as Array<{ id: number; error: { message: string } }>;
  assert.equal(batch.map((r) => r.id), [1, 2]);
  assert.match(batch[0]!.error.message, /batch holds a call that was refused/);
  assert.is(checkClientBody(Buffer.from('{"method":"tools/call",'), hooks), undefined);
});

units('a tool call whose Mcp-Method or Mcp-Name header disagrees with its body gets HeaderMismatch (2026-07-28); other requests pass', () => {
  const call = (name: unknown, id: unknown = 7) => Buffer.from(JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } }));
  const mismatch = (body: Buffer, method: string | undefined, name: string | undefined) => {
    const text = checkRoutingHeaders(body, { method, name });
    return text === undefined ? undefined : JSON.parse(text) as { id: unknown; error: { code: number; message: string } };
  };
  // Agreeing headers, or none (2025-era clients send none): nothing to say.
  assert.is(mismatch(call('ok'), 'tools/call', 'ok'), undefined);
  assert.is(mismatch(call('ok'), undefined, undefined), undefined);
  assert.is(mismatch(call('ok'), 'tools/call', undefined), undefined);
  // A server routing on Mcp-Name would run "evil" while the pin was checked for "ok".
  const named = mismatch(call('ok'), 'tools/call', 'evil');
  assert.equal(named?.id, 7);
  assert.is(named?.error.code, -32020);
  assert.match(named?.error.message ?? '', /Mcp-Name/);
  // The method header names another method, or names tools/call over a body that is not one call.
  assert.is(mismatch(call('ok', 'a'), 'tools/list', undefined)?.error.code, -32020);
  assert.equal(mismatch(call('ok', 'a'), 'tools/list', undefined)?.id, 'a');
  assert.is(mismatch(Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' })), 'tools/call', 'evil')?.error.code, -32020);
  assert.equal(mismatch(Buffer.from(JSON.stringify([JSON.parse(call('ok').toString())])), 'tools/call', 'ok')?.id, null);
  assert.is(mismatch(Buffer.from('{"method":"tools/call",'), 'tools/call', 'ok')?.error.code, -32020);
  assert.is(mismatch(call(5), 'tools/call', '5')?.error.code, -32020);
  // Header values are compared exactly, as the SDK does (TOOLS/CALL is not tools/call).
  assert.is(mismatch(call('ok'), 'TOOLS/CALL', 'ok')?.error.code, -32020);
  // Not about tools: the server answers its own mismatches.
  assert.is(checkRoutingHeaders(Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'prompts/get', params: { name: 'a' } })), { method: 'prompts/get', name: 'b' }), undefined);
  assert.is(checkRoutingHeaders(Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri: 'a' } })), { method: 'prompts/get', name: undefined }), undefined);
});

units('Mcp-Name is compared as servers read it: without surrounding blanks, its =?base64?...?= form decoded (2026-07-28)', () => {
  const call = (name: string) => Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name, arguments: {} } }));
  const b64 = (text: string) => `=?base64?${Buffer.from(text).toString('base64')}?=`;
  // What an SDK v2 client sends for such names: no mismatch.
  assert.is(checkRoutingHeaders(call('héllo'), { method: 'tools/call', name: b64('héllo') }), undefined);
  assert.is(checkRoutingHeaders(call(' ok'), { method: 'tools/call', name: b64(' ok') }), undefined);
  assert.is(checkRoutingHeaders(call('ok'), { method: ' tools/call\t', name: ' ok ' }), undefined);
  // A body whose name looks encoded, under a header a server decodes to another tool.
  assert.is(JSON.parse(checkRoutingHeaders(call(b64('evil')), { method: 'tools/call', name: b64('evil') }) ?? '{}').error?.code, -32020);
  assert.is(JSON.parse(checkRoutingHeaders(call('evil'), { method: 'tools/call', name: '=?base64?not base64?=' }) ?? '{}').error?.code, -32020);
});

const e2e = suite('reverse proxy with tool pinning hooks and MCP SDK servers');
const toClose: Array<() => Promise<void>> = [];
e2e.after.each(async () => { while (toClose.length > 0) await toClose.pop()!(); });

async function serve(handler: Parameters<typeof listenHttp>[0], hooks: MessageHooks): Promise<ReverseProxy> {
  const socketPath = join(dir, `up-${Date.now()}-${toClose.length}.sock`);
  const upstream: Upstream = { socketPath };
  const server = await listenHttp(handler, { socketPath });
  toClose.push(server.close);
  const proxy = await startReverseProxy({ listen: { host: '127.0.0.1', port: 0 }, upstream, upstreamHost: 'localhost:8080', hooks });
  toClose.push(proxy.close);
  return proxy;
}

async function useClient(transport: StreamableHTTPClientTransport | SSEClientTransport, body: (client: Client) => Promise<void>): Promise<void> {
  const client = new Client({ name: 'pin-test', version: '1.0.0' });
  await client.connect(transport);
  try { await body(client); } finally { await client.close(); }
}

for (const jsonResponses of [false, true]) {
  const mode = jsonResponses ? 'JSON responses' : 'SSE responses';
  e2e(`streamable HTTP (${mode}), enforcing: the hidden tool is gone from tools/list and a call to it gets the JSON-RPC error`, async () => {
    const hooks = hooksFor('session', true);
    const proxy = await serve(createStreamableHandler({ jsonResponses }), hooks);
    await useClient(new StreamableHTTPClientTransport(new URL(`${proxy.url}/mcp`)), async (client) => {
      assert.equal((await client.listTools()).tools.map((t) => t.name), ['add']);
      const error = await client.callTool({ name: 'session', arguments: {} }).then(() => undefined, (e: Error) => e);
      assert.match(String(error?.message), /mcp-lok approve test/);
    });
    await useClient(new StreamableHTTPClientTransport(new URL(`${proxy.url}/mcp`)), async (client) => {
      const sum = await client.callTool({ name: 'add', arguments: { a: 2, b: 5 } });
      assert.equal(sum.content, [{ type: 'text', text: '7' }]);
    });
    assert.equal(hooks.seen, [['add', 'session']]);
    assert.is(hooks.refused, 1);
  });

  e2e(`streamable HTTP (${mode}), observing: the client gets everything and the hooks see the list`, async () => {
    const hooks = hooksFor('session', false);
    const proxy = await serve(createStreamableHandler({ jsonResponses }), hooks);
    await useClient(new StreamableHTTPClientTransport(new URL(`${proxy.url}/mcp`)), async (client) => {
      assert.equal((await client.listTools()).tools.map((t) => t.name), ['add', 'session']);
      const seen = await client.callTool({ name: 'session', arguments: {} });
      assert.is((seen.content as Array<{ type: string }>)[0]!.type, 'text');
    });
    assert.equal(hooks.seen, [['add', 'session']]);
    assert.is(hooks.refused, 0);
  });
}

e2e('legacy SSE, enforcing: the tools/list on the event stream is filtered and a call to the hidden tool fails naming approve', async () => {
  const hooks = hooksFor('session', true);
  const proxy = await serve(createSdkSseHandler(), hooks);
  await useClient(new SSEClientTransport(new URL(`${proxy.url}/sse`)), async (client) => {
    assert.equal((await client.listTools()).tools.map((t) => t.name), ['add']);
    const error = await client.callTool({ name: 'session', arguments: {} }).then(() => undefined, (e: Error) => e);
    assert.match(String(error?.message), /403[\s\S]*mcp-lok approve test/);
    const sum = await client.callTool({ name: 'add', arguments: { a: 1, b: 1 } });
    assert.equal(sum.content, [{ type: 'text', text: '2' }]);
  });
  assert.is(hooks.refused, 1);
});

/** A streamable-HTTP MCP server written by hand, answering tools/list with the body `toolsBody` makes (a server that plays games with framing). */
function rawStreamableServer(toolsBody: (id: unknown) => { type: string | string[]; body: Buffer }): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const message = JSON.parse(Buffer.concat(parts).toString() || '{}') as { id?: unknown; method?: string };
      if (message.id === undefined) { res.writeHead(202).end(); return; }
      if (message.method === 'initialize') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
          jsonrpc: '2.0', id: message.id, result: { protocolVersion: '2025-03-26', capabilities: { tools: {} }, serverInfo: { name: 'raw', version: '1' } },
        }));
        return;
      }
      const { type, body } = toolsBody(message.id);
      res.writeHead(200, { 'content-type': type }).end(body);
    });
  };
}

const toolsResult = (id: unknown): string => JSON.stringify({ jsonrpc: '2.0', id, result: { tools: [{ name: 'add', inputSchema: { type: 'object' } }, { name: 'session', inputSchema: { type: 'object' } }] } });

e2e('enforcing, a tools/list body that starts with a byte order mark is still filtered for the SDK client (JSON and SSE)', async () => {
  for (const sse of [false, true]) {
    const hooks = hooksFor('session', true);
    const proxy = await serve(rawStreamableServer((id) => ({
      type: sse ? 'text/event-stream' : 'application/json',
      body: Buffer.concat([BOM, Buffer.from(sse ? `data: ${toolsResult(id)}\n\n` : toolsResult(id))]),
    })), hooks);
    await useClient(new StreamableHTTPClientTransport(new URL(`${proxy.url}/mcp`)), async (client) => {
      assert.equal((await client.listTools()).tools.map((t) => t.name), ['add'], sse ? 'SSE' : 'JSON');
    });
  }
});

/** Posts a tools/list through the proxy; resolves with the status and body the client gets, or the error that broke it off. */
function postList(url: string): Promise<{ status: number; body: string } | Error> {
  return new Promise((resolve) => {
    const req = request(`${url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString() }));
      res.on('error', resolve);
    });
    req.on('error', resolve);
    req.end(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }));
  });
}

e2e('a body typed so that some client reads it as JSON or SSE is a 502 when enforcing, and observed when observing', async () => {
  const cases: Array<{ type: string | string[]; body: (id: unknown) => string }> = [
    { type: 'text/event-streamx', body: (id) => `data: ${toolsResult(id)}\n\n` },
    { type: 'text/plain; a=application/json', body: toolsResult },
    { type: ['text/plain', 'application/json'], body: toolsResult },
    { type: ['application/json', 'text/plain'], body: toolsResult },
  ];
  for (const c of cases) {
    const enforcing = hooksFor('session', true);
    const proxy = await serve(rawStreamableServer((id) => ({ type: c.type, body: Buffer.from(c.body(id)) })), enforcing);
    const got = await postList(proxy.url);
    assert.ok(got instanceof Error || got.status === 502, `${String(c.type)}: ${JSON.stringify(got instanceof Error ? got.message : got)}`);
    const observing = hooksFor('session', false);
    const observed = await serve(rawStreamableServer((id) => ({ type: c.type, body: Buffer.from(c.body(id)) })), observing);
    const passed = await postList(observed.url);
    assert.ok(!(passed instanceof Error) && passed.status === 200, String(c.type));
    assert.equal(observing.seen, [['add', 'session']], String(c.type));
  }
});

e2e('enforcing, a 2026-07-28 tool call whose Mcp-Name names another tool never reaches the server: 400 HeaderMismatch; agreeing headers pass unchanged', async () => {
  const hooks = hooksFor('evil', true);
  const seen: Array<{ method: string | undefined; name: string | undefined; body: string }> = [];
  const proxy = await serve((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      seen.push({ method: req.headers['mcp-method'] as string | undefined, name: req.headers['mcp-name'] as string | undefined, body: Buffer.concat(parts).toString() });
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-fixture': 'kept' }).end('{"jsonrpc":"2.0","id":1,"result":{"content":[]}}');
    });
  }, hooks);
  const post = (name: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> => new Promise((resolve, reject) => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'ok', arguments: {} } });
    const req = request(`${proxy.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': name },
    }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
  const refused = await post('evil');
  assert.is(refused.status, 400);
  assert.is((JSON.parse(refused.body) as { error: { code: number } }).error.code, -32020);
  assert.equal(seen, [], 'the mismatched call reached the server');
  const passed = await post('ok');
  assert.is(passed.status, 200);
  assert.is(passed.headers['mcp-fixture'], 'kept');
  assert.equal(seen.map((s) => [s.method, s.name]), [['tools/call', 'ok']]);
});

/** Posts `body` with `headers` through the proxy; resolves with the status, headers and body the client gets. */
function postRaw(url: string, headers: Record<string, string>, body: Buffer): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { accept: 'application/json, text/event-stream', ...headers } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

e2e('enforcing, a call of a held-back tool with a byte order mark is refused, not run by an SDK server that drops the mark', async () => {
  const hooks = hooksFor('session', true);
  const proxy = await serve(createStreamableHandler({ jsonResponses: true }), hooks);
  const json = { 'content-type': 'application/json' };
  const init = await postRaw(`${proxy.url}/mcp`, json, Buffer.from(JSON.stringify({
    jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bom', version: '1' } },
  })));
  const session = { ...json, 'mcp-session-id': String(init.headers['mcp-session-id']), 'mcp-protocol-version': '2025-06-18' };
  await postRaw(`${proxy.url}/mcp`, session, Buffer.from(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })));
  const call = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'session', arguments: {} } }));
  const got = await postRaw(`${proxy.url}/mcp`, session, Buffer.concat([BOM, call]));
  assert.not.match(got.body, String(init.headers['mcp-session-id']), 'the held-back tool ran');
  assert.match(got.body, /mcp-lok approve test/);
});

e2e('enforcing, a request body the proxy would read otherwise than the server (Content-Encoding, a charset other than UTF-8, UTF-16) never reaches it', async () => {
  const hooks = hooksFor('evil', true);
  const seen: string[] = [];
  const proxy = await serve((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push(`${String(req.headers['content-type'])} ${String(req.headers['content-encoding'])}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":1,"result":{"content":[]}}');
    });
  }, hooks);
  const text = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'evil', arguments: {} } });
  const cases: Array<{ headers: Record<string, string>; body: Buffer }> = [
    { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(text) },
    { headers: { 'content-type': 'application/json', 'content-encoding': 'deflate' }, body: deflateSync(text) },
    { headers: { 'content-type': 'application/json; charset=utf-16le' }, body: Buffer.from(text, 'utf16le') },
    { headers: { 'content-type': 'application/json; charset="UTF-16"' }, body: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]) },
    { headers: { 'content-type': 'application/json' }, body: Buffer.from(text, 'utf16le') },
  ];
  for (const c of cases) {
    const got = await postRaw(`${proxy.url}/mcp`, c.headers, c.body);
    assert.ok(got.status >= 400, `${JSON.stringify(c.headers)}: ${got.status} ${got.body}`);
  }
  assert.equal(seen, [], 'an unchecked call reached the server');
  // A plain UTF-8 body (with the charset named) still passes.
  const plain = await postRaw(`${proxy.url}/mcp`, { 'content-type': 'application/json; charset=utf-8' }, Buffer.from(text.replace('evil', 'ok')));
  assert.is(plain.status, 200);
  assert.is(seen.length, 1);
});

units.run();
e2e.run();
