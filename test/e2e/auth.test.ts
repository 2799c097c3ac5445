// Bearer tokens on background servers' listeners, against the real engine: required beyond
// loopback, on loopback with --auth; a client without the token gets 401 and never reaches a
// sandbox, one with it works; `start NAME` keeps the token; the management server returns it.
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MANAGER, MEMORY, lokContainers, requireEngine, runBin, shimEnv } from './harness.js';

const MEMORY_FILE = 'MEMORY_FILE_PATH=/home/node/memory.jsonl';
const names: string[] = [];
const uniqueName = (prefix: string): string => { const n = `${prefix}-${randomBytes(3).toString('hex')}`; names.push(n); return n; };

interface Started { name: string; url: string; mode: string; token: string | null }

async function start(args: string[]): Promise<Started> {
  const result = await runBin(MANAGER, ['start', '--json', ...args]);
  assert.is(result.code, 0, result.stderr);
  return JSON.parse(result.stdout.toString()) as Started;
}

/** Lists the server's tools with the SDK client, sending `token` if given; resolves with the names or the error. */
async function listTools(url: string, token?: string): Promise<string[] | Error> {
  const transport = new StreamableHTTPClientTransport(new URL(url), token ? { requestInit: { headers: { authorization: `Bearer ${token}` } } } : {});
  const client = new Client({ name: 'mcp-lok-e2e-auth', version: '1' });
  try {
    await client.connect(transport);
    return (await client.listTools()).tools.map((t) => t.name);
  } catch (error) {
    return error as Error;
  } finally {
    await client.close().catch(() => undefined);
  }
}

const auth = suite('bearer tokens on background servers');

auth.before(requireEngine);
auth.after(async () => { for (const n of names) await runBin(MANAGER, ['rm', '-f', n]).catch(() => undefined); });

auth('on loopback, no token unless --auth; with --auth a client without the token gets 401 and starts no sandbox', async () => {
  const open = await start(['--name', uniqueName('e2e-auth-open'), '-e', MEMORY_FILE, `npx://${MEMORY}`]);
  assert.is(open.token, null);
  const plain = await runBin(MANAGER, ['start', '--name', uniqueName('e2e-auth-plain'), '--auth', '-e', MEMORY_FILE, `npx://${MEMORY}`]);
  assert.is(plain.code, 0, plain.stderr);
  const [name, url, token] = plain.stdout.toString().trim().split(' ');
  assert.ok(name && url && token && token.length >= 32, plain.stdout.toString());
  assert.match(plain.stderr, /Authorization: Bearer TOKEN/);
  assert.not.match(plain.stderr, new RegExp(token ?? 'x'), 'the token is printed on stdout only');
  const refused = await listTools(url ?? '');
  assert.instance(refused, Error);
  assert.match(String(refused), /401|Unauthorized/);
  const wrong = await listTools(url ?? '', 'not-the-token');
  assert.instance(wrong, Error);
  assert.is((await lokContainers(`mcp-lok-name=${name}`)).filter((c) => c.Labels['mcp-lok-role'] === 'session').length, 0, 'a refused client started a sandbox');
  const tools = await listTools(url ?? '', token);
  assert.ok(Array.isArray(tools) && tools.includes('read_graph'), String(tools));
  const listed = JSON.parse((await runBin(MANAGER, ['list', '--json'])).stdout.toString()) as Array<{ name: string; token: string | null }>;
  assert.is(listed.find((s) => s.name === name)?.token, token);
});

auth('beyond loopback a token is always required, and start NAME keeps it', async () => {
  const wide = await start(['--name', uniqueName('e2e-auth-wide'), '--host', '0.0.0.0', '-e', MEMORY_FILE, `npx://${MEMORY}`]);
  assert.ok(wide.token, JSON.stringify(wide));
  assert.instance(await listTools(wide.url), Error);
  assert.ok(Array.isArray(await listTools(wide.url, wide.token ?? '')));
  assert.is((await runBin(MANAGER, ['stop', wide.name])).code, 0);
  const again = await runBin(MANAGER, ['start', wide.name]);
  assert.is(again.code, 0, again.stderr);
  assert.is(again.stdout.toString().trim().split(' ')[2], wide.token);
  assert.ok(Array.isArray(await listTools(wide.url, wide.token ?? '')));
});

auth('the management server returns the token of a server it starts with auth, and keeps tokens out of list_servers', async () => {
  const transport = new StdioClientTransport({ command: process.execPath, args: [MANAGER], env: shimEnv(), stderr: 'pipe' });
  const client = new Client({ name: 'mcp-lok-e2e-auth-mgmt', version: '1' });
  await client.connect(transport);
  const name = uniqueName('e2e-auth-mgmt');
  try {
    const started = await client.callTool({ name: 'start_server', arguments: { source: `npx://${MEMORY}`, name, auth: true, env: { MEMORY_FILE_PATH: '/home/node/memory.jsonl' } } }, undefined, { timeout: 120_000 }) as { structuredContent?: { url: string; token: string | null }; isError?: boolean; content: Array<{ text: string }> };
    assert.not.ok(started.isError, started.content[0]?.text);
    const token = started.structuredContent?.token ?? '';
    assert.ok(token.length >= 32);
    assert.instance(await listTools(started.structuredContent?.url ?? ''), Error);
    assert.ok(Array.isArray(await listTools(started.structuredContent?.url ?? '', token)));
    const listed = await client.callTool({ name: 'list_servers', arguments: {} }) as { structuredContent?: { servers: Array<Record<string, unknown>> } };
    assert.not.ok(JSON.stringify(listed.structuredContent).includes(token));
    // Nor through start_server of the running server: an agent gets only the tokens of servers it starts.
    const again = await client.callTool({ name: 'start_server', arguments: { name } }) as { structuredContent?: { alreadyRunning: boolean; token: string | null }; content: Array<{ text: string }> };
    assert.is(again.structuredContent?.alreadyRunning, true);
    assert.is(again.structuredContent?.token, null);
    assert.not.ok(JSON.stringify(again).includes(token));
  } finally {
    await client.close();
  }
});

auth('an agent that starts the user\'s own stopped --auth server again gets its URL, not its token', async () => {
  const mine = await start(['--name', uniqueName('e2e-auth-mine'), '--auth', '-e', MEMORY_FILE, `npx://${MEMORY}`]);
  assert.ok(mine.token, JSON.stringify(mine));
  assert.is((await runBin(MANAGER, ['stop', mine.name])).code, 0);
  const transport = new StdioClientTransport({ command: process.execPath, args: [MANAGER], env: shimEnv(), stderr: 'pipe' });
  const client = new Client({ name: 'mcp-lok-e2e-auth-restart', version: '1' });
  await client.connect(transport);
  try {
    const again = await client.callTool({ name: 'start_server', arguments: { name: mine.name } }, undefined, { timeout: 120_000 }) as { structuredContent?: { url: string; alreadyRunning: boolean; token: string | null }; isError?: boolean; content: Array<{ text: string }> };
    assert.not.ok(again.isError, again.content[0]?.text);
    assert.is(again.structuredContent?.alreadyRunning, false);
    assert.is(again.structuredContent?.token, null, 'naming the user\'s stopped server gave the agent its token');
    assert.not.ok(JSON.stringify(again).includes(mine.token ?? 'x'));
    // It runs with its token as before: the user's clients keep working, others still get 401.
    assert.instance(await listTools(mine.url), Error);
    assert.ok(Array.isArray(await listTools(mine.url, mine.token ?? '')));
  } finally {
    await client.close();
  }
});

auth.run();
