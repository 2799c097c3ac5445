// The session bridge serves MCP 2026-07-28 clients (SDK v2, pinned) from legacy stdio servers
// (SDK v1 children): discover, tools, input_required round trips, isolation between clients,
// and the legacy path unchanged beside it.
import { request as httpRequest } from 'node:http';
import { Client } from '@modelcontextprotocol/client';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startStdioBridge, type OpenBackend, type StdioBridge } from '../../src/http/session-bridge/bridge.js';
import { stdioBackends, type StdioBackends } from '../support/stdio-backend.js';

interface Harness { bridge: StdioBridge; backends: StdioBackends; opened: string[] }

async function startBridge(token?: string): Promise<Harness> {
  const backends = stdioBackends();
  const opened: string[] = [];
  const open: OpenBackend = (handlers, info) => {
    opened.push(info.sessionId);
    return backends.open(handlers, info);
  };
  const bridge = await startStdioBridge({ transport: 'streamable-http', listen: { host: '127.0.0.1', port: 0 }, openBackend: open, token });
  return { bridge, backends, opened };
}

type Mode = 'pinned' | 'auto' | 'legacy';

async function connect(h: Harness, name: string, mode: Mode, options: { token?: string; answer?: string } = {}): Promise<{ client: Client; asked: string[] }> {
  const negotiation = mode === 'pinned' ? { pin: '2026-07-28' } : mode;
  const client = new Client({ name, version: '1.0.0' }, { capabilities: { sampling: {}, elicitation: {} }, versionNegotiation: { mode: negotiation } });
  const asked: string[] = [];
  client.setRequestHandler('sampling/createMessage', (req) => {
    const content = req.params.messages[0]?.content;
    asked.push(content && 'text' in content ? String(content.text) : '');
    return { model: 'm', role: 'assistant', content: { type: 'text', text: `sampled by ${options.answer ?? name}` } };
  });
  client.setRequestHandler('elicitation/create', (req) => {
    asked.push(String(req.params.message));
    return { action: 'accept', content: { name: options.answer ?? name } };
  });
  const headers: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};
  await client.connect(new StreamableHTTPClientTransport(new URL(h.bridge.url), { requestInit: { headers } }));
  return { client, asked };
}

function text(result: unknown): string {
  return ((result as { content?: Array<{ text?: string }> }).content ?? []).map((c) => c.text ?? '').join('\n');
}

/** The standard headers of a 2026-07-28 POST, taken from its body. */
function standardHeaders(body: { method?: string; params?: { name?: string; uri?: string; _meta?: Record<string, unknown> } }): Record<string, string> {
  const headers: Record<string, string> = { 'mcp-method': String(body.method) };
  const version = body.params?._meta?.['io.modelcontextprotocol/protocolVersion'];
  if (typeof version === 'string') headers['mcp-protocol-version'] = version;
  const name = body.params?.name ?? body.params?.uri;
  if (name !== undefined) headers['mcp-name'] = name;
  return headers;
}

/** POSTs one raw JSON-RPC message (with its standard headers, unless `headers` replaces them) and returns status and body. */
function post(url: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  headers ??= standardHeaders(body as Parameters<typeof standardHeaders>[0]);
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': { elicitation: {} } };

const era = suite('the session bridge for MCP 2026-07-28 clients');

era('serves a client pinned to 2026-07-28: discover from the legacy initialize, tools listed and called, no session id', async () => {
  const h = await startBridge();
  try {
    const { client } = await connect(h, 'pinned', 'pinned');
    assert.is(client.getServerVersion()?.name, 'sdk-stdio-server');
    const tools = await client.listTools();
    assert.ok(tools.tools.some((t) => t.name === 'echo'), JSON.stringify(tools));
    assert.is(text(await client.callTool({ name: 'echo', arguments: { text: 'hello modern' } })), 'hello modern');
    // One sandbox served discover, the list and the call, one after another.
    assert.is(h.opened.length, 1, JSON.stringify(h.opened));
    const init = (h.backends.sent.get(h.opened[0]!) ?? []).map((l) => JSON.parse(l) as { method?: string; params?: { clientInfo?: unknown; capabilities?: unknown; protocolVersion?: string } });
    assert.is(init[0]?.method, 'initialize');
    assert.equal(init[0]?.params?.clientInfo, { name: 'pinned', version: '1.0.0' });
    assert.equal(init[0]?.params?.capabilities, { sampling: {}, elicitation: {} });
    assert.is(init[0]?.params?.protocolVersion, '2025-11-25');
    assert.is(init[1]?.method, 'notifications/initialized');
    await client.close();
  } finally {
    await h.bridge.close();
  }
});

era('turns a legacy server\'s elicitation and sampling requests into input_required results, and the retry finishes the call', async () => {
  const h = await startBridge();
  try {
    const { client, asked } = await connect(h, 'asker', 'pinned', { answer: 'ada' });
    assert.is(text(await client.callTool({ name: 'elicit', arguments: { question: 'your name?' } })), 'accept: ada');
    assert.is(text(await client.callTool({ name: 'ask', arguments: { question: 'capital?' } })), 'sampled by ada');
    assert.equal(asked, ['your name?', 'capital?']);
    await client.close();
  } finally {
    await h.bridge.close();
  }
});

era('refuses a tampered or unknown requestState with a clear error', async () => {
  const h = await startBridge();
  try {
    const first = await post(h.bridge.url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { _meta: META, name: 'elicit', arguments: { question: 'q' } } });
    assert.is(first.status, 200, first.body);
    const answer = JSON.parse(first.body) as { result: { resultType: string; requestState: string; inputRequests: Record<string, { method: string }> } };
    assert.is(answer.result.resultType, 'input_required');
    const [inputKey, input] = Object.entries(answer.result.inputRequests)[0]!;
    assert.is(input.method, 'elicitation/create');
    const forged = await post(h.bridge.url, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { _meta: META, name: 'elicit', arguments: { question: 'q' }, requestState: `${answer.result.requestState}x`, inputResponses: { [inputKey]: { action: 'accept', content: { name: 'x' } } } } });
    const error = JSON.parse(forged.body) as { id: number; error: { code: number; message: string } };
    assert.is(error.id, 2);
    assert.is(error.error.code, -32602);
    assert.match(error.error.message, /requestState is unknown/);
    // Another client (other capabilities) cannot use the real state either.
    const otherMeta = { ...META, 'io.modelcontextprotocol/clientInfo': { name: 'other', version: '1' } };
    const stolen = await post(h.bridge.url, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { _meta: otherMeta, name: 'elicit', arguments: { question: 'q' }, requestState: answer.result.requestState, inputResponses: { [inputKey]: { action: 'accept', content: { name: 'mallory' } } } } });
    assert.is((JSON.parse(stolen.body) as { error: { code: number } }).error.code, -32602, stolen.body);
    const real = await post(h.bridge.url, { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { _meta: META, name: 'elicit', arguments: { question: 'q' }, requestState: answer.result.requestState, inputResponses: { [inputKey]: { action: 'accept', content: { name: 'ada' } } } } });
    assert.match(real.body, /accept: ada/);
    assert.is(real.headers['mcp-session-id'], undefined);
    // The state is single use.
    const replay = await post(h.bridge.url, { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { _meta: META, name: 'elicit', arguments: { question: 'q' }, requestState: answer.result.requestState, inputResponses: { [inputKey]: { action: 'accept', content: { name: 'ada' } } } } });
    assert.is((JSON.parse(replay.body) as { error: { code: number } }).error.code, -32602, replay.body);
  } finally {
    await h.bridge.close();
  }
});

era('answers an unknown protocol version with UnsupportedProtocolVersion', async () => {
  const h = await startBridge();
  try {
    const res = await post(h.bridge.url, { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { ...META, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } } });
    assert.is(res.status, 400);
    const body = JSON.parse(res.body) as { error: { code: number; data: { supported: string[] } } };
    assert.is(body.error.code, -32022);
    assert.equal(body.error.data.supported, ['2026-07-28']);
    assert.is(h.opened.length, 0);
  } finally {
    await h.bridge.close();
  }
});

era('refuses a request whose headers do not match its body (HeaderMismatch, 400) before any sandbox starts', async () => {
  const h = await startBridge();
  try {
    const body = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { _meta: META, name: 'echo', arguments: { text: 'x' } } };
    const good = standardHeaders(body);
    for (const headers of <Array<Record<string, string>>>[
      { ...good, 'mcp-name': 'whoami' },
      { ...good, 'mcp-method': 'tools/list' },
      { ...good, 'mcp-protocol-version': '2026-07-29' },
      { 'mcp-method': 'tools/call', 'mcp-protocol-version': '2026-07-28' },
    ]) {
      const res = await post(h.bridge.url, body, headers);
      assert.is(res.status, 400, JSON.stringify(headers));
      const answer = JSON.parse(res.body) as { id: number; error: { code: number; message: string } };
      assert.is(answer.error.code, -32020);
      assert.match(answer.error.message, /^Header mismatch: /);
    }
    assert.is(h.opened.length, 0);
    const encoded = await post(h.bridge.url, body, { ...good, 'mcp-name': `=?base64?${Buffer.from('echo').toString('base64')}?=` });
    assert.is(encoded.status, 200, encoded.body);
    assert.match(encoded.body, /"text":"x"/);
  } finally {
    await h.bridge.close();
  }
});

/** Opens a subscriptions/listen stream and collects its SSE events' data as parsed messages. */
function listen(url: string, id: string, meta: Record<string, unknown>): { events: Array<{ method?: string; params?: Record<string, unknown> }>; close: () => void; status: Promise<number> } {
  const u = new URL(url);
  const events: Array<{ method?: string; params?: Record<string, unknown> }> = [];
  const body = { jsonrpc: '2.0', id, method: 'subscriptions/listen', params: { _meta: meta, notifications: { toolsListChanged: true } } };
  let resolveStatus!: (status: number) => void;
  const status = new Promise<number>((resolve) => { resolveStatus = resolve; });
  const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...standardHeaders(body) } }, (res) => {
    resolveStatus(res.statusCode ?? 0);
    let buffer = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => {
      buffer += c;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event.split('\n').find((l) => l.startsWith('data: '));
        if (data) events.push(JSON.parse(data.slice(6)) as { method?: string });
      }
    });
    res.on('error', () => {});
  });
  req.on('error', () => {});
  req.end(JSON.stringify(body));
  return { events, close: () => req.destroy(), status };
}

async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

era('streams list changes on subscriptions/listen to the listeners of the same client only', async () => {
  const h = await startBridge();
  const otherMeta = { ...META, 'io.modelcontextprotocol/clientInfo': { name: 'other', version: '1' } };
  const mine = listen(h.bridge.url, 'sub-mine', META);
  const other = listen(h.bridge.url, 'sub-other', otherMeta);
  try {
    assert.is(await mine.status, 200);
    await until('both acknowledgments', () => mine.events.length === 1 && other.events.length === 1);
    assert.is(mine.events[0]?.method, 'notifications/subscriptions/acknowledged');
    const added = await post(h.bridge.url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { _meta: META, name: 'add-tool', arguments: { name: 'fresh' } } });
    assert.match(added.body, /added fresh/);
    await until('the list change on the listen stream', () => mine.events.length === 2);
    assert.equal(mine.events[1], { jsonrpc: '2.0', method: 'notifications/tools/list_changed', params: { _meta: { 'io.modelcontextprotocol/subscriptionId': 'sub-mine' } } });
    await new Promise((r) => setTimeout(r, 100));
    assert.is(other.events.length, 1, JSON.stringify(other.events));
  } finally {
    mine.close();
    other.close();
    await h.bridge.close();
  }
});

era('does not let a cancellation notification of one client cancel another client\'s request with the same id', async () => {
  const h = await startBridge();
  try {
    const otherMeta = { ...META, 'io.modelcontextprotocol/clientInfo': { name: 'other', version: '1' } };
    const slow = post(h.bridge.url, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { _meta: META, name: 'echo', arguments: { text: 'still mine', delayMs: 500 } } });
    await until('the call to reach its server', () => [...h.backends.sent.values()].some((lines) => lines.some((l) => l.includes('still mine'))));
    const cancel = await post(h.bridge.url, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { _meta: otherMeta, requestId: 7 } });
    assert.is(cancel.status, 202);
    const answer = await Promise.race([slow, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the call was not answered: another client cancelled it')), 10_000))]);
    assert.match(answer.body, /still mine/);
  } finally {
    await h.bridge.close();
  }
});

era('keeps two modern clients apart: each one\'s sampling request reaches only that client, on sandboxes of its own', async () => {
  const h = await startBridge();
  try {
    const a = await connect(h, 'client-a', 'pinned');
    const b = await connect(h, 'client-b', 'pinned');
    const [ra, rb] = await Promise.all([
      a.client.callTool({ name: 'ask', arguments: { question: 'prompt-of-A' } }),
      b.client.callTool({ name: 'ask', arguments: { question: 'prompt-of-B' } }),
    ]);
    assert.is(text(ra), 'sampled by client-a');
    assert.is(text(rb), 'sampled by client-b');
    assert.equal(a.asked, ['prompt-of-A']);
    assert.equal(b.asked, ['prompt-of-B']);
    const [wa, wb] = await Promise.all([a.client.callTool({ name: 'whoami', arguments: {} }), b.client.callTool({ name: 'whoami', arguments: {} })]);
    assert.is.not(text(wa), text(wb));
    await Promise.all([a.client.close(), b.client.close()]);
  } finally {
    await h.bridge.close();
  }
});

era('gives concurrent requests of one client a sandbox each, so a held elicitation does not block another call', async () => {
  const h = await startBridge();
  try {
    const first = await post(h.bridge.url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { _meta: META, name: 'elicit', arguments: { question: 'q' } } });
    assert.match(first.body, /input_required/);
    const echo = await post(h.bridge.url, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { _meta: META, name: 'echo', arguments: { text: 'meanwhile' } } });
    assert.match(echo.body, /meanwhile/);
    assert.is(h.opened.length, 2);
  } finally {
    await h.bridge.close();
  }
});

era('keeps serving legacy and auto clients with a session each', async () => {
  const h = await startBridge();
  try {
    const legacy = await connect(h, 'legacy', 'legacy');
    const auto = await connect(h, 'auto', 'auto');
    assert.is(text(await legacy.client.callTool({ name: 'ask', arguments: { question: 'L' } })), 'sampled by legacy');
    assert.is(text(await auto.client.callTool({ name: 'ask', arguments: { question: 'A' } })), 'sampled by auto');
    assert.equal(legacy.asked, ['L']);
    assert.equal(auto.asked, ['A']);
    await Promise.all([legacy.client.close(), auto.client.close()]);
  } finally {
    await h.bridge.close();
  }
});

era.run();
