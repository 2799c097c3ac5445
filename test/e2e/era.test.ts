// MCP 2026-07-28 clients (SDK v2, pinned, auto and legacy) against legacy stdio servers from
// npm, through mcp-lok-npx and through the session bridge of `mcp-lok start`, on the real engine:
// discover, tools, elicitation and sampling as input_required round trips, two clients kept apart.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EVERYTHING, MANAGER, MEMORY, SHIM, eventually, lokContainers, requireEngine, runBin, shimEnv, spawnBin } from './harness.js';

type Mode = 'pinned' | 'auto' | 'legacy';

interface V2Client { client: Client; asked: string[]; stderr: () => string }

function newClient(name: string, mode: Mode, asked: string[]): Client {
  const client = new Client({ name, version: '1.0.0' }, { capabilities: { sampling: {}, elicitation: {} }, versionNegotiation: { mode: mode === 'pinned' ? { pin: '2026-07-28' } : mode } });
  client.setRequestHandler('sampling/createMessage', (req) => {
    const content = req.params.messages[0]?.content;
    asked.push(`sampling: ${content && 'text' in content ? String(content.text) : ''}`);
    return { model: `model-of-${name}`, role: 'assistant', content: { type: 'text', text: `answer from ${name}` } };
  });
  client.setRequestHandler('elicitation/create', (req) => {
    asked.push(`elicitation: ${String(req.params.message)}`);
    return { action: 'accept', content: { name: name } };
  });
  return client;
}

async function connectShim(args: string[], name: string, mode: Mode): Promise<V2Client> {
  const asked: string[] = [];
  const client = newClient(name, mode, asked);
  const transport = new StdioClientTransport({ command: process.execPath, args: [SHIM, ...args], env: shimEnv(), stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (c: Buffer) => { stderr += c.toString(); });
  await client.connect(transport);
  return { client, asked, stderr: () => stderr };
}

async function connectHttp(url: string, name: string, mode: Mode): Promise<V2Client> {
  const asked: string[] = [];
  const client = newClient(name, mode, asked);
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return { client, asked, stderr: () => '' };
}

function text(result: unknown): string {
  return ((result as { content?: Array<{ text?: string }> }).content ?? []).map((c) => c.text ?? '').join('\n');
}

async function hostnameOf(c: V2Client): Promise<string> {
  const out = text(await c.client.callTool({ name: 'get-env', arguments: {} }));
  const m = /"HOSTNAME":\s*"([^"]+)"/.exec(out);
  assert.ok(m, `no HOSTNAME in get-env: ${out.slice(0, 200)}`);
  return m[1] ?? '';
}

// ---------------------------------------------------------------------------------------------

const shim = suite('mcp-lok-npx for MCP 2026-07-28 clients');
shim.before(requireEngine);

shim('serves a client pinned to 2026-07-28 from server-memory: discover names it, and its tools keep their state between calls', async () => {
  const c = await connectShim(['-y', MEMORY], 'pinned', 'pinned');
  try {
    assert.is(c.client.getNegotiatedProtocolVersion(), '2026-07-28');
    assert.is(c.client.getServerVersion()?.name, 'memory-server');
    const tools = await c.client.listTools();
    assert.ok(tools.tools.some((t) => t.name === 'read_graph'), JSON.stringify(tools.tools.map((t) => t.name)));
    await c.client.callTool({ name: 'create_entities', arguments: { entities: [{ name: 'era-entity', entityType: 'test', observations: ['modern'] }] } });
    assert.match(text(await c.client.callTool({ name: 'read_graph', arguments: {} })), /era-entity/);
  } finally {
    await c.client.close();
  }
});

for (const [mode, version] of [['auto', '2026-07-28'], ['legacy', '2025-11-25']] as const) {
  shim(`serves a client in ${mode} mode (${version})`, async () => {
    const c = await connectShim(['-y', MEMORY], mode, mode);
    try {
      assert.is(c.client.getNegotiatedProtocolVersion(), version);
      assert.is(c.client.getServerVersion()?.name, 'memory-server');
      assert.match(text(await c.client.callTool({ name: 'read_graph', arguments: {} })), /entities/);
    } finally {
      await c.client.close();
    }
  });
}

shim('turns server-everything\'s elicitation and sampling requests into input_required results and back', async () => {
  const c = await connectShim(['-y', EVERYTHING, 'stdio'], 'asker', 'pinned');
  try {
    const elicited = text(await c.client.callTool({ name: 'trigger-elicitation-request', arguments: {} }));
    assert.match(elicited, /"action": "accept"/);
    assert.match(elicited, /"name": "asker"/);
    const sampled = text(await c.client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'prompt-of-asker' } }));
    assert.match(sampled, /answer from asker/);
    assert.is(c.asked.length, 2, JSON.stringify(c.asked));
    assert.match(c.asked[0] ?? '', /^elicitation: /);
    assert.match(c.asked[1] ?? '', /^sampling: .*prompt-of-asker/);
  } finally {
    await c.client.close();
  }
});

shim('serves a client that says nothing until its sandbox runs as a legacy client, through the same cat relay', async () => {
  const name = `e2e-era-quiet-${randomBytes(3).toString('hex')}`;
  const child = spawnBin(SHIM, ['--name', name, '-y', MEMORY]);
  let out = '';
  child.stdout?.on('data', (c: Buffer) => { out += c.toString(); });
  try {
    // The sandbox starts only once the era is decided: for a silent client, as legacy.
    await eventually(async () => (await lokContainers(`mcp-lok-name=${name}`)).length > 0, 60_000, 'the sandbox of a silent client');
    child.stdin?.write(`${JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'quiet', version: '1' } } })}\n`);
    await eventually(async () => out.includes('"id":0'), 60_000, 'the answer to initialize');
    const relays = execFileSync('ps', ['--ppid', String(child.pid), '-o', 'args=']).toString().split('\n').map((l) => l.trim());
    assert.ok(relays.includes('cat'), `no cat relay among the shim's children: ${JSON.stringify(relays)}`);
  } finally {
    child.kill('SIGKILL');
    await eventually(async () => (await lokContainers(`mcp-lok-name=${name}`)).length === 0, 30_000, `the sandbox of ${name} to be removed`);
  }
});

for (const signal of ['SIGKILL', 'SIGTERM'] as const) shim(`writes only MCP lines to stdout, answers a raw discover, and leaves no sandbox after ${signal}`, async () => {
  const name = `e2e-era-${signal.toLowerCase()}-${randomBytes(3).toString('hex')}`;
  const child = spawnBin(SHIM, ['--name', name, '-y', MEMORY]);
  let out = '';
  child.stdout?.on('data', (c: Buffer) => { out += c.toString(); });
  const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} };
  child.stdin?.write(`${JSON.stringify({ jsonrpc: '2.0', id: 'd', method: 'server/discover', params: { _meta: meta } })}\n`);
  child.stdin?.write(`${JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: { _meta: meta } })}\n`);
  await eventually(async () => out.split('\n').length >= 3, 60_000, 'the discover and tools/list answers');
  const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { id: unknown; result: { resultType: string; supportedVersions?: string[]; tools?: unknown[]; ttlMs?: number } });
  const discover = lines.find((l) => l.id === 'd');
  assert.equal(discover?.result.supportedVersions, ['2026-07-28']);
  const list = lines.find((l) => l.id === 2);
  assert.is(list?.result.resultType, 'complete');
  assert.is(list?.result.ttlMs, 0);
  assert.ok((list?.result.tools ?? []).length > 0);
  // Lines no request could be answered under are answered as invalid, not dropped for the client to wait on.
  const before = out.trim().split('\n').length;
  child.stdin?.write('[1,2]\n');
  child.stdin?.write(`${JSON.stringify({ jsonrpc: '2.0', id: { x: 1 }, method: 'tools/list', params: { _meta: meta } })}\n`);
  await eventually(async () => out.trim().split('\n').length >= before + 2, 60_000, 'answers to the invalid lines');
  const invalid = out.trim().split('\n').slice(before).map((l) => JSON.parse(l) as { id: unknown; error?: { code: number } });
  assert.equal(invalid.map((l) => [l.id, l.error?.code]), [[null, -32600], [null, -32600]]);
  assert.ok((await lokContainers(`mcp-lok-name=${name}`)).length > 0, 'no sandbox is running');
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill(signal);
  await exited;
  await eventually(async () => (await lokContainers(`mcp-lok-name=${name}`)).length === 0, 30_000, `the sandboxes of ${name} to be removed after ${signal}`);
});

shim.run();

// ---------------------------------------------------------------------------------------------

const bridge = suite('the session bridge of mcp-lok start for MCP 2026-07-28 clients');
const b = { name: `e2e-era-${randomBytes(3).toString('hex')}`, url: '' };

bridge.before(async () => {
  await requireEngine();
  const started = await runBin(MANAGER, ['start', '--name', b.name, `npx://${EVERYTHING}`]);
  assert.is(started.code, 0, started.stderr);
  const m = /^(\S+) (http:\/\/127\.0\.0\.1:\d+\/mcp)\n$/.exec(started.stdout.toString());
  assert.ok(m, `stdout is not "NAME URL": ${started.stdout.toString()}\n${started.stderr}`);
  b.url = m[2] ?? '';
});
bridge.after(async () => {
  await runBin(MANAGER, ['rm', '-f', b.name]).catch(() => undefined);
});

bridge('serves a pinned client: discover, a tool call, and an elicitation round trip, with no session', async () => {
  const c = await connectHttp(b.url, 'pinned', 'pinned');
  try {
    assert.is(c.client.getNegotiatedProtocolVersion(), '2026-07-28');
    assert.is(c.client.getServerVersion()?.name, 'mcp-servers/everything');
    assert.is(text(await c.client.callTool({ name: 'echo', arguments: { message: 'hello modern' } })), 'Echo: hello modern');
    assert.match(text(await c.client.callTool({ name: 'trigger-elicitation-request', arguments: {} })), /"name": "pinned"/);
  } finally {
    await c.client.close();
  }
});

bridge('keeps two pinned clients apart: each gets only its own sampling request, from a sandbox of its own', async () => {
  const [a, c] = await Promise.all([connectHttp(b.url, 'client-a', 'pinned'), connectHttp(b.url, 'client-b', 'pinned')]);
  try {
    const [ra, rb] = await Promise.all([
      a.client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'prompt-of-A' } }),
      c.client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'prompt-of-B' } }),
    ]);
    assert.match(text(ra), /answer from client-a/);
    assert.not.match(text(ra), /client-b/);
    assert.match(text(rb), /answer from client-b/);
    assert.not.match(text(rb), /client-a/);
    assert.equal(a.asked.length, 1, JSON.stringify(a.asked));
    assert.match(a.asked[0] ?? '', /prompt-of-A/);
    assert.equal(c.asked.length, 1, JSON.stringify(c.asked));
    assert.match(c.asked[0] ?? '', /prompt-of-B/);
    const [ha, hb] = await Promise.all([hostnameOf(a), hostnameOf(c)]);
    assert.is.not(ha, hb);
    const sessions = (await lokContainers(`mcp-lok-name=${b.name}`)).filter((x) => x.Labels['mcp-lok-role'] === 'session');
    for (const host of [ha, hb]) assert.ok(sessions.some((x) => x.Id.startsWith(host)), `${host} is not a sandbox of ${b.name}`);
  } finally {
    await Promise.all([a.client.close(), c.client.close()]);
  }
});

for (const [mode, version] of [['auto', '2026-07-28'], ['legacy', '2025-11-25']] as const) {
  bridge(`serves a client in ${mode} mode (${version}) with its sampling`, async () => {
    const c = await connectHttp(b.url, mode, mode);
    try {
      assert.is(c.client.getNegotiatedProtocolVersion(), version);
      assert.match(text(await c.client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: `prompt-of-${mode}` } })), new RegExp(`answer from ${mode}`));
      assert.is(c.asked.length, 1, JSON.stringify(c.asked));
    } finally {
      await c.client.close();
    }
  });
}

bridge.run();
