// lok-offline-data: evil.example; Host and Origin values sent to the bridge under test on loopback
import { createConnection } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { request as httpRequest } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, ListRootsRequestSchema, LoggingMessageNotificationSchema, ProgressNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { MAX_MESSAGE_BYTES } from '../../src/lines.js';
import { messageKind, splitJsonArray, toSingleLine } from '../../src/http/session-bridge/json-lines.js';
import { startStdioBridge, type OpenBackend, type StdioBridge, type StdioBridgeOptions } from '../../src/http/session-bridge/bridge.js';
import { stdioBackends, type StdioBackends } from '../support/stdio-backend.js';

// ---- pure helpers ----

const lines = suite('json-lines');

lines('splits a JSON array into the exact source text of each element', () => {
  const text = '[ {"a":1.0,"s":"x,]}\\"{["} ,\n{"b":[1,{"c":"\\u00e9"}]},"t", 3 ]';
  assert.equal(splitJsonArray(text), ['{"a":1.0,"s":"x,]}\\"{["}', '{"b":[1,{"c":"\\u00e9"}]}', '"t"', '3']);
  assert.equal(splitJsonArray('[]'), []);
});

lines('turns raw line breaks into spaces and leaves other text alone', () => {
  assert.is(toSingleLine('{"a":\r\n1}\n'), '{"a":  1} ');
  const plain = '{"a":"\\n"}';
  assert.is(toSingleLine(plain), plain);
});

lines('classifies JSON-RPC messages', () => {
  assert.is(messageKind({ jsonrpc: '2.0', id: 1, method: 'x' }), 'request');
  assert.is(messageKind({ jsonrpc: '2.0', method: 'x' }), 'notification');
  assert.is(messageKind({ jsonrpc: '2.0', id: 'a', result: {} }), 'response');
  assert.is(messageKind({ jsonrpc: '2.0', id: null, method: 'x' }), undefined);
  assert.is(messageKind({ id: 1, method: 'x' }), undefined);
  assert.is(messageKind([]), undefined);
});

lines.run();

// ---- harness ----

interface Harness { bridge: StdioBridge; backends: StdioBackends; opened: () => number; logs: string[] }

async function startBridge(transport: StdioBridgeOptions['transport'], extra: Partial<StdioBridgeOptions> = {}): Promise<Harness> {
  const backends = stdioBackends();
  let opened = 0;
  const logs: string[] = [];
  const open: OpenBackend = (handlers, info) => {
    opened++;
    return backends.open(handlers, info);
  };
  const bridge = await startStdioBridge({ transport, listen: { host: '127.0.0.1', port: 0 }, openBackend: open, log: (l) => logs.push(l), ...extra });
  return { bridge, backends, opened: () => opened, logs };
}

function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms); })])
    .finally(() => clearTimeout(timer));
}

async function until(what: string, check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface TestClient { client: Client; asked: string[]; logs: string[]; progress: string[] }

async function connectClient(name: string, bridge: StdioBridge, transport: 'streamable-http' | 'sse'): Promise<TestClient> {
  const client = new Client({ name, version: '1.0.0' }, { capabilities: { sampling: {}, roots: {} } });
  const asked: string[] = [];
  const logs: string[] = [];
  const progress: string[] = [];
  client.setRequestHandler(CreateMessageRequestSchema, (req) => {
    const content = req.params.messages[0]?.content;
    const question = content && !Array.isArray(content) && content.type === 'text' ? content.text : '?';
    asked.push(question);
    return { model: 'test', role: 'assistant', content: { type: 'text', text: `${name} answers ${question}` } };
  });
  client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: [{ uri: `file:///${name}` }] }));
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(String(n.params.data)));
  client.setNotificationHandler(ProgressNotificationSchema, (n) => void progress.push(String(n.params.message)));
  const url = new URL(bridge.url);
  await within(5000, `${name} connects`, client.connect(transport === 'sse' ? new SSEClientTransport(url) : new StreamableHTTPClientTransport(url)));
  return { client, asked, logs, progress };
}

let calls = 0;

async function callText(c: TestClient, name: string, args: Record<string, unknown> = {}): Promise<string> {
  const result = await within(5000, `tools/call ${name}`, c.client.callTool({ name, arguments: args, _meta: { progressToken: `tok-${++calls}` } }));
  const first = (result.content as { type: string; text: string }[])[0];
  return first?.text ?? '';
}

/** Checks that two clients on one bridge are isolated: backends, notifications, server requests. */
async function checkIsolation(h: Harness, transport: 'streamable-http' | 'sse'): Promise<void> {
  const [a, b] = await Promise.all([connectClient('alice', h.bridge, transport), connectClient('bob', h.bridge, transport)]);
  try {
    assert.is(h.bridge.sessionCount(), 2);
    const [idA, idB] = await Promise.all([callText(a, 'whoami'), callText(b, 'whoami')]);
    assert.ok(idA && idB && idA !== idB, `distinct backends: ${idA} ${idB}`);
    assert.is(await callText(a, 'whoami'), idA);
    const [na, nb] = await Promise.all([callText(a, 'notify', { label: 'A' }), callText(b, 'notify', { label: 'B' })]);
    assert.equal([na, nb], ['notified A', 'notified B']);
    await until('both log and progress messages', () => a.logs.length > 0 && b.logs.length > 0 && a.progress.length > 0 && b.progress.length > 0);
    await sleep(50);
    assert.equal(a.logs, [`log A from ${idA}`]);
    assert.equal(b.logs, [`log B from ${idB}`]);
    assert.equal(a.progress, ['progress A']);
    assert.equal(b.progress, ['progress B']);
    const [ansA, ansB] = await Promise.all([callText(a, 'ask', { question: 'qa' }), callText(b, 'ask', { question: 'qb' })]);
    assert.equal([ansA, ansB], ['alice answers qa', 'bob answers qb']);
    assert.equal(a.asked, ['qa']);
    assert.equal(b.asked, ['qb']);
    assert.equal(await Promise.all([callText(a, 'roots'), callText(b, 'roots')]), ['file:///alice', 'file:///bob']);
  } finally {
    await Promise.all([a.client.close(), b.client.close()]);
  }
}

const INIT = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1.0.0' } } };
const BOTH = 'application/json, text/event-stream';

function post(url: string, body: unknown, sessionId?: string, accept = BOTH): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept };
  if (sessionId) headers['mcp-session-id'] = sessionId;
  return fetch(url, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

function toolCall(id: number | string, name: string, args: Record<string, unknown>, progressToken?: string): unknown {
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args, ...(progressToken ? { _meta: { progressToken } } : {}) } };
}

/** Opens a session by hand, as a client that never opens the standalone stream. */
async function rawSession(url: string): Promise<string> {
  const res = await post(url, INIT);
  assert.is(res.status, 200);
  const id = res.headers.get('mcp-session-id');
  assert.ok(id);
  await res.text();
  const ack = await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, id);
  assert.is(ack.status, 202);
  return id;
}

type Message = { id?: unknown; method?: string; result?: { content: { text: string }[] }; error?: { code: number; message: string }; params?: { data?: unknown; message?: string } };

function parseEvents(text: string): Message[] {
  return text.split('\n\n').filter((e) => e.includes('data: ') && !e.startsWith('event: endpoint')).map((e) => JSON.parse(e.slice(e.indexOf('data: ') + 6)) as Message);
}

/** Reads an SSE response as it arrives. */
function eventReader(res: Response) {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  const seen: Message[] = [];
  let done = false;
  void (async () => {
    for (;;) {
      const { value, done: end } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (end) break;
      buffer += value;
      const cut = buffer.lastIndexOf('\n\n');
      if (cut === -1) continue;
      seen.push(...parseEvents(buffer.slice(0, cut + 2)));
      buffer = buffer.slice(cut + 2);
    }
    done = true;
  })();
  return { seen, ended: () => done, cancel: () => reader.cancel().catch(() => {}) };
}

function rawHttp(port: number, headers: Record<string, string>, path = '/mcp', method = 'POST', body = JSON.stringify(INIT)): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, headers: { 'content-type': 'application/json', accept: BOTH, ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(method === 'GET' ? undefined : body);
  });
}

async function withBridge(transport: StdioBridgeOptions['transport'], fn: (h: Harness) => Promise<void>, extra: Partial<StdioBridgeOptions> = {}): Promise<void> {
  const h = await startBridge(transport, extra);
  try {
    await fn(h);
  } finally {
    await within(10_000, 'bridge.close()', h.bridge.close());
  }
}

/** A response the test has not read yet: nothing is read until read() (the socket fills, as with a stuck client). */
function unreadResponse(port: number, path: string, method: string, headers: Record<string, string>, body?: string): Promise<{ headers: Record<string, unknown>; read: (until: (text: string) => boolean) => Promise<string> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      resolve({
        headers: res.headers,
        read: (done) => new Promise((finish, fail) => {
          const chunks: string[] = [];
          let tail = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            chunks.push(c);
            // Only the newest part is searched: the whole text grows to tens of MB.
            tail = tail.slice(-64) + c;
            if (done(tail)) { res.destroy(); finish(chunks.join('')); }
          });
          res.on('end', () => finish(chunks.join('')));
          res.on('error', fail);
        }),
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const FLOOD = { count: 600, size: 64 * 1024 };

/** Checks the flood's log messages arrived whole and in order, followed by its result. */
function assertFlooded(text: string, resultId: string | number): void {
  const events = parseEvents(text);
  const logs = events.filter((e) => e.method === 'notifications/message').map((e) => String(e.params?.data));
  assert.is(logs.length, FLOOD.count);
  logs.forEach((data, i) => { if (data !== `${i} ${'x'.repeat(FLOOD.size)}`) assert.unreachable(`log ${i} is ${data.length} characters: ${data.slice(0, 20)}`); });
  assert.is(events.at(-1)?.id, resultId);
  assert.is(events.at(-1)?.result?.content[0]?.text, `flooded ${FLOOD.count}`);
}

// ---- streamable HTTP ----

const streamable = suite('stdio bridge over streamable HTTP');

streamable('serves initialize, tools/list and tools/call to the SDK client', () => withBridge('streamable-http', async (h) => {
  assert.ok(h.bridge.url.endsWith(`:${h.bridge.port}/mcp`));
  const c = await connectClient('solo', h.bridge, 'streamable-http');
  const { tools } = await c.client.listTools();
  assert.equal(tools.map((t) => t.name).sort(), ['add-tool', 'ask', 'echo', 'elicit', 'flood', 'later', 'notify', 'roots', 'whoami']);
  assert.is(await callText(c, 'echo', { text: 'héllo\nworld' }), 'héllo\nworld');
  assert.is(h.bridge.sessionCount(), 1);
  await c.client.close();
}));

streamable('gives each client its own backend, notifications and server-to-client requests', () =>
  withBridge('streamable-http', (h) => checkIsolation(h, 'streamable-http')));

streamable('routes concurrent calls in one session to the POST that carried each', () => withBridge('streamable-http', async (h) => {
  const url = h.bridge.url;
  const sid = await rawSession(url);
  const delays = [120, 10, 80, 0, 40];
  const bodies = await Promise.all(delays.map(async (delayMs, i) => {
    const res = await post(url, toolCall(`r${i}`, 'echo', { text: `t${i}`, delayMs }), sid);
    assert.is(res.headers.get('content-type'), 'application/json');
    assert.is(res.headers.get('mcp-session-id'), sid);
    return (await res.json()) as Message;
  }));
  bodies.forEach((m, i) => {
    assert.is(m.id, `r${i}`);
    assert.is(m.result?.content[0]?.text, `t${i}`);
  });
}));

streamable('answers a lone response as JSON, and as an event stream when other messages come first', () => withBridge('streamable-http', async (h) => {
  const url = h.bridge.url;
  const sid = await rawSession(url);
  const streamed = await post(url, toolCall(7, 'notify', { label: 'p' }, 'tok'), sid);
  assert.is(streamed.headers.get('content-type'), 'text/event-stream');
  const events = parseEvents(await streamed.text());
  assert.equal(events.map((e) => e.method ?? e.id), ['notifications/message', 'notifications/progress', 7]);
  const batch = await post(url, [toolCall(8, 'echo', { text: 'a', delayMs: 30 }), toolCall(9, 'echo', { text: 'b' })], sid);
  assert.is(batch.headers.get('content-type'), 'text/event-stream');
  assert.equal(parseEvents(await batch.text()).map((e) => e.id), [9, 8]);
  const jsonOnly = await post(url, [toolCall(10, 'echo', { text: 'a' }), toolCall(11, 'echo', { text: 'b' })], sid, 'application/json');
  assert.is(jsonOnly.headers.get('content-type'), 'application/json');
  assert.equal(((await jsonOnly.json()) as Message[]).map((m) => m.id).sort(), [10, 11]);
}));

streamable('sends notifications not tied to a request to the GET stream, queueing them until it opens', () => withBridge('streamable-http', async (h) => {
  const url = h.bridge.url;
  const sid = await rawSession(url);
  assert.is((await (await post(url, toolCall(1, 'later', { label: 'queued', delayMs: 0 }), sid)).json() as Message).id, 1);
  await sleep(150);
  const get = await fetch(url, { headers: { accept: 'text/event-stream', 'mcp-session-id': sid } });
  assert.is(get.status, 200);
  assert.is(get.headers.get('content-type'), 'text/event-stream');
  const events = eventReader(get);
  await within(3000, 'the queued message', until('queued message', () => events.seen.some((e) => e.params?.data === 'later queued')));
  const second = await fetch(url, { headers: { accept: 'text/event-stream', 'mcp-session-id': sid } });
  assert.is(second.status, 409);
  await second.text();
  const call = await post(url, toolCall(2, 'notify', { label: 'g' }, 'tok2'), sid);
  assert.equal(parseEvents(await call.text()).map((e) => e.method ?? e.id), ['notifications/progress', 2]);
  await until('the log message on the GET stream', () => events.seen.some((e) => String(e.params?.data).startsWith('log g')));
  await post(url, toolCall(3, 'later', { label: 'after', delayMs: 20 }), sid).then((r) => r.text());
  await until('the later message on the GET stream', () => events.seen.some((e) => e.params?.data === 'later after'));
  await events.cancel();
}));

streamable('keeps at most MAX_MESSAGE_BYTES of queued notifications for a stream not yet open, dropping the oldest', () => withBridge('streamable-http', async (h) => {
  const url = h.bridge.url;
  const sid = await rawSession(url);
  // 300 notifications of 64 KiB (about 19 MiB) while no stream is open and the POST takes only JSON.
  const call = await post(url, toolCall(1, 'flood', { count: 300, size: 64 * 1024 }), sid, 'application/json');
  assert.is((await call.json() as Message).id, 1);
  // Its notification comes last, queued or on the stream once it opens.
  assert.is((await (await post(url, toolCall(2, 'later', { label: 'end', delayMs: 0 }), sid)).json() as Message).id, 2);
  const stream = await unreadResponse(h.bridge.port, '/mcp', 'GET', { accept: 'text/event-stream', 'mcp-session-id': sid });
  const events = parseEvents(await within(10_000, 'the queued messages', stream.read((t) => t.includes('later end') && t.endsWith('\n\n'))));
  assert.is(events.pop()?.params?.data, 'later end');
  const indexes = events.map((e) => Number(String(e.params?.data).split(' ')[0]));
  assert.ok(indexes[0]! > 0, 'nothing was dropped');
  assert.equal(indexes, Array.from({ length: indexes.length }, (_, i) => indexes[0]! + i));
  assert.is(indexes.at(-1), 299);
  const held = events.reduce((n, e) => n + JSON.stringify(e).length, 0);
  assert.ok(held <= MAX_MESSAGE_BYTES, `${held} characters were queued`);
}));

streamable('writes client messages to the server byte for byte, one line each', () => withBridge('streamable-http', async (h) => {
  const url = h.bridge.url;
  const sid = await rawSession(url);
  const one = '{"jsonrpc":"2.0","method":"notifications/x","params":{"n":1.50,"s":"\\u00e9\\n,"}}';
  const two = '{"jsonrpc" : "2.0",\r\n "method":"notifications/y"}';
  const res = await post(url, `[${one} ,\n  ${two}]`, sid);
  assert.is(res.status, 202);
  assert.is(await res.text(), '');
  const single = await post(url, '{"jsonrpc":"2.0",\n"method":"notifications/z"}\n', sid);
  assert.is(single.status, 202);
  assert.equal(h.backends.sent.get(sid)!.slice(-3), [one, '{"jsonrpc" : "2.0",   "method":"notifications/y"}', '{"jsonrpc":"2.0", "method":"notifications/z"} ']);
}));

streamable('refuses a missing session id with 400, an unknown one with 404, and bad requests', () => withBridge('streamable-http', async (h) => {
  const url = h.bridge.url;
  const missing = await post(url, toolCall(1, 'whoami', {}));
  assert.is(missing.status, 400);
  const unknown = await post(url, toolCall(1, 'whoami', {}), 'no-such-session');
  assert.is(unknown.status, 404);
  assert.is(((await unknown.json()) as Message).error?.code, -32001);
  assert.is((await fetch(url, { headers: { accept: 'text/event-stream', 'mcp-session-id': 'nope' } })).status, 404);
  assert.is((await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': 'nope' } })).status, 404);
  assert.is((await post(url, INIT, undefined, 'text/html')).status, 406);
  assert.is((await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain', accept: BOTH }, body: '{}' })).status, 415);
  assert.is((await post(url, '{"jsonrpc":')).status, 400);
  assert.is((await post(url, 'x'.repeat(4 * 1024 * 1024 + 1))).status, 413);
  assert.is((await post(url.replace('/mcp', '/other'), INIT)).status, 404);
  assert.is(h.opened(), 0);
}));

streamable('refuses a foreign Host or Origin with 403 before opening a backend', () => withBridge('streamable-http', async (h) => {
  const host = await rawHttp(h.bridge.port, { host: `evil.example:${h.bridge.port}` });
  assert.is(host.status, 403);
  assert.match(JSON.parse(host.body).error.message, /^Forbidden: Host/);
  const origin = await rawHttp(h.bridge.port, { origin: 'http://evil.example' });
  assert.is(origin.status, 403);
  assert.equal(JSON.parse(origin.body), { jsonrpc: '2.0', error: { code: -32000, message: 'Forbidden: Origin "http://evil.example" is not allowed' }, id: null });
  assert.is(h.opened(), 0);
  assert.is(h.bridge.sessionCount(), 0);
}));

streamable('reports a backend that fails to open and keeps no session', async () => {
  const bridge = await startStdioBridge({ transport: 'streamable-http', listen: { host: '127.0.0.1', port: 0 }, openBackend: () => Promise.reject(new Error('no engine')) });
  try {
    const res = await post(bridge.url, INIT);
    assert.is(res.status, 500);
    assert.match(((await res.json()) as Message).error?.message ?? '', /no engine/);
    const client = new Client({ name: 'x', version: '1.0.0' });
    const failed = await client.connect(new StreamableHTTPClientTransport(new URL(bridge.url))).then(() => undefined, (e: Error) => e);
    assert.match(String(failed?.message), /no engine/);
    assert.is(bridge.sessionCount(), 0);
  } finally {
    await bridge.close();
  }
});

streamable('refuses sessions beyond maxSessions with 503', () => withBridge('streamable-http', async (h) => {
  await rawSession(h.bridge.url);
  const res = await post(h.bridge.url, INIT);
  assert.is(res.status, 503);
  await res.text();
  assert.is(h.opened(), 1);
}, { maxSessions: 1 }));

streamable('DELETE ends the session and stops its server', () => withBridge('streamable-http', async (h) => {
  const c = await connectClient('deleter', h.bridge, 'streamable-http');
  const transport = c.client.transport as StreamableHTTPClientTransport;
  const sid = transport.sessionId!;
  await transport.terminateSession();
  await within(5000, 'the child exits', h.backends.exited(sid));
  assert.is(h.bridge.sessionCount(), 0);
  assert.is((await post(h.bridge.url, toolCall(1, 'whoami', {}), sid)).status, 404);
  await c.client.close();
}));

streamable('ends the session when its server exits, failing the requests still waiting', () => withBridge('streamable-http', async (h) => {
  const url = h.bridge.url;
  const sid = await rawSession(url);
  const waiting = post(url, toolCall('slow', 'echo', { text: 'x', delayMs: 10_000 }), sid);
  await until('the call reached the server', () => h.backends.sent.get(sid)!.some((l) => l.includes('"slow"')));
  h.backends.children.get(sid)!.kill('SIGKILL');
  const res = await within(3000, 'the waiting POST', waiting);
  assert.equal(await res.json(), { jsonrpc: '2.0', id: 'slow', error: { code: -32000, message: 'the server exited: killed by SIGKILL' } });
  assert.is(h.bridge.sessionCount(), 0);
  assert.is((await post(url, toolCall(1, 'whoami', {}), sid)).status, 404);
}));

streamable('closes a session left idle for idleTimeoutMs, but not one with an open stream', () => withBridge('streamable-http', async (h) => {
  const url = h.bridge.url;
  const idle = await rawSession(url);
  const watched = await rawSession(url);
  const get = await fetch(url, { headers: { accept: 'text/event-stream', 'mcp-session-id': watched } });
  await within(3000, 'the idle child exits', h.backends.exited(idle));
  assert.is((await post(url, toolCall(1, 'whoami', {}), idle)).status, 404);
  assert.is(h.bridge.sessionCount(), 1);
  const res = await post(url, toolCall(1, 'whoami', {}), watched);
  assert.is(res.status, 200);
  await res.text();
  await get.body?.cancel();
}, { idleTimeoutMs: 150 }));

streamable('close() ends every session and leaves no child process', async () => {
  const h = await startBridge('streamable-http');
  const [a, b] = await Promise.all([connectClient('a', h.bridge, 'streamable-http'), connectClient('b', h.bridge, 'streamable-http')]);
  const waiting = post(h.bridge.url, toolCall('w', 'echo', { text: 'x', delayMs: 10_000 }), (a.client.transport as StreamableHTTPClientTransport).sessionId);
  await sleep(50);
  await within(10_000, 'bridge.close()', h.bridge.close());
  for (const child of h.backends.children.values()) assert.ok(child.exitCode !== null || child.signalCode !== null, `child ${child.pid} exited`);
  assert.is(h.backends.children.size, 2);
  assert.is(h.bridge.sessionCount(), 0);
  const res = await waiting;
  assert.is(((await res.json()) as Message).error?.message, 'the bridge closed');
  await Promise.all([a.client.close(), b.client.close()]);
  const refused = await fetch(h.bridge.url, { method: 'POST' }).then(() => false, () => true);
  assert.ok(refused, 'the listener is closed');
});

streamable('stops reading a server whose client does not read its stream, reads it again when it does, and serves other sessions meanwhile', () => withBridge('streamable-http', async (h) => {
  const sid = await rawSession(h.bridge.url);
  const other = await connectClient('other', h.bridge, 'streamable-http');
  const call = JSON.stringify(toolCall('flood', 'flood', FLOOD));
  const stuck = await unreadResponse(h.bridge.port, '/mcp', 'POST', { 'content-type': 'application/json', accept: 'text/event-stream', 'mcp-session-id': sid }, call);
  assert.is(stuck.headers['content-type'], 'text/event-stream');
  // About 38 MiB for a client reading nothing: the bridge pauses its server instead of holding it.
  await until('the bridge to pause the flooding server', () => (h.backends.pauses.get(sid) ?? 0) > 0, 30_000);
  assert.is(await callText(other, 'echo', { text: 'still served' }), 'still served');
  const text = await within(60_000, 'the whole flood', stuck.read((t) => t.includes('"id":"flood"') && t.endsWith('\n\n')));
  assertFlooded(text, 'flood');
  await other.client.close();
}));

streamable('holds at most 64 connections that sent no checked request: more close the oldest, and a client with the token is still served', async () => {
  await withBridge('streamable-http', async (h) => {
    const closed: boolean[] = [];
    const sockets = [];
    for (let i = 0; i < 64 + 36; i++) {
      const socket = createConnection({ host: '127.0.0.1', port: h.bridge.port });
      await new Promise((resolve) => socket.once('connect', resolve));
      const index = closed.push(false) - 1;
      socket.on('error', () => {}).once('close', () => { closed[index] = true; });
      sockets.push(socket);
    }
    await until('the 36 oldest idle connections to be closed', () => closed.slice(0, 36).every(Boolean));
    await sleep(100);
    assert.is(closed.filter(Boolean).length, 36);
    assert.is((await rawHttp(h.bridge.port, { authorization: 'Bearer sekrit-token' })).status, 200);
    for (const socket of sockets) socket.destroy();
  }, { token: 'sekrit-token' });
});

streamable.run();

// ---- legacy SSE ----

const sse = suite('stdio bridge over SSE');

sse('serves initialize, tools/list and tools/call to the SDK client', () => withBridge('sse', async (h) => {
  assert.ok(h.bridge.url.endsWith(`:${h.bridge.port}/sse`));
  const c = await connectClient('solo', h.bridge, 'sse');
  const { tools } = await c.client.listTools();
  assert.ok(tools.some((t) => t.name === 'whoami'));
  assert.is(await callText(c, 'echo', { text: 'hi' }), 'hi');
  assert.is(h.bridge.sessionCount(), 1);
  await c.client.close();
}));

sse('gives each client its own backend, notifications and server-to-client requests', () =>
  withBridge('sse', (h) => checkIsolation(h, 'sse')));

sse('sends the endpoint first, then every server message; closing the stream stops the server', () => withBridge('sse', async (h) => {
  const get = await fetch(h.bridge.url, { headers: { accept: 'text/event-stream' } });
  assert.is(get.headers.get('content-type'), 'text/event-stream');
  const reader = get.body!.pipeThrough(new TextDecoderStream()).getReader();
  const first = (await reader.read()).value ?? '';
  const m = /^event: endpoint\ndata: \/message\?sessionId=([0-9a-f-]+)\n\n/.exec(first);
  assert.ok(m, first);
  const sid = m[1]!;
  const endpoint = new URL(`/message?sessionId=${sid}`, h.bridge.url).href;
  const accepted = await post(endpoint, INIT);
  assert.is(accepted.status, 202);
  assert.is(await accepted.text(), 'Accepted');
  let text = first;
  while (!text.includes('"id":0')) text += (await reader.read()).value ?? '';
  assert.match(text, /event: message\ndata: \{[^\n]*"protocolVersion":"2025-06-18"[^\n]*\}\n\n/);
  assert.is((await post(new URL('/message', h.bridge.url).href, INIT)).status, 400);
  assert.is((await post(new URL('/message?sessionId=nope', h.bridge.url).href, INIT)).status, 404);
  await reader.cancel();
  await within(5000, 'the child exits', h.backends.exited(sid));
  assert.is(h.bridge.sessionCount(), 0);
  assert.is((await post(endpoint, INIT)).status, 404);
}));

sse('ends the stream when the server exits', () => withBridge('sse', async (h) => {
  const get = await fetch(h.bridge.url, { headers: { accept: 'text/event-stream' } });
  const events = eventReader(get);
  await until('a session', () => h.backends.children.size === 1);
  const [sid, child] = [...h.backends.children][0]!;
  child.kill('SIGKILL');
  await until('the stream ended', () => events.ended());
  assert.is(h.bridge.sessionCount(), 0);
  assert.is((await post(new URL(`/message?sessionId=${sid}`, h.bridge.url).href, INIT)).status, 404);
}));

sse('refuses a foreign Origin with 403 before opening a backend', () => withBridge('sse', async (h) => {
  const res = await rawHttp(h.bridge.port, { origin: 'http://evil.example' }, '/sse', 'GET');
  assert.is(res.status, 403);
  assert.is(h.opened(), 0);
}));

sse('close() ends every session and leaves no child process', async () => {
  const h = await startBridge('sse');
  const [a, b] = await Promise.all([connectClient('a', h.bridge, 'sse'), connectClient('b', h.bridge, 'sse')]);
  await within(10_000, 'bridge.close()', h.bridge.close());
  assert.is(h.backends.children.size, 2);
  for (const child of h.backends.children.values()) assert.ok(child.exitCode !== null || child.signalCode !== null, `child ${child.pid} exited`);
  assert.is(h.bridge.sessionCount(), 0);
  await Promise.all([a.client.close(), b.client.close()]);
});

sse('stops reading a server whose client does not read the stream, and reads it again when it does', () => withBridge('sse', async (h) => {
  const stream = await unreadResponse(h.bridge.port, '/sse', 'GET', { accept: 'text/event-stream' });
  await until('a session', () => h.backends.children.size === 1);
  const [sid] = [...h.backends.children.keys()];
  const endpoint = new URL(`/message?sessionId=${sid}`, h.bridge.url).href;
  assert.is((await post(endpoint, INIT)).status, 202);
  assert.is((await post(endpoint, { jsonrpc: '2.0', method: 'notifications/initialized' })).status, 202);
  assert.is((await post(endpoint, toolCall(7, 'flood', FLOOD))).status, 202);
  await until('the bridge to pause the flooding server', () => (h.backends.pauses.get(sid!) ?? 0) > 0, 30_000);
  const text = await within(60_000, 'the whole flood', stream.read((t) => t.includes('"id":7') && t.endsWith('\n\n')));
  assertFlooded(text, 7);
}));

sse.run();
