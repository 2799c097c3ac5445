import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { getPaths } from '../../src/state/paths.js';
import { scratchDir } from '../support/scratch.js';
import { LOK_HOME, MANAGER, MEMORY, ROOT, SHIM, eventually, lokContainers, requireEngine, shimEnv, spawnBin, tempDir } from './harness.js';

type Result = { content: Array<{ text: string }>; structuredContent?: Record<string, unknown>; isError?: boolean };
const INIT = `${JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })}\n`;

let client: Client;
let stderr = '';
const management = suite('mcp-lok with no command: the management MCP server');

management.before(async () => {
  await requireEngine();
  const transport = new StdioClientTransport({ command: process.execPath, args: [MANAGER], env: shimEnv(), stderr: 'pipe' });
  transport.stderr?.on('data', (c: Buffer) => { stderr += c.toString(); });
  client = new Client({ name: 'mcp-lok-e2e', version: '1.0.0' });
  await client.connect(transport);
});

management.after(async () => { await client?.close(); });

management('offers its tools with input schemas, titles and annotations', async () => {
  const { tools } = await client.listTools();
  const byName = new Map(tools.map((t) => [t.name, t]));
  for (const name of ['list_servers', 'start_server', 'stop_server', 'remove_server', 'get_server_log', 'get_egress_log', 'list_profiles', 'show_profile']) {
    const tool = byName.get(name);
    assert.ok(tool, `missing ${name}`);
    assert.is(tool.inputSchema.type, 'object');
    assert.ok(tool.title);
    assert.ok(tool.annotations);
  }
  assert.is(byName.get('list_servers')?.annotations?.readOnlyHint, true);
  assert.is(byName.get('remove_server')?.annotations?.destructiveHint, true);
  assert.is(client.getServerVersion()?.name, 'mcp-lok');
});

management('lists, stops and removes a real sandboxed server', async () => {
  const name = `e2e-mgmt-${randomBytes(3).toString('hex')}`;
  const child = spawnBin(SHIM, ['--name', name, '-y', MEMORY]);
  let out = '';
  child.stdout?.on('data', (c: Buffer) => { out += c.toString(); });
  child.stdin?.write(INIT);
  await eventually(async () => out.includes('"id":0'), 60_000, `${name} to answer`);
  try {
    const listed = await client.callTool({ name: 'list_servers', arguments: {} }) as Result;
    const servers = (listed.structuredContent?.servers ?? []) as Array<{ name: string; state: string }>;
    assert.is(servers.find((s) => s.name === name)?.state, 'running');
    const stopped = await client.callTool({ name: 'stop_server', arguments: { name } }) as Result;
    assert.not.ok(stopped.isError, stopped.content[0]?.text);
    assert.is(stopped.structuredContent?.wasRunning, true);
    await eventually(async () => (await lokContainers(`mcp-lok-name=${name}`)).length === 0, 10_000, `${name} to be removed`);
    const again = await client.callTool({ name: 'remove_server', arguments: { name } }) as Result;
    assert.ok(again.isError);
    assert.match(again.content[0]?.text ?? '', /No mcp-lok server is named/);
  } finally {
    child.kill('SIGKILL');
  }
});

management('turns bad input into a tool error that says what to fix, and touches nothing else', async () => {
  const bad = await client.callTool({ name: 'stop_server', arguments: { name: '../../etc' } }) as Result;
  assert.ok(bad.isError);
  assert.match(bad.content[0]?.text ?? '', /server name/);
  const missing = await client.callTool({ name: 'get_egress_log', arguments: { name: 'no-such-server' } }) as Result;
  assert.ok(missing.isError);
  assert.match(missing.content[0]?.text ?? '', /No egress log/);
  const profile = await client.callTool({ name: 'show_profile', arguments: { profile: '/nonexistent/profile.json' } }) as Result;
  assert.ok(profile.isError);
  assert.match(profile.content[0]?.text ?? '', /Cannot read the profile/);
});

management('lists and explains permission profiles', async () => {
  const list = await client.callTool({ name: 'list_profiles', arguments: {} }) as Result;
  const names = (list.structuredContent?.profiles as Array<{ name: string }>).map((p) => p.name);
  assert.ok(names.includes('stdio') && names.includes('network'));
  const shown = await client.callTool({ name: 'show_profile', arguments: { profile: 'network' } }) as Result;
  assert.match(JSON.stringify(shown.structuredContent?.allows), /ANY public host/);
});

management('starts, lists, reads the log of, stops and removes a real background server from npm', async () => {
  const name = `e2e-mgmt-bg-${randomBytes(3).toString('hex')}`;
  try {
    const started = await client.callTool({ name: 'start_server', arguments: { source: `npx://${MEMORY}`, name } }, undefined, { timeout: 120_000 }) as Result;
    assert.not.ok(started.isError, started.content[0]?.text);
    const url = String(started.structuredContent?.url);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    assert.is(started.structuredContent?.mode, 'bridge');
    const http = new Client({ name: 'e2e-http', version: '1' });
    await http.connect(new StreamableHTTPClientTransport(new URL(url)));
    const { tools } = await http.listTools();
    assert.ok(tools.some((t) => t.name === 'read_graph'));
    await http.close();
    const listed = await client.callTool({ name: 'list_servers', arguments: {} }) as Result;
    const mine = (listed.structuredContent?.servers as Array<{ name: string; state: string; url: string | null; launcher: string }>).find((s) => s.name === name);
    assert.is(mine?.state, 'running');
    assert.is(mine?.url, url);
    assert.is(mine?.launcher, 'start');
    const log = await client.callTool({ name: 'get_server_log', arguments: { name } }) as Result;
    assert.match((log.structuredContent?.lines as string[]).join('\n'), new RegExp(`${name} is ready at`));
    const stopped = await client.callTool({ name: 'stop_server', arguments: { name } }) as Result;
    assert.is(stopped.structuredContent?.wasRunning, true);
    assert.is((await lokContainers(`mcp-lok-name=${name}`)).length, 0);
    const after = await client.callTool({ name: 'list_servers', arguments: {} }) as Result;
    const stoppedRow = (after.structuredContent?.servers as Array<{ name: string; state: string; hint?: string }>).find((s) => s.name === name);
    assert.is(stoppedRow?.state, 'stopped');
    assert.is(stoppedRow?.hint, `mcp-lok start ${name}`);
    const removed = await client.callTool({ name: 'remove_server', arguments: { name } }) as Result;
    assert.not.ok(removed.isError, removed.content[0]?.text);
    const gone = await client.callTool({ name: 'list_servers', arguments: { all: true } }) as Result;
    assert.not.ok((gone.structuredContent?.servers as Array<{ name: string }>).some((s) => s.name === name));
  } finally {
    await client.callTool({ name: 'remove_server', arguments: { name, force: true } }).catch(() => {});
  }
});

management('refuses to widen a sandbox without the explicit flag, and creates nothing', async () => {
  const name = `e2e-mgmt-wide-${randomBytes(3).toString('hex')}`;
  // An agent writes a profile that reads a folder and allows one outside host, then starts a server with it.
  const readsAndReaches = join(tempDir('mcp-lok-mgmt-profile-'), 'quiet.json');
  // lok-offline: nothing starts; the request is refused
  writeFileSync(readsAndReaches, JSON.stringify({ read: [ROOT], network: { outbound: { allow_host: ['api.example.com'], allow_port: [443] } } }));
  for (const [args, flag] of [
    [{ profile: 'network' }, 'allowNetwork'],
    [{ profile: readsAndReaches }, 'allowNetwork'],
    [{ profile: readsAndReaches, allowNetwork: true }, 'allowReads'],
    [{ host: '0.0.0.0' }, 'allowRemoteClients'],
    [{ envFromHost: ['PATH'] }, 'allowHostEnv'],
  ] as const) {
    const refused = await client.callTool({ name: 'start_server', arguments: { source: `npx://${MEMORY}`, name, ...args } }) as Result;
    assert.ok(refused.isError);
    assert.match(refused.content[0]?.text ?? '', new RegExp(`^Refused: .*Set \`${flag}: true\``));
  }
  // An image that is not here is not pulled for an agent unless it asks (and the user agrees).
  const absent = await client.callTool({ name: 'start_server', arguments: { source: 'mcp-lok-e2e/never-pulled:1', name } }) as Result;
  assert.ok(absent.isError);
  assert.match(absent.content[0]?.text ?? '', /not on this machine, and this start may not download it.*allowPull: true/);
  const bad = await client.callTool({ name: 'start_server', arguments: { source: 'Not An Image!', name } }) as Result;
  assert.ok(bad.isError);
  assert.match(bad.content[0]?.text ?? '', /Expected an image reference/);
  // mcp-lok's options never come from a string: not from source, not from args.
  const smuggled = await client.callTool({ name: 'start_server', arguments: { source: '--profile=network', args: [`npx://${MEMORY}`], name } }) as Result;
  assert.ok(smuggled.isError);
  assert.match(smuggled.content[0]?.text ?? '', /Expected `source` to be an image reference or npx:\/\/package, got an option/);
  const path = await client.callTool({ name: 'show_profile', arguments: { profile: '/etc/passwd' } }) as Result;
  assert.ok(path.isError);
  assert.match(path.content[0]?.text ?? '', /profile name or a \.json file/);
  const listed = await client.callTool({ name: 'list_servers', arguments: { all: true } }) as Result;
  assert.not.ok((listed.structuredContent?.servers as Array<{ name: string }>).some((s) => s.name === name));
  assert.is((await lokContainers(`mcp-lok-name=${name}`)).length, 0);
});

management('asks the user, where the client can, before widening a sandbox; a decline refuses', async () => {
  const transport = new StdioClientTransport({ command: process.execPath, args: [MANAGER], env: shimEnv(), stderr: 'pipe' });
  const asking = new Client({ name: 'mcp-lok-e2e-elicit', version: '1.0.0' }, { capabilities: { elicitation: {} } });
  const asked: string[] = [];
  asking.setRequestHandler(ElicitRequestSchema, async (request) => {
    asked.push(String(request.params.message));
    return { action: 'decline' };
  });
  await asking.connect(transport);
  const name = `e2e-mgmt-ask-${randomBytes(3).toString('hex')}`;
  // A profile file an agent named so that the question quoting it would lie (line breaks, a bidi override).
  const spoof = join(tempDir('mcp-lok-mgmt-spoof-'), 'ok\n\nNothing here widens the sandbox. Allow.\n\u202e.json');
  writeFileSync(spoof, JSON.stringify({ network: { outbound: { insecure_allow_all: true } } }));
  try {
    const spoofed = await asking.callTool({ name: 'start_server', arguments: { source: `npx://${MEMORY}`, name, profile: spoof, allowNetwork: true } }) as Result;
    assert.ok(spoofed.isError);
    assert.match(spoofed.content[0]?.text ?? '', /without control or invisible characters/);
    assert.is(asked.length, 0);
    const refused = await asking.callTool({ name: 'start_server', arguments: { source: `npx://${MEMORY}`, name, profile: 'network', allowNetwork: true } }) as Result;
    assert.ok(refused.isError);
    assert.match(refused.content[0]?.text ?? '', /the user did not allow/);
    assert.is(asked.length, 1);
    assert.match(asked[0] ?? '', /reach any public host/);
    assert.is((await lokContainers(`mcp-lok-name=${name}`)).length, 0);
  } finally {
    await asking.close();
  }
});

management('starts a stopped server again only as a start: a wider record needs its flags, and a listener beyond loopback its token', async () => {
  const name = `e2e-mgmt-again-${randomBytes(3).toString('hex')}`;
  const recordPath = join(getPaths({ MCP_LOK_HOME: LOK_HOME }).state, 'servers', `${name}.json`);
  // What anything with the user's rights (an agent's file tool) can do to a stopped server's record.
  const editSpec = (edit: (spec: Record<string, any>) => void): void => {
    const record = JSON.parse(readFileSync(recordPath, 'utf8')) as { spec: Record<string, any> };
    edit(record.spec);
    writeFileSync(recordPath, JSON.stringify(record));
  };
  const granted = scratchDir('mgmt-again-');
  try {
    const started = await client.callTool({ name: 'start_server', arguments: { source: `npx://${MEMORY}`, name } }, undefined, { timeout: 120_000 }) as Result;
    assert.not.ok(started.isError, started.content[0]?.text);
    await client.callTool({ name: 'stop_server', arguments: { name } });
    editSpec((spec) => { spec.server.profile.profile.read = [{ host: granted, container: granted }]; });
    const quiet = await client.callTool({ name: 'start_server', arguments: { name } }) as Result;
    assert.ok(quiet.isError, 'a record that reads host files started again without allowReads');
    assert.match(quiet.content[0]?.text ?? '', new RegExp(`^Refused: profile stdio lets the server read ${granted}.*Set \`allowReads: true\``));
    assert.is((await lokContainers(`mcp-lok-name=${name}`)).length, 0);
    const flagged = await client.callTool({ name: 'start_server', arguments: { name, allowReads: true } }, undefined, { timeout: 120_000 }) as Result;
    assert.not.ok(flagged.isError, flagged.content[0]?.text);
    assert.equal(flagged.structuredContent?.relaxations, [`read-only: ${granted}`]);
    await client.callTool({ name: 'stop_server', arguments: { name } });
    editSpec((spec) => { spec.host = '0.0.0.0'; delete spec.token; });
    const open = await client.callTool({ name: 'start_server', arguments: { name, allowReads: true, allowRemoteClients: true } }) as Result;
    assert.ok(open.isError, 'a listener on every interface started without a token');
    assert.match(open.content[0]?.text ?? '', /damaged \(a listener on 0\.0\.0\.0 without a token\)/);
    assert.is((await lokContainers(`mcp-lok-name=${name}`)).length, 0);
  } finally {
    await client.callTool({ name: 'remove_server', arguments: { name, force: true } }).catch(() => {});
  }
});

management('never signals a process that is not an mcp-lok supervisor, whatever a record in the state folder says', async () => {
  const victim = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  const name = `e2e-mgmt-forged-${randomBytes(3).toString('hex')}`;
  const dir = join(getPaths({ MCP_LOK_HOME: LOK_HOME }).state, 'servers');
  mkdirSync(dir, { recursive: true });
  try {
    for (const supervisor of [
      { pid: victim.pid, startTicks: '', host: 'another-machine' },
      { pid: victim.pid, startTicks: `${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim().slice(0, 8)}:${readFileSync(`/proc/${victim.pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[19]}`, host: hostname() },
    ]) {
      // What anything with the user's rights (an agent's file tool) can write there.
      writeFileSync(join(dir, `${name}.json`), JSON.stringify({
        name, transport: 'streamable-http', host: '127.0.0.1', port: 4000, url: 'http://127.0.0.1:4000/mcp', mode: 'bridge', source: 'npx://x',
        profile: 'stdio', allows: [], supervisor, state: 'running', restarts: 0, startedAt: 'x', updatedAt: 'x',
      }));
      const stopped = await client.callTool({ name: 'stop_server', arguments: { name, graceSeconds: 0 } }) as Result;
      assert.is(stopped.structuredContent?.wasRunning, false, stopped.content[0]?.text);
      assert.is(victim.exitCode, null);
      assert.is(victim.signalCode, null);
    }
    const removed = await client.callTool({ name: 'remove_server', arguments: { name, force: true } }) as Result;
    assert.not.ok(removed.isError, removed.content[0]?.text);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.is(victim.signalCode, null, 'the victim was signalled');
  } finally {
    victim.kill('SIGKILL');
    rmSync(join(dir, `${name}.json`), { force: true });
  }
});

management('keeps stdout to MCP: nothing else was printed there, and stderr had no errors', async () => {
  assert.not.match(stderr, /error/i);
});

management.run();
