import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MANAGER, MEMORY, SHIM, eventually, lokContainers, requireEngine, runBin, spawnBin } from './harness.js';

const INIT = `${JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })}\n`;
const manager = suite('mcp-lok list, stop, rm and image');

manager.before(requireEngine);

async function startShim(name: string): Promise<ReturnType<typeof spawnBin>> {
  const child = spawnBin(SHIM, ['--name', name, '-y', MEMORY]);
  let out = '';
  child.stdout?.on('data', (c: Buffer) => { out += c.toString(); });
  child.stdin?.write(INIT);
  await eventually(async () => out.includes('"id":0'), 60_000, `${name} to answer`);
  return child;
}

manager('lists a running shim server in the table and as JSON', async () => {
  const name = `e2e-list-${randomBytes(3).toString('hex')}`;
  const child = await startShim(name);
  try {
    const table = await runBin(MANAGER, ['list']);
    assert.is(table.code, 0, table.stderr);
    assert.match(table.stdout.toString(), /^NAME\s+STATE/m);
    assert.match(table.stdout.toString(), new RegExp(`^${name}\\s+running\\s+stdio`, 'm'));
    const wide = await runBin(MANAGER, ['list', '--wide']);
    assert.match(wide.stdout.toString(), /^NAME\s+STATE\s+STARTED BY/m);
    assert.match(wide.stdout.toString(), new RegExp(`^${name}\\s+running\\s+npx\\s+stdio`, 'm'));
    const json = await runBin(MANAGER, ['list', '--json']);
    const servers = JSON.parse(json.stdout.toString()) as Array<{ name: string; state: string; launcher: string; transport: string; profile: string; package: string }>;
    const mine = servers.find((s) => s.name === name);
    assert.ok(mine, 'not in --json output');
    assert.is(mine.state, 'running');
    assert.is(mine.launcher, 'npx');
    assert.is(mine.profile, 'stdio');
    assert.match(mine.package, /server-memory@\d/);
    assert.equal((mine as unknown as { allows: string[] }).allows, []);
  } finally {
    child.kill('SIGTERM');
  }
});

manager('stops a shim server: the shim exits and the container is gone', async () => {
  const name = `e2e-stop-${randomBytes(3).toString('hex')}`;
  const child = await startShim(name);
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const stop = await runBin(MANAGER, ['stop', name]);
  assert.is(stop.code, 0, stop.stderr);
  assert.match(stop.stderr, new RegExp(`Stopped ${name}`));
  assert.is.not(await exited, 0);
  await eventually(async () => (await lokContainers(`mcp-lok-name=${name}`)).length === 0, 10_000, `${name} to be removed`);
});

manager('refuses to remove a running server without -f, and removes it with -f', async () => {
  const name = `e2e-rm-${randomBytes(3).toString('hex')}`;
  const child = await startShim(name);
  try {
    const refused = await runBin(MANAGER, ['rm', name]);
    assert.is(refused.code, 1);
    assert.match(refused.stderr, /is running.*mcp-lok rm -f/);
    assert.is((await lokContainers(`mcp-lok-name=${name}`)).length, 1);
    const forced = await runBin(MANAGER, ['rm', '-f', name]);
    assert.is(forced.code, 0, forced.stderr);
    await eventually(async () => (await lokContainers(`mcp-lok-name=${name}`)).length === 0, 10_000, `${name} to be removed`);
  } finally {
    child.kill('SIGKILL');
  }
});

manager('names a server that does not exist and exits 1, matching names exactly', async () => {
  const name = `e2e-exact-${randomBytes(3).toString('hex')}`;
  const child = await startShim(name);
  try {
    // The engine's name filter is a regular expression: a prefix must not match.
    const result = await runBin(MANAGER, ['stop', name.slice(0, -2)]);
    assert.is(result.code, 1);
    assert.match(result.stderr, /No mcp-lok server is named/);
    assert.is((await lokContainers(`mcp-lok-name=${name}`))[0]?.State, 'running');
  } finally {
    child.kill('SIGTERM');
  }
});

manager('rejects bad commands, flags and arguments with exit 2 and one line', async () => {
  for (const args of [['frobnicate'], ['list', '--bogus'], ['stop'], ['logs', 'a', 'b'], ['stop', '--time', 'soon', 'x'], ['image', 'polish']]) {
    const result = await runBin(MANAGER, args);
    assert.is(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.is(result.stdout.length, 0);
    assert.is(result.stderr.trim().split('\n').length, 1, result.stderr);
  }
});

manager('shows the sandbox image, and builds it ahead of time', async () => {
  const build = await runBin(MANAGER, ['image', 'build', '--json']);
  assert.is(build.code, 0, build.stderr);
  const { image } = JSON.parse(build.stdout.toString()) as { image: string };
  const show = await runBin(MANAGER, ['image', '--json']);
  const report = JSON.parse(show.stdout.toString()) as { current: { tag: string; built: boolean }; volumes: Array<{ kind: string }> };
  assert.is(report.current.tag, image);
  assert.is(report.current.built, true);
  assert.ok(report.volumes.some((v) => v.kind === 'npm-cache'));
});

manager('prints help for every command', async () => {
  for (const command of ['list', 'stop', 'rm', 'image', 'version', 'help']) {
    const result = await runBin(MANAGER, [command, '--help']);
    assert.is(result.code, 0);
    assert.match(result.stdout.toString(), /Usage:/);
  }
});

manager.run();
