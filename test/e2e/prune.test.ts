// Removing unpinned trees from a package volume (`update` declining, applying, rolling back):
// only what this mcp-lok home installed goes, and a tree is gone whole or not at all.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ensureSandboxImage } from '../../src/prepare/images.js';
import { installKey } from '../../src/prepare/install.js';
import { engineRequest } from '../../src/engine/http.js';
import { ENGINE, MANAGER, SHIM, requireEngine, runBin, runOnTerminal, tempDir, type RunResult } from './harness.js';
import { startFixtureRegistry, type FixtureRegistry } from './registry.js';

const PKG = 'lok-fixture-pin';
const INIT = `${JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'prune', version: '1' } } })}\n`;

const docker = (args: string[]): Promise<string> => new Promise((resolve, reject) => {
  execFile('docker', args, (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)));
});

/** Returns the entries of a volume's root, as a container sees them. */
async function entriesOf(volume: string, image: string): Promise<string[]> {
  return (await docker(['run', '--rm', '--network', 'none', '-v', `${volume}:/p:ro`, image, 'ls', '-a', '/p'])).split('\n').filter((l) => l !== '' && l !== '.' && l !== '..').sort();
}

const homes = suite('pruning: another mcp-lok home on the same engine');
let registry: FixtureRegistry;
const homeA = tempDir('mcp-lok-prune-a-');
const homeB = tempDir('mcp-lok-prune-b-');

/** Runs the fixture through the shim with a home (initialize only) and returns its version. */
async function start(home: string, registry: FixtureRegistry): Promise<RunResult & { version: string | undefined }> {
  const result = await runBin(SHIM, ['--registry', registry.url, '-y', PKG], { env: { MCP_LOK_HOME: home, MCP_LOK_EPHEMERAL: '1' }, stdin: INIT, holdStdinUntil: (out) => out.includes('\n') });
  const version = /"serverInfo":\{[^}]*"version":"([^"]+)"/.exec(result.stdout.toString())?.[1];
  return { ...result, version };
}

homes.before(async () => {
  await requireEngine();
  registry = await startFixtureRegistry();
});
homes.after(async () => {
  await registry?.close();
  await engineRequest(ENGINE, 'DELETE', `/volumes/mcp-lok-pkg-${installKey([`${PKG}@latest`], registry.url)}`).catch(() => undefined);
  rmSync(homeA, { recursive: true, force: true });
  rmSync(homeB, { recursive: true, force: true });
});

homes('a declined update removes the candidate it installed, not the tree another home pinned in the same volume', async () => {
  const a = await start(homeA, registry);
  assert.is(a.version, '1.0.0', a.stderr);
  registry.publish('package-versions/lok-fixture-pin@1.1.0');
  const b = await start(homeB, registry);
  assert.is(b.version, '1.1.0', b.stderr);
  registry.publish('package-versions/lok-fixture-pin@1.1.0', { version: '1.2.0' });
  // No terminal to ask: declined, and B's candidate goes.
  const declined = await runBin(MANAGER, ['update', PKG], { env: { MCP_LOK_HOME: homeB } });
  assert.is(declined.code, 1, declined.stderr);
  assert.match(declined.stdout.toString(), /1\.1\.0 -> 1\.2\.0/);
  const again = await start(homeA, registry);
  assert.is(again.code, 0, again.stderr);
  assert.is(again.version, '1.0.0', again.stderr);
  const stillB = await start(homeB, registry);
  assert.is(stillB.version, '1.1.0', stillB.stderr);
  // On a terminal, --json prints the review only after the answer: it asks nothing, and nothing changes.
  const json = await runOnTerminal(MANAGER, ['update', '--json', PKG], 'y', { MCP_LOK_HOME: homeB });
  assert.is(json.code, 1, json.output);
  assert.not.match(json.output, /\[y\/N\]/);
  assert.match(json.output, /--json prints the review and asks nothing/);
  assert.is((await start(homeB, registry)).version, '1.1.0');
  // Each home's record of what its engine's volumes hold is its own (a registry URL may carry credentials).
  const installs = join(homeA, 'cache', 'installs');
  for (const file of readdirSync(installs)) assert.is(statSync(join(installs, file)).mode & 0o077, 0, `${file} is readable by others`);
});

homes.run();

const whole = suite('pruning: a tree goes whole or not at all');
let image = '';
const volume = `mcp-lok-e2e-prune-${randomBytes(4).toString('hex')}`;
whole.before(async () => {
  await requireEngine();
  image = await ensureSandboxImage(ENGINE, { log: () => {} });
});
whole.after(async () => {
  await engineRequest(ENGINE, 'DELETE', `/volumes/${volume}`).catch(() => undefined);
});

whole('a tree the prune cannot delete completely is no longer under a tree\'s name (a later install of it would take what is left as whole)', async () => {
  const tree = 'abcdef0123456789';
  // Made as root: a tree whose folder `zz` the sandbox user cannot empty, as a prune stopped midway leaves one.
  await docker(['run', '--rm', '--network', 'none', '--user', '0:0', '-v', `${volume}:/p`, image, 'sh', '-c',
    `mkdir -p /p/${tree}/zz /p/${tree}/node_modules && echo a > /p/${tree}/node_modules/a && echo b > /p/${tree}/zz/b && chown -R 1000:1000 /p && chown 0:0 /p/${tree}/zz`]);
  assert.equal(await entriesOf(volume, image), [tree]);
  await docker(['run', '--rm', '--network', 'none', '--user', '1000:1000', '-v', `${volume}:/opt/mcp-lok/pkgs`, image, 'node', '/opt/mcp-lok/install.mjs', JSON.stringify({ mode: 'prune', remove: [tree] })]).catch(() => '');
  const left = await entriesOf(volume, image);
  assert.not.ok(left.includes(tree), left.join(' '));
});

whole.run();

const held = suite('pruning: a tree a running server will start containers from');
let heldRegistry: FixtureRegistry;
const homeC = tempDir('mcp-lok-prune-c-');
const server = `e2e-prune-${randomBytes(3).toString('hex')}`;
const inC = { MCP_LOK_HOME: homeC, MCP_LOK_EPHEMERAL: '1' };
held.before(async () => {
  await requireEngine();
  heldRegistry = await startFixtureRegistry();
});
held.after(async () => {
  await runBin(MANAGER, ['rm', '-f', server], { env: inC }).catch(() => undefined);
  await heldRegistry?.close();
  await engineRequest(ENGINE, 'DELETE', `/volumes/mcp-lok-pkg-${installKey([`${PKG}@latest`], heldRegistry.url)}`).catch(() => undefined);
  rmSync(homeC, { recursive: true, force: true });
});

held('a background server started before a rollback opens its next session on the tree it started with (no container ran it meanwhile)', async () => {
  assert.is((await start(homeC, heldRegistry)).version, '1.0.0');
  heldRegistry.publish('package-versions/lok-fixture-pin@1.1.0');
  const applied = await runBin(MANAGER, ['update', PKG, '--yes'], { env: inC });
  assert.is(applied.code, 0, applied.stderr);
  // A stdio server bridged to HTTP: a container per client session, none before the first.
  const started = await runBin(MANAGER, ['start', '--registry', heldRegistry.url, '--name', server, `npx://${PKG}`], { env: inC });
  assert.is(started.code, 0, started.stderr);
  const url = started.stdout.toString().trim().split(' ')[1] ?? '';
  const back = await runBin(MANAGER, ['update', '--rollback', PKG], { env: inC });
  assert.is(back.code, 0, back.stderr);
  const client = new Client({ name: 'mcp-lok-e2e-prune', version: '1.0.0' });
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(url)));
    assert.is(client.getServerVersion()?.version, '1.1.0', 'the session did not run the tree the server started with');
  } finally {
    await client.close().catch(() => undefined);
  }
  // Once it stops, the tree goes with the next removal.
  assert.is((await runBin(MANAGER, ['rm', '-f', server], { env: inC })).code, 0);
  assert.is((await start(homeC, heldRegistry)).version, '1.0.0');
});

held.run();

const gone = suite('pruning: a package volume removed by hand');
let goneRegistry: FixtureRegistry;
const homeD = tempDir('mcp-lok-prune-d-');
const inD = { MCP_LOK_HOME: homeD, MCP_LOK_EPHEMERAL: '1' };
gone.before(async () => {
  await requireEngine();
  goneRegistry = await startFixtureRegistry();
});
gone.after(async () => {
  await goneRegistry?.close();
  await engineRequest(ENGINE, 'DELETE', `/volumes/mcp-lok-pkg-${installKey([`${PKG}@latest`], goneRegistry.url)}`).catch(() => undefined);
  rmSync(homeD, { recursive: true, force: true });
});

gone('a rollback after the volume was removed installs the earlier tree again instead of running what the old volume held', async () => {
  assert.is((await start(homeD, goneRegistry)).version, '1.0.0');
  goneRegistry.publish('package-versions/lok-fixture-pin@1.1.0');
  assert.is((await runBin(MANAGER, ['update', PKG, '--yes'], { env: inD })).code, 0);
  const volume = `mcp-lok-pkg-${installKey([`${PKG}@latest`], goneRegistry.url)}`;
  assert.is((await engineRequest(ENGINE, 'DELETE', `/volumes/${volume}`)).status, 204);
  // The next start installs the pinned 1.1.0 again, into a new volume that holds nothing else.
  assert.is((await start(homeD, goneRegistry)).version, '1.1.0');
  const back = await runBin(MANAGER, ['update', '--rollback', PKG], { env: inD });
  assert.is(back.code, 0, back.stderr);
  assert.match(back.stderr, /installing the pinned lok-fixture-pin@1\.0\.0 from its lockfile/);
  const after = await start(homeD, goneRegistry);
  assert.is(after.code, 0, after.stderr);
  assert.is(after.version, '1.0.0', after.stderr);
});

gone.run();
