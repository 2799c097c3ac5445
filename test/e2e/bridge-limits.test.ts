// A bridged background server (`mcp-lok start`) whose sessions misbehave, against the real
// engine: a line that never ends ends only its own session, and a client that does not read
// its stream holds its own server back; the supervisor and the other sessions carry on.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { engineRequest } from '../../src/engine/http.js';
import { MAX_MESSAGE_BYTES } from '../../src/lines.js';
import { ENGINE, LOK_HOME, MANAGER, eventually, lokContainers, requireEngine, runBin } from './harness.js';
import { startFixtureRegistry, type FixtureRegistry } from './registry.js';

const STATE = join(LOK_HOME, 'data', 'state');
const MIB = 1024 * 1024;
/** How long the stalled client reads nothing: a pause, never a measure (nothing asserts on time). */
const STALL_MS = 3000;
const INITIALIZE = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };

let registry: FixtureRegistry;
const server = { name: `e2e-limits-${randomBytes(3).toString('hex')}`, url: '', pid: 0 };
const clients: Client[] = [];

function readProc(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, `no ${field} for process ${pid}`);
  return Number(m[1]) * 1024;
}

function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); } catch { return false; }
  return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

async function connect(label: string): Promise<Client> {
  const client = new Client({ name: `mcp-lok-e2e-${label}`, version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(server.url)));
  clients.push(client);
  return client;
}

async function echo(client: Client, text: string): Promise<string> {
  const result = await client.callTool({ name: 'echo', arguments: { text } }) as { content: Array<{ text?: string }> };
  return result.content.map((c) => c.text ?? '').join('');
}

const sessions = async (): Promise<number> => (await lokContainers(`mcp-lok-name=${server.name}`)).filter((c) => c.Labels['mcp-lok-role'] === 'session').length;
const logText = (): string => readFileSync(join(STATE, 'logs', `${server.name}.log`), 'utf8');

/** Posts a JSON-RPC message and returns the response without reading its body. */
function postUnread(body: unknown, sessionId?: string): Promise<{ status: number; sessionId: string | undefined; readAll: (endsWith: string) => Promise<string> }> {
  const u = new URL(server.url);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    if (sessionId) headers['mcp-session-id'] = sessionId;
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers }, (res) => {
      const id = res.headers['mcp-session-id'];
      resolve({
        status: res.statusCode ?? 0,
        sessionId: typeof id === 'string' ? id : undefined,
        readAll: (marker) => new Promise((done, fail) => {
          const chunks: string[] = [];
          let tail = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            chunks.push(c);
            tail = tail.slice(-64) + c;
            if (tail.includes(marker) && tail.endsWith('\n\n')) { res.destroy(); done(chunks.join('')); }
          });
          res.on('end', () => done(chunks.join('')));
          res.on('error', fail);
        }),
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const limits = suite('mcp-lok start: a bridged server that floods its supervisor');

limits.before(async () => {
  await requireEngine();
  registry = await startFixtureRegistry();
});
limits.after(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await runBin(MANAGER, ['rm', '-f', server.name]).catch(() => undefined);
  await registry?.close();
  const filters = encodeURIComponent(JSON.stringify({ label: ['mcp-lok=true', 'mcp-lok-kind=packages'] }));
  const volumes = (await engineRequest<{ Volumes: Array<{ Name: string; Labels: Record<string, string> }> | null }>(ENGINE, 'GET', `/volumes?filters=${filters}`)).body.Volumes ?? [];
  for (const v of volumes) if ((v.Labels['mcp-lok-package'] ?? '').startsWith('lok-fixture-flood@')) await engineRequest(ENGINE, 'DELETE', `/volumes/${v.Name}`);
});

limits('starts the fixture server in the background, bridged to HTTP', async () => {
  const started = await runBin(MANAGER, ['start', '--registry', registry.url, '--name', server.name, 'npx://lok-fixture-flood']);
  assert.is(started.code, 0, started.stderr);
  server.url = started.stdout.toString().trim().split(' ')[1] ?? '';
  assert.match(server.url, /\/mcp$/);
  const record = JSON.parse(readFileSync(join(STATE, 'servers', `${server.name}.json`), 'utf8')) as { supervisor?: { pid: number } };
  server.pid = record.supervisor?.pid ?? 0;
  assert.ok(isAlive(server.pid), 'the supervisor is not running');
});

limits('ends only the session whose server sends 64 MiB without a newline, and says so in the log', async () => {
  const [flooder, bystander] = await Promise.all([connect('flooder'), connect('bystander')]);
  assert.is(await echo(bystander, 'before'), 'before');
  const peakBefore = readProc(server.pid, 'VmHWM');
  const failure = await flooder.callTool({ name: 'huge', arguments: { bytes: 64 * MIB } }).then(() => undefined, (error: unknown) => error as Error);
  assert.ok(failure, 'the call that flooded its session did not fail');
  assert.match(failure.message, new RegExp(`the server sent a message over ${MAX_MESSAGE_BYTES / MIB} MiB without a newline`));
  await eventually(async () => /the server sent a message over 16 MiB without a newline; ending this session/.test(logText()), 10_000, 'the log line');
  await eventually(async () => (await sessions()) === 1, 20_000, 'the flooding session\'s sandbox to be removed');
  assert.ok(isAlive(server.pid), 'the supervisor died');
  assert.is(await echo(bystander, 'after'), 'after');
  const second = await connect('second');
  assert.is(await echo(second, 'new session'), 'new session');
  // The supervisor held at most one capped line, not the 64 MiB (nor several copies of it).
  const grown = readProc(server.pid, 'VmHWM') - peakBefore;
  assert.ok(grown < 4 * MAX_MESSAGE_BYTES, `the supervisor's peak memory grew by ${Math.round(grown / MIB)} MiB`);
});

limits('serves a stalled client\'s flood whole and in order once it reads, holding little meanwhile', async () => {
  const init = await postUnread(INITIALIZE);
  assert.is(init.status, 200);
  const sid = init.sessionId;
  assert.ok(sid, 'no session id');
  await init.readAll('"id":1');
  const count = 2048;
  const size = 64 * 1024;
  const flood = await postUnread({ jsonrpc: '2.0', id: 'flood', method: 'tools/call', params: { name: 'flood', arguments: { count, size } } }, sid);
  assert.is(flood.status, 200);
  // The client reads nothing for a while; the server (128 MiB to send) waits for it meanwhile.
  const before = readProc(server.pid, 'VmRSS');
  await new Promise((resolve) => setTimeout(resolve, STALL_MS));
  const grown = readProc(server.pid, 'VmRSS') - before;
  const text = await flood.readAll('"id":"flood"');
  const events = text.split('\n\n').filter((e) => e.startsWith('event: message\ndata: ')).map((e) => JSON.parse(e.slice(e.indexOf('data: ') + 6)) as { id?: unknown; params?: { data?: string } });
  assert.is(events.length, count + 1);
  const filler = 'x'.repeat(size);
  events.slice(0, count).forEach((e, i) => { if (e.params?.data !== `${i} ${filler}`) assert.unreachable(`message ${i} arrived changed`); });
  assert.is(events[count]?.id, 'flood');
  assert.ok(isAlive(server.pid), 'the supervisor died');
  assert.ok(grown < 2 * MAX_MESSAGE_BYTES, `the supervisor grew by ${Math.round(grown / MIB)} MiB while its client did not read`);
});

limits.run();
