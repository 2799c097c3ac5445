// `mcp-lok start` and `run` over HTTP against the real engine: stdio servers bridged (one
// sandbox per client session), servers that listen themselves behind the reverse proxy,
// the supervisor's restarts, stop/start/rm, a killed supervisor, logs, and bad input.
// lok-offline-data: evil.example, example.com; Host/Origin values sent to mcp-lok on loopback, and a --host value it must refuse
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { engineRequest } from '../../src/engine/http.js';
import { readStartTicks } from '../../src/state/owner.js';
import {
  ENGINE, EVERYTHING, LOK_HOME, MANAGER, MEMORY, eventually, lokContainers, requireEngine, runBin, spawnBin, type ContainerInfo,
} from './harness.js';

const uniqueName = (prefix: string): string => `${prefix}-${randomBytes(3).toString('hex')}`;
const STATE = join(LOK_HOME, 'data', 'state');
const recordPath = (name: string): string => join(STATE, 'servers', `${name}.json`);
const logPath = (name: string): string => join(STATE, 'logs', `${name}.log`);
const MEMORY_FILE = 'MEMORY_FILE_PATH=/home/node/memory.jsonl';

interface Listed { name: string; state: string; status: string; launcher: string; transport: string; url: string | null; mode?: string | null; sessions?: number; restarts?: number; hint?: string }

/** Runs `mcp-lok start` and returns the name and URL it printed. */
async function startServer(args: string[]): Promise<{ name: string; url: string; stderr: string }> {
  const result = await runBin(MANAGER, ['start', ...args]);
  assert.is(result.code, 0, result.stderr);
  const m = /^(\S+) (http:\/\/127\.0\.0\.1:\d+\/(?:mcp|sse))\n$/.exec(result.stdout.toString());
  assert.ok(m, `stdout is not "NAME URL": ${JSON.stringify(result.stdout.toString())}\n${result.stderr}`);
  return { name: m[1] ?? '', url: m[2] ?? '', stderr: result.stderr };
}

async function listJson(all = false): Promise<Listed[]> {
  const result = await runBin(MANAGER, ['list', '--json', ...(all ? ['--all'] : [])]);
  assert.is(result.code, 0, result.stderr);
  return JSON.parse(result.stdout.toString()) as Listed[];
}

async function listed(name: string): Promise<Listed | undefined> {
  return (await listJson(true)).find((s) => s.name === name);
}

async function containersOf(name: string, role?: string): Promise<ContainerInfo[]> {
  return (await lokContainers(`mcp-lok-name=${name}`)).filter((c) => role === undefined || c.Labels['mcp-lok-role'] === role);
}

async function removeServer(name: string): Promise<void> {
  await runBin(MANAGER, ['rm', '-f', name]).catch(() => undefined);
}

function supervisorPid(name: string): number {
  const record = JSON.parse(readFileSync(recordPath(name), 'utf8')) as { supervisor?: { pid: number } };
  assert.ok(record.supervisor?.pid, `no supervisor pid in the record of ${name}`);
  return record.supervisor.pid;
}

/** True while the process exists and is not a zombie. */
function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); } catch { return false; }
  try { return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; }
}

/** Resolves with the connection's fate: 'refused' or 'connected'. */
function probePort(port: number): Promise<'refused' | 'connected' | string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => { socket.destroy(); resolve('connected'); });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED' ? 'refused' : String(error.code)));
  });
}

/** A raw HTTP request (so Host and Origin can be forged); resolves with status, headers and body. */
function rawRequest(url: string, options: { method: string; headers: Record<string, string>; body?: string }): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: options.method, headers: options.headers, setHost: false, timeout: 20_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${options.method} ${url} timed out`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

const INITIALIZE = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
const POST_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

interface HttpClient {
  label: string;
  client: Client;
  transport: StreamableHTTPClientTransport | SSEClientTransport;
  /** The prompts of the sampling requests this client was asked to answer. */
  sampled: string[];
  logs: unknown[];
}

/** Connects the SDK client with a sampling handler that answers as `label`, and a log handler. */
async function connectHttp(url: string, label: string): Promise<HttpClient> {
  const transport = url.endsWith('/sse') ? new SSEClientTransport(new URL(url)) : new StreamableHTTPClientTransport(new URL(url));
  const client = new Client({ name: `mcp-lok-e2e-${label}`, version: '1.0.0' }, { capabilities: { sampling: {} } });
  const sampled: string[] = [];
  const logs: unknown[] = [];
  client.setRequestHandler(CreateMessageRequestSchema, (req) => {
    const content = req.params.messages[0]?.content;
    sampled.push(content && 'text' in content ? String(content.text) : '');
    return { model: `model-${label}`, role: 'assistant', content: { type: 'text', text: `answer from ${label}` } };
  });
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => { logs.push(n.params); });
  await client.connect(transport);
  return { label, client, transport, sampled, logs };
}

function toolText(result: unknown): string {
  return ((result as { content?: Array<{ text?: string }> }).content ?? []).map((c) => c.text ?? '').join('\n');
}

/** The container a client's server runs in: the hostname server-everything's get-env reports. */
async function hostnameOf(c: HttpClient): Promise<string> {
  const text = toolText(await c.client.callTool({ name: 'get-env', arguments: {} }));
  const m = /"HOSTNAME":\s*"([^"]+)"/.exec(text);
  assert.ok(m, `no HOSTNAME in get-env: ${text.slice(0, 200)}`);
  return m[1] ?? '';
}

async function closeAll(clients: Array<HttpClient | undefined>): Promise<void> {
  await Promise.allSettled(clients.map((c) => c?.client.close()));
}

/** Checks the DNS-rebinding defence of a listener: foreign Host or Origin is 403, the real Host is served. */
async function assertForeignHostRefused(url: string): Promise<{ status: number; sessionId: string | undefined }> {
  const port = new URL(url).port;
  const evilHost = await rawRequest(url, { method: 'POST', headers: { ...POST_HEADERS, host: `evil.example:${port}` }, body: INITIALIZE });
  assert.is(evilHost.status, 403, evilHost.body);
  assert.match(evilHost.body, /Forbidden/);
  const evilOrigin = await rawRequest(url, { method: 'POST', headers: { ...POST_HEADERS, host: `127.0.0.1:${port}`, origin: 'http://evil.example' }, body: INITIALIZE });
  assert.is(evilOrigin.status, 403, evilOrigin.body);
  const real = await rawRequest(url, { method: 'POST', headers: { ...POST_HEADERS, host: `127.0.0.1:${port}`, origin: `http://localhost:${port}` }, body: INITIALIZE });
  assert.is(real.status, 200, real.body);
  assert.match(real.body, /"serverInfo"/);
  const sessionId = real.headers['mcp-session-id'];
  return { status: real.status, sessionId: typeof sessionId === 'string' ? sessionId : undefined };
}

// ---------------------------------------------------------------------------------------------

const bridged = suite('mcp-lok start: a stdio server over streamable HTTP');
const b = { name: uniqueName('e2e-http-bridge'), url: '', a: undefined as HttpClient | undefined, b: undefined as HttpClient | undefined };

bridged.before(requireEngine);
bridged.after(async () => {
  await closeAll([b.a, b.b]);
  await removeServer(b.name);
});

bridged('starts it in the background and prints only its name and URL', async () => {
  const started = await startServer(['--name', b.name, `npx://${EVERYTHING}`]);
  assert.is(started.name, b.name);
  assert.match(started.url, /\/mcp$/);
  assert.match(started.stderr, /bridged to HTTP, one sandbox per client session/);
  b.url = started.url;
  assert.ok(isAlive(supervisorPid(b.name)), 'the supervisor is not running');
});

bridged('gives two concurrent clients a sandbox each, and sends each client only its own sampling requests', async () => {
  [b.a, b.b] = await Promise.all([connectHttp(b.url, 'A'), connectHttp(b.url, 'B')]);
  const sessions = await containersOf(b.name, 'session');
  assert.is(sessions.length, 2, JSON.stringify(sessions.map((c) => c.Names)));
  const [hostA, hostB] = await Promise.all([hostnameOf(b.a), hostnameOf(b.b)]);
  assert.is.not(hostA, hostB);
  for (const host of [hostA, hostB]) assert.ok(sessions.some((c) => c.Id.startsWith(host)), `${host} is not a session container of ${b.name}`);
  const [resultA, resultB] = await Promise.all([
    b.a.client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'prompt-of-A' } }),
    b.b.client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'prompt-of-B' } }),
  ]);
  assert.is(b.a.sampled.length, 1, JSON.stringify(b.a.sampled));
  assert.match(b.a.sampled[0] ?? '', /prompt-of-A/);
  assert.is(b.b.sampled.length, 1, JSON.stringify(b.b.sampled));
  assert.match(b.b.sampled[0] ?? '', /prompt-of-B/);
  assert.match(toolText(resultA), /answer from A/);
  assert.not.match(toolText(resultA), /answer from B/);
  assert.match(toolText(resultB), /answer from B/);
  assert.not.match(toolText(resultB), /answer from A/);
});

bridged('sends progress and log notifications only to the client they belong to', async () => {
  const { a, b: c } = b;
  assert.ok(a && c, 'the clients of the previous test are not connected');
  // Both clients have sent the same requests so far: their progress tokens (request ids) collide.
  const progressA: number[] = [];
  const progressB: number[] = [];
  await Promise.all([
    a.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 2 } }, undefined, { onprogress: (p) => { progressA.push(p.progress); } }),
    c.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 2, steps: 4 } }, undefined, { onprogress: (p) => { progressB.push(p.progress); } }),
  ]);
  assert.equal(progressA, [1, 2]);
  assert.equal(progressB, [1, 2, 3, 4]);
  await a.client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
  await eventually(async () => a.logs.length > 0, 10_000, 'client A to get a log message');
  await c.client.callTool({ name: 'echo', arguments: { message: 'still here' } });
  assert.is(c.logs.length, 0, JSON.stringify(c.logs));
  await a.client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
});

bridged('lists it as running, bridged, with its two sessions and its URL', async () => {
  const mine = (await listJson()).find((s) => s.name === b.name);
  assert.ok(mine, 'not in list --json');
  assert.is(mine.state, 'running');
  assert.is(mine.mode, 'bridge');
  assert.is(mine.sessions, 2);
  assert.is(mine.url, b.url);
  assert.is(mine.launcher, 'start');
  assert.is(mine.transport, 'streamable-http');
  const table = await runBin(MANAGER, ['list']);
  assert.is(table.code, 0, table.stderr);
  const row = table.stdout.toString().split('\n').find((l) => l.startsWith(`${b.name} `)) ?? '';
  assert.match(row, /running, 2 sessions/);
  assert.ok(row.includes(b.url), row);
});

bridged('removes a client\'s sandbox when the client ends its session, and keeps the other', async () => {
  const { a, b: c } = b;
  assert.ok(a && c, 'the clients of the previous test are not connected');
  const hostB = await hostnameOf(c);
  await (a.transport as StreamableHTTPClientTransport).terminateSession();
  await eventually(async () => (await containersOf(b.name, 'session')).length === 1, 10_000, 'one session container to remain');
  const [left] = await containersOf(b.name, 'session');
  assert.ok(left?.Id.startsWith(hostB), 'the remaining sandbox is not client B\'s');
  assert.match(toolText(await c.client.callTool({ name: 'echo', arguments: { message: 'after delete' } })), /after delete/);
  await eventually(async () => (await listed(b.name))?.sessions === 1, 5000, 'list to show 1 session');
});

bridged('refuses requests whose Host or Origin names another site (DNS rebinding), and serves the real Host', async () => {
  const before = (await containersOf(b.name, 'session')).length;
  const { sessionId } = await assertForeignHostRefused(b.url);
  assert.ok(sessionId, 'no Mcp-Session-Id on the accepted initialize');
  assert.is((await containersOf(b.name, 'session')).length, before + 1);
  const port = new URL(b.url).port;
  const deleted = await rawRequest(b.url, { method: 'DELETE', headers: { host: `127.0.0.1:${port}`, 'mcp-session-id': sessionId } });
  assert.is(deleted.status, 200, deleted.body);
  await eventually(async () => (await containersOf(b.name, 'session')).length === before, 10_000, 'the raw session\'s sandbox to be removed');
});

bridged.run();

// ---------------------------------------------------------------------------------------------

const sse = suite('mcp-lok start --transport sse: a stdio server over SSE');
const s = { name: uniqueName('e2e-http-sse'), clients: [] as HttpClient[] };

sse.before(requireEngine);
sse.after(async () => {
  await closeAll(s.clients);
  await removeServer(s.name);
});

sse('serves two SSE clients from their own sandboxes, each answering only its own sampling requests', async () => {
  const { url } = await startServer(['--transport', 'sse', '--name', s.name, `npx://${EVERYTHING}`]);
  assert.match(url, /\/sse$/);
  const [a, c] = await Promise.all([connectHttp(url, 'A'), connectHttp(url, 'B')]);
  s.clients.push(a, c);
  assert.is((await containersOf(s.name, 'session')).length, 2);
  const [hostA, hostB] = await Promise.all([hostnameOf(a), hostnameOf(c)]);
  assert.is.not(hostA, hostB);
  const [resultA, resultB] = await Promise.all([
    a.client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'sse-prompt-A' } }),
    c.client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'sse-prompt-B' } }),
  ]);
  assert.is(a.sampled.length, 1, JSON.stringify(a.sampled));
  assert.match(a.sampled[0] ?? '', /sse-prompt-A/);
  assert.is(c.sampled.length, 1, JSON.stringify(c.sampled));
  assert.match(c.sampled[0] ?? '', /sse-prompt-B/);
  assert.match(toolText(resultA), /answer from A/);
  assert.match(toolText(resultB), /answer from B/);
  assert.is((await listed(s.name))?.transport, 'sse');
  // Closing the stream ends the session and its sandbox.
  await a.client.close();
  await eventually(async () => (await containersOf(s.name, 'session')).length === 1, 10_000, 'the closed SSE session\'s sandbox to be removed');
});

sse.run();

// ---------------------------------------------------------------------------------------------

const proxied = suite('mcp-lok start: a server that listens itself, behind the proxy');
const p = { name: uniqueName('e2e-http-proxy'), url: '' };

proxied.before(requireEngine);
proxied.after(() => removeServer(p.name));

async function killRunContainer(name: string): Promise<string> {
  const [run] = await containersOf(name, 'run');
  assert.ok(run, `no running server container for ${name}`);
  const res = await engineRequest(ENGINE, 'POST', `/containers/${run.Id}/kill`);
  assert.ok(res.status === 204 || res.status === 200, `kill answered ${res.status}`);
  return run.Id;
}

proxied('serves streamable HTTP through the proxy: lists tools and calls echo', async () => {
  const started = await startServer(['--name', p.name, `npx://${EVERYTHING}`, '--', 'streamableHttp']);
  p.url = started.url;
  assert.match(started.stderr, /behind mcp-lok's proxy/);
  const mine = await listed(p.name);
  assert.is(mine?.mode, 'proxy');
  assert.is(mine?.state, 'running');
  const roles = (await containersOf(p.name)).map((c) => c.Labels['mcp-lok-role']).sort();
  assert.equal(roles, ['ingress', 'run']);
  const c = await connectHttp(p.url, 'P');
  try {
    const { tools } = await c.client.listTools();
    assert.ok(tools.some((t) => t.name === 'echo'), tools.map((t) => t.name).join());
    assert.match(toolText(await c.client.callTool({ name: 'echo', arguments: { message: 'through the proxy' } })), /through the proxy/);
  } finally {
    await c.client.close();
  }
});

proxied('refuses requests whose Host or Origin names another site, and serves the real Host', async () => {
  await assertForeignHostRefused(p.url);
});

proxied('restarts a killed server container, counts the restart and says so in its log', async () => {
  const killed = await killRunContainer(p.name);
  await eventually(async () => {
    const mine = await listed(p.name);
    return mine?.state === 'running' && (mine.restarts ?? 0) >= 1;
  }, 30_000, 'list to show the server running again after a restart');
  const [run] = await containersOf(p.name, 'run');
  assert.ok(run && run.Id !== killed, 'no new server container');
  const c = await connectHttp(p.url, 'P2');
  try {
    assert.match(toolText(await c.client.callTool({ name: 'echo', arguments: { message: 'after restart' } })), /after restart/);
  } finally {
    await c.client.close();
  }
  const logs = await runBin(MANAGER, ['logs', p.name]);
  assert.is(logs.code, 0, logs.stderr);
  assert.match(logs.stdout.toString(), /exited \(code 137\); restarting in/);
  assert.match(logs.stdout.toString(), /is running again \(restart 1\)/);
});

proxied('logs shows the server\'s own output; logs -f follows new lines and ends when the server stops', async () => {
  const logs = await runBin(MANAGER, ['logs', p.name]);
  assert.is(logs.code, 0, logs.stderr);
  assert.match(logs.stdout.toString(), /MCP Streamable HTTP Server listening on port 8080/);
  const follow = spawnBin(MANAGER, ['logs', '-f', p.name]);
  let out = '';
  follow.stdout?.on('data', (c: Buffer) => { out += c.toString(); });
  const exited = new Promise<number | null>((resolve) => follow.on('exit', resolve));
  try {
    await eventually(async () => out.includes('listening on port 8080'), 5000, 'logs -f to print the log so far');
    const restartsBefore = (await listed(p.name))?.restarts ?? 0;
    await killRunContainer(p.name);
    await eventually(async () => out.includes(`is running again (restart ${restartsBefore + 1})`), 30_000, 'logs -f to print the restart');
    const stop = await runBin(MANAGER, ['stop', p.name]);
    assert.is(stop.code, 0, stop.stderr);
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running'), 5000))]);
    assert.is(code, 0, 'logs -f did not end when the server stopped');
    assert.match(out, new RegExp(`${p.name} stopped`));
  } finally {
    if (follow.exitCode === null) follow.kill('SIGKILL');
  }
});

proxied.run();

// ---------------------------------------------------------------------------------------------

const proxiedSse = suite('mcp-lok start --transport sse: an SSE server behind the proxy');
const ps = { name: uniqueName('e2e-http-proxy-sse') };

proxiedSse.before(requireEngine);
proxiedSse.after(() => removeServer(ps.name));

proxiedSse('passes the SSE endpoint event through the proxy, so the SDK\'s SSE client works', async () => {
  const { url } = await startServer(['--transport', 'sse', '--name', ps.name, `npx://${EVERYTHING}`, '--', 'sse']);
  assert.match(url, /\/sse$/);
  assert.is((await listed(ps.name))?.mode, 'proxy');
  const c = await connectHttp(url, 'S');
  try {
    const { tools } = await c.client.listTools();
    assert.ok(tools.some((t) => t.name === 'echo'));
    assert.match(toolText(await c.client.callTool({ name: 'echo', arguments: { message: 'sse through the proxy' } })), /sse through the proxy/);
  } finally {
    await c.client.close();
  }
});

proxiedSse.run();

// ---------------------------------------------------------------------------------------------

const lifecycle = suite('mcp-lok stop, start NAME and rm of a background server');
const l = { name: uniqueName('e2e-http-life') };

lifecycle.before(requireEngine);
lifecycle.after(() => removeServer(l.name));

lifecycle('stops it completely, starts it again on the same URL, and removes every trace', async () => {
  const { url } = await startServer(['--name', l.name, '-e', MEMORY_FILE, `npx://${MEMORY}`]);
  const port = Number(new URL(url).port);
  const first = await connectHttp(url, 'L1');
  try {
    assert.match(toolText(await first.client.callTool({ name: 'read_graph', arguments: {} })), /entities/);
    assert.is((await containersOf(l.name, 'session')).length, 1);
    const pid = supervisorPid(l.name);
    const stop = await runBin(MANAGER, ['stop', l.name]);
    assert.is(stop.code, 0, stop.stderr);
    assert.match(stop.stderr, new RegExp(`Stopped ${l.name}`));
    assert.not.ok(isAlive(pid), `the supervisor ${pid} still runs`);
    await eventually(async () => (await containersOf(l.name)).length === 0, 5000, `${l.name}'s containers to be removed`);
    assert.is(await probePort(port), 'refused');
  } finally {
    await first.client.close().catch(() => undefined);
  }
  const mine = await listed(l.name);
  assert.is(mine?.state, 'stopped');
  assert.is(mine?.hint, `mcp-lok start ${l.name}`);
  assert.is(mine?.url, null);
  const table = await runBin(MANAGER, ['list']);
  assert.match(table.stdout.toString(), new RegExp(`^${l.name}\\s+stopped.*start: mcp-lok start ${l.name}`, 'm'));

  const again = await runBin(MANAGER, ['start', l.name]);
  assert.is(again.code, 0, again.stderr);
  assert.is(again.stdout.toString(), `${l.name} ${url}\n`);
  assert.is((await listed(l.name))?.state, 'running');
  const second = await connectHttp(url, 'L2');
  try {
    assert.match(toolText(await second.client.callTool({ name: 'read_graph', arguments: {} })), /entities/);
  } finally {
    await second.client.close();
  }
  const pid = supervisorPid(l.name);
  const rm = await runBin(MANAGER, ['rm', '-f', l.name]);
  assert.is(rm.code, 0, rm.stderr);
  assert.not.ok(isAlive(pid), `the supervisor ${pid} still runs`);
  assert.not.ok(existsSync(recordPath(l.name)), 'the record is left');
  assert.not.ok(existsSync(logPath(l.name)), 'the log is left');
  assert.is(await listed(l.name), undefined);
  await eventually(async () => (await containersOf(l.name)).length === 0, 5000, `${l.name}'s containers to be removed`);
  assert.is(await probePort(port), 'refused');
});

lifecycle.run();

// ---------------------------------------------------------------------------------------------

const killed = suite('mcp-lok start: a supervisor killed outright');
const k = { name: uniqueName('e2e-http-kill9') };

killed.before(requireEngine);
killed.after(() => removeServer(k.name));

killed('leaves no containers (its reapers remove them) and is listed as stopped, not running', async () => {
  const { url } = await startServer(['--name', k.name, `npx://${EVERYTHING}`, '--', 'streamableHttp']);
  assert.is((await containersOf(k.name)).length, 2);
  const pid = supervisorPid(k.name);
  process.kill(pid, 'SIGKILL');
  // Only the engine is asked here: any mcp-lok command would sweep them itself.
  await eventually(async () => (await containersOf(k.name)).length === 0, 10_000, 'the reapers to remove the containers');
  assert.is(await probePort(Number(new URL(url).port)), 'refused');
  // This machine's init reaps orphans seconds late; the next test covers the time in between.
  await eventually(async () => !existsSync(`/proc/${pid}`), 15_000, `the dead supervisor ${pid} to be reaped`);
  const mine = await listed(k.name);
  assert.is(mine?.state, 'stopped');
  assert.is(mine?.hint, `mcp-lok start ${k.name}`);
  const table = await runBin(MANAGER, ['list']);
  const row = table.stdout.toString().split('\n').find((line) => line.startsWith(`${k.name} `)) ?? '';
  assert.match(row, /stopped \(its supervisor is gone\); start: mcp-lok start/);
  assert.not.match(row, /running/);
});

killed('lists a server stopped as soon as its supervisor is dead, even while the process is not yet reaped (a zombie)', async () => {
  // A zombie that stays one: its parent execs a program that never waits for children.
  const holder = spawn('sh', ['-c', 'sleep 0.1 & echo $!; exec sleep 60'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const saved = readFileSync(recordPath(k.name), 'utf8');
  try {
    let out = '';
    holder.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    await eventually(async () => /^\d+\n/.test(out), 5000, 'the zombie\'s pid');
    const zombie = Number(out.trim());
    await eventually(async () => !isAlive(zombie), 5000, `${zombie} to become a zombie`);
    assert.match(readFileSync(`/proc/${zombie}/stat`, 'utf8'), /^\d+ \(.*\) Z /);
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim().slice(0, 8);
    const record = JSON.parse(saved) as Record<string, unknown>;
    // The record as a supervisor killed a moment ago leaves it: state running, owner its dead process.
    writeFileSync(recordPath(k.name), JSON.stringify({ ...record, state: 'running', supervisor: { pid: zombie, startTicks: `${boot}:${readStartTicks(zombie)}`, host: hostname() } }));
    assert.is((await listed(k.name))?.state, 'stopped');
  } finally {
    holder.kill('SIGKILL');
    writeFileSync(recordPath(k.name), saved);
  }
});

killed.run();

// ---------------------------------------------------------------------------------------------

const refusals = suite('mcp-lok start refuses bad input and creates nothing');
const r = { name: uniqueName('e2e-http-taken'), url: '' };

refusals.before(async () => {
  await requireEngine();
  r.url = (await startServer(['--name', r.name, `npx://${MEMORY}`])).url;
});
refusals.after(() => removeServer(r.name));

async function assertRefused(args: string[], exitCode: number, name: string | undefined, message?: RegExp): Promise<void> {
  const result = await runBin(MANAGER, ['start', ...args]);
  const what = `start ${args.join(' ')}`;
  assert.is(result.code, exitCode, `${what}: ${result.stderr}`);
  assert.is(result.stdout.length, 0, `${what} printed on stdout`);
  assert.is(result.stderr.trim().split('\n').length, 1, `${what}: ${result.stderr}`);
  if (message) assert.match(result.stderr, message);
  if (name !== undefined) {
    assert.not.ok(existsSync(recordPath(name)), `${what} left a record`);
    assert.not.ok(existsSync(logPath(name)), `${what} left a log`);
    assert.is((await containersOf(name)).length, 0, `${what} left a container`);
  }
}

refusals('refuses bad flags and values with exit 2 and one line', async () => {
  const name = uniqueName('e2e-http-bad');
  const source = `npx://${MEMORY}`;
  await assertRefused(['--name', name, '--port', '70000', source], 2, name, /--port/);
  await assertRefused(['--name', 'bad name', source], 2, 'bad name');
  await assertRefused(['--name', name, '--transport', 'stdio', source], 2, name);
  await assertRefused(['--name', name, '--host', 'example.com', source], 2, name, /--host/);
  await assertRefused(['--name', name, '--frobnicate', source], 2, name, /--frobnicate/);
  await assertRefused(['--name', name, '--profile', '/no/such/profile.json', source], 2, name, /Cannot read the profile/);
});

refusals('refuses a name in use and a port in use with exit 1 and one line, leaving the running server alone', async () => {
  const pid = supervisorPid(r.name);
  const record = readFileSync(recordPath(r.name), 'utf8');
  await assertRefused(['--name', r.name, `npx://${MEMORY}`], 1, undefined, /already exists/);
  const name = uniqueName('e2e-http-port');
  await assertRefused(['--name', name, '--port', new URL(r.url).port, `npx://${MEMORY}`], 1, name, /already in use/);
  assert.is(readFileSync(recordPath(r.name), 'utf8'), record);
  assert.ok(isAlive(pid));
  assert.is((await listed(r.name))?.state, 'running');
});

refusals.run();

// ---------------------------------------------------------------------------------------------

const foreground = suite('mcp-lok run over streamable HTTP, in the foreground');

foreground.before(requireEngine);

foreground('serves until Ctrl-C, then exits 0 and leaves nothing behind', async () => {
  const name = uniqueName('e2e-http-run');
  const child = spawnBin(MANAGER, ['run', '--transport', 'streamable-http', '--name', name, '-e', MEMORY_FILE, `npx://${MEMORY}`]);
  let err = '';
  child.stderr?.on('data', (c: Buffer) => { err += c.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  try {
    await eventually(async () => / is ready at http:\/\/\S+/.test(err), 60_000, `the URL on stderr (${err})`);
    const url = (/ is ready at (http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(err) ?? [])[1];
    assert.ok(url, err);
    const c = await connectHttp(url, 'R');
    try {
      await c.client.callTool({ name: 'create_entities', arguments: { entities: [{ name: 'lok', entityType: 'tool', observations: ['over http'] }] } });
      assert.match(toolText(await c.client.callTool({ name: 'read_graph', arguments: {} })), /over http/);
      assert.is((await containersOf(name, 'session')).length, 1);
    } finally {
      await c.client.close();
    }
    child.kill('SIGINT');
    assert.is(await exited, 0, err);
    await eventually(async () => (await containersOf(name)).length === 0, 5000, `${name}'s containers to be removed`);
    assert.is(await probePort(Number(new URL(url).port)), 'refused');
    assert.not.ok(existsSync(recordPath(name)), 'run left a record');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

foreground.run();
