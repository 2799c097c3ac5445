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
import {
  checkClientBody, createJsonFilter, createSseFilter, createSseTap, eventData, messageBodyKind, parseMessages, SseEvents, type MessageHooks,
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

units.run();
e2e.run();
