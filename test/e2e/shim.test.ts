import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { engineRequest } from '../../src/engine/http.js';
import { afterLines, connectShim, ENGINE, EVERYTHING, LOK_HOME, lokContainers, MEMORY, tempDir, requireEngine, runBin, SHIM, spawnBin, eventually } from './harness.js';

const INIT = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };
const line = (msg: unknown): string => `${JSON.stringify(msg)}\n`;
const uniqueName = (prefix: string): string => `${prefix}-${randomBytes(3).toString('hex')}`;

async function containerByName(name: string): Promise<{ Id: string } | undefined> {
  return (await lokContainers(`mcp-lok-name=${name}`))[0];
}

/** Every stdout line must be a JSON-RPC message: nothing of mcp-lok's own. */
function assertOnlyJsonRpc(stdout: Buffer): unknown[] {
  const lines = stdout.toString('utf8').split('\n').filter((l) => l.length > 0);
  return lines.map((l) => {
    const msg = JSON.parse(l) as { jsonrpc?: string };
    assert.is(msg.jsonrpc, '2.0', `not JSON-RPC on stdout: ${l.slice(0, 200)}`);
    return msg;
  });
}

const first = suite('mcp-lok-npx on a first run');

first.before(requireEngine);

first('keeps stdout to the server\'s bytes while it builds the image and installs the package', async () => {
  const images = await engineRequest<Array<{ Id: string; RepoTags: string[] | null }>>(ENGINE, 'GET', `/images/json?filters=${encodeURIComponent(JSON.stringify({ reference: ['mcp-lok/sandbox'] }))}`);
  for (const image of images.body) await engineRequest(ENGINE, 'DELETE', `/images/${image.Id}?force=1`);
  const home = tempDir('mcp-lok-first-');
  const result = await runBin(SHIM, ['-y', MEMORY], { stdin: line(INIT), env: { MCP_LOK_HOME: home }, timeoutMs: 600_000, holdStdinUntil: afterLines(1) });
  const messages = assertOnlyJsonRpc(result.stdout) as Array<{ id?: number; result?: { serverInfo?: { name: string } } }>;
  assert.is(messages.length, 1, result.stderr);
  assert.is(messages[0]?.id, 0);
  assert.ok(messages[0]?.result?.serverInfo?.name);
  assert.match(result.stderr, /building the sandbox image/);
  assert.match(result.stderr, /installing @modelcontextprotocol\/server-memory/);
});

first.run();

const mcp = suite('mcp-lok-npx with the official SDK client');

mcp.before(requireEngine);

mcp('completes the handshake, lists tools and calls them on server-memory', async () => {
  const { client } = await connectShim(['-y', '-e', 'MEMORY_FILE_PATH=/home/node/memory.jsonl', MEMORY]);
  try {
    assert.is(client.getServerVersion()?.name, 'memory-server');
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === 'create_entities'));
    await client.callTool({ name: 'create_entities', arguments: { entities: [{ name: 'lok', entityType: 'tool', observations: ['sandboxed'] }] } });
    const graph = await client.callTool({ name: 'read_graph', arguments: {} }) as { content: Array<{ text: string }> };
    assert.match(graph.content[0]?.text ?? '', /sandboxed/);
  } finally {
    await client.close();
  }
});

mcp('carries a 1 MiB message both ways through server-everything\'s echo tool', async () => {
  const { client } = await connectShim(['-y', EVERYTHING, 'stdio']);
  try {
    const big = 'x'.repeat(1024 * 1024);
    const result = await client.callTool({ name: 'echo', arguments: { message: big } }) as { content: Array<{ text: string }> };
    const text = result.content[0]?.text ?? '';
    assert.ok(text.includes(big), `echo returned ${text.length} characters`);
  } finally {
    await client.close();
  }
});

mcp.run();

const bridge = suite('mcp-lok-npx stdio bridge');

bridge.before(requireEngine);

/** Sends 10 000 pings in one write and checks each id comes back exactly once. */
async function assertPipelined(env: Record<string, string>): Promise<void> {
  const count = 10_000;
  const requests = [line(INIT), line({ jsonrpc: '2.0', method: 'notifications/initialized' })];
  for (let i = 1; i <= count; i++) requests.push(line({ jsonrpc: '2.0', id: i, method: 'ping' }));
  const result = await runBin(SHIM, ['-y', MEMORY], { stdin: requests.join(''), env, timeoutMs: 120_000, holdStdinUntil: afterLines(count + 1) });
  const ids = (assertOnlyJsonRpc(result.stdout) as Array<{ id: number }>).map((m) => m.id).filter((id) => id > 0);
  assert.is(ids.length, count, result.stderr);
  assert.is(new Set(ids).size, count);
  assert.is(result.code, 0);
}

bridge('answers 10 000 pipelined requests, none lost or duplicated', async () => {
  await assertPipelined({});
});

bridge('passes the server\'s exit code and output through unchanged', async () => {
  const ok = await runBin(SHIM, ['-y', '-p', 'semver@7.6.3', 'semver', '1.2.3', '2.0.0', '-r', '>=1.5']);
  assert.is(ok.code, 0, ok.stderr);
  assert.is(ok.stdout.toString(), '2.0.0\n');
  const bad = await runBin(SHIM, ['-y', 'semver@7.6.3', 'not-a-version']);
  assert.is(bad.code, 1);
  assert.is(bad.stdout.length, 0);
});

bridge('stops and removes the container when the client closes stdin', async () => {
  const name = uniqueName('e2e-eof');
  const result = await runBin(SHIM, ['--name', name, '-y', MEMORY], { stdin: line(INIT), holdStdinUntil: afterLines(1) });
  assert.is(assertOnlyJsonRpc(result.stdout).length, 1);
  await eventually(async () => (await containerByName(name)) === undefined, 10_000, `${name} to be removed`);
});

bridge.run();

const attach = suite('mcp-lok-npx through the engine\'s attach stream (engines in a VM or over TCP)');

attach.before(requireEngine);

attach('completes the handshake and a tool call with the SDK client', async () => {
  const { client } = await connectShim(['-y', EVERYTHING, 'stdio'], { MCP_LOK_BRIDGE: 'attach' });
  try {
    const result = await client.callTool({ name: 'echo', arguments: { message: 'y'.repeat(256 * 1024) } }) as { content: Array<{ text: string }> };
    assert.ok((result.content[0]?.text ?? '').includes('y'.repeat(256 * 1024)));
  } finally {
    await client.close();
  }
});

attach('answers 10 000 pipelined requests, none lost or duplicated', async () => {
  await assertPipelined({ MCP_LOK_BRIDGE: 'attach' });
});

attach.run();

const hardening = suite('mcp-lok-npx sandbox settings');

hardening.before(requireEngine);

hardening('runs the server with the hardened settings the engine reports', async () => {
  const name = uniqueName('e2e-inspect');
  // NOT_GIVEN is in mcp-lok-npx's environment and not named with -e; with --client-env off (this
  // test is the client, and adds it) only -e reaches the server. client-env.test covers the default.
  const { client } = await connectShim(['--client-env', 'off', '--name', name, '--memory', '300m', '--cpus', '0.5', '--pids', '100', '-e', 'GIVEN=1', '-y', MEMORY], { NOT_GIVEN: 'secret' });
  try {
    const found = await containerByName(name);
    assert.ok(found, 'container not found by label');
    const inspect = (await engineRequest<{
      Config: { User: string; Env: string[]; Labels: Record<string, string> };
      HostConfig: Record<string, unknown> & { Tmpfs: Record<string, string>; Ulimits: Array<{ Name: string; Soft: number }> };
      Mounts: Array<{ Type: string; Source: string; Destination: string; RW: boolean }>;
      NetworkSettings: { Ports: Record<string, unknown> };
    }>(ENGINE, 'GET', `/containers/${found.Id}/json`)).body;
    const hc = inspect.HostConfig;
    assert.is(inspect.Config.User, '1000:1000');
    assert.equal(hc.CapDrop, ['ALL']);
    assert.ok((hc.SecurityOpt as string[]).some((o) => o.startsWith('no-new-privileges')));
    assert.is(hc.ReadonlyRootfs, true);
    assert.is(hc.Privileged, false);
    assert.is(hc.Init, true);
    assert.is(hc.NetworkMode, 'none');
    assert.is(hc.Memory, 300 * 1024 * 1024);
    assert.is(hc.MemorySwap, 300 * 1024 * 1024);
    assert.is(hc.NanoCpus, 0.5e9);
    assert.is(hc.PidsLimit, 100);
    assert.ok(hc.Ulimits.some((u) => u.Name === 'nofile' && u.Soft > 0));
    assert.match(hc.Tmpfs['/tmp'] ?? '', /noexec/);
    assert.match(hc.Tmpfs['/home/node'] ?? '', /noexec/);
    assert.equal(hc.PortBindings ?? {}, {});
    for (const m of inspect.Mounts) {
      assert.not.match(m.Source, /docker\.sock|podman\.sock/);
      if (m.Destination === '/opt/mcp-lok/pkgs') assert.is(m.RW, false, 'package tree must be read-only');
    }
    const envNames = inspect.Config.Env.map((e) => e.split('=')[0]);
    assert.ok(envNames.includes('GIVEN'));
    assert.not.ok(envNames.includes('NOT_GIVEN'));
    assert.not.ok(envNames.includes('MCP_LOK_HOME'));
    assert.is(inspect.Config.Labels['mcp-lok'], 'true');
    assert.is(inspect.Config.Labels['mcp-lok-name'], name);
    assert.is(inspect.Config.Labels['mcp-lok-transport'], 'stdio');
    assert.match(inspect.Config.Labels['mcp-lok-package'] ?? '', /server-memory@\d/);
  } finally {
    await client.close();
  }
});

hardening.run();

const lifecycle = suite('mcp-lok-npx leaves nothing behind');

lifecycle.before(requireEngine);

lifecycle('removes the container after kill -9, while the client still holds stdin open', async () => {
  const name = uniqueName('e2e-kill');
  const child = spawnBin(SHIM, ['--name', name, '-y', EVERYTHING, 'stdio']);
  child.stdin?.write(line(INIT));
  let out = '';
  child.stdout?.on('data', (c: Buffer) => { out += c.toString(); });
  await eventually(async () => out.includes('"id":0'), 60_000, 'the server to answer initialize');
  assert.ok(await containerByName(name));
  child.kill('SIGKILL');
  await eventually(async () => (await containerByName(name)) === undefined, 10_000, `${name} to be removed after kill -9`);
  const runDir = join(LOK_HOME, 'data', 'state', 'run');
  await eventually(async () => !existsSync(runDir) || !readdirSync(runDir).some((d) => d.startsWith(name)), 5_000, 'the named pipes to be removed');
  child.stdin?.destroy();
});

lifecycle('stops the server on SIGTERM and exits', async () => {
  const name = uniqueName('e2e-term');
  const child = spawnBin(SHIM, ['--name', name, '-y', MEMORY]);
  child.stdin?.write(line(INIT));
  let out = '';
  child.stdout?.on('data', (c: Buffer) => { out += c.toString(); });
  await eventually(async () => out.includes('"id":0'), 60_000, 'the server to answer initialize');
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  const code = await exited;
  assert.ok(code !== null && code !== 0, `exit code ${code}`);
  await eventually(async () => (await containerByName(name)) === undefined, 10_000, `${name} to be removed`);
});

lifecycle.run();

const errors = suite('mcp-lok-npx errors');

errors.before(requireEngine);

async function assertCleanFailure(args: string[], code: number, pattern: RegExp, env: Record<string, string> = {}): Promise<void> {
  const before = (await lokContainers()).length;
  const volumesBefore = (await engineRequest<{ Volumes: unknown[] | null }>(ENGINE, 'GET', '/volumes?filters=' + encodeURIComponent(JSON.stringify({ label: ['mcp-lok=true'] })))).body.Volumes?.length ?? 0;
  const result = await runBin(SHIM, args, { stdin: line(INIT), env });
  assert.is(result.code, code, result.stderr);
  assert.is(result.stdout.length, 0, `stdout: ${result.stdout.toString()}`);
  // Progress lines (mcp-lok: ...) may come first; the failure itself is one line.
  const own = result.stderr.trim().split('\n').filter((l) => l.startsWith('mcp-lok-npx:'));
  assert.is(own.length, 1, `not exactly one error line: ${result.stderr}`);
  assert.match(result.stderr, pattern);
  assert.is((await lokContainers()).length, before);
  const volumesAfter = (await engineRequest<{ Volumes: unknown[] | null }>(ENGINE, 'GET', '/volumes?filters=' + encodeURIComponent(JSON.stringify({ label: ['mcp-lok=true'] })))).body.Volumes?.length ?? 0;
  assert.is(volumesAfter, volumesBefore, 'a failed start left a volume');
}

errors('reports an unknown package in one line with exit 127', async () => {
  await assertCleanFailure(['-y', `mcp-lok-no-such-package-${randomBytes(4).toString('hex')}`], 127, /was not found in the registry/);
});

errors('reports a version that does not exist with exit 127', async () => {
  await assertCleanFailure(['-y', 'semver@99.99.99'], 127, /No published version matches semver@99\.99\.99/);
});

errors('reports a missing engine in one line with exit 125', async () => {
  await assertCleanFailure(['-y', MEMORY], 125, /No container engine answered.*Start Docker or Podman/, { MCP_LOK_ENGINE: 'unix:///nonexistent/docker.sock' });
});

errors('refuses specs it cannot honour yet with a clear line', async () => {
  await assertCleanFailure(['./my-server'], 125, /local paths are not supported/);
  await assertCleanFailure(['github:user/repo'], 125, /not supported/);
});

errors('refuses to install with --no when the package is not installed', async () => {
  await assertCleanFailure(['--no', `mcp-lok-no-such-package-${randomBytes(4).toString('hex')}`], 127, /not installed and --no was given/);
});

errors('rejects a CA bundle that cannot be read, before creating anything', async () => {
  await assertCleanFailure(['--ca-cert', '/nonexistent/ca.pem', '-y', MEMORY], 125, /Cannot use \/nonexistent\/ca\.pem given by --ca-cert as a CA bundle/);
});

errors.run();
