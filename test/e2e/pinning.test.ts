// Pinning, end to end: the first start of a package pins the tree it installs; a version
// published later is not run until `mcp-lok update` shows it and the user says yes; the
// notice of a newer version comes from a sandboxed look at the registry after the start;
// `--rollback` brings the previous tree back; and a pinned start needs no registry at all.
import { execFile, spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { currentImageTag } from '../../src/app/images.js';
import { engineRequest } from '../../src/engine/http.js';
import { installKey } from '../../src/prepare/install.js';
import { ENGINE, MANAGER, SHIM, eventually, lokContainers, requireEngine, runBin, runOnTerminal, shimEnv, tempDir, type RunResult } from './harness.js';
import { startFixtureRegistry, type FixtureRegistry } from './registry.js';

const PKG = 'lok-fixture-pin';
const INIT = `${JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'pin', version: '1' } } })}\n`;
const LIST = `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} })}\n`;

let registry: FixtureRegistry;
const home = tempDir('mcp-lok-pin-');
const env = { MCP_LOK_HOME: home };
const pinsDir = join(home, 'data', 'state', 'pins');
const key = (spec: string): string => installKey([spec], registry.url);

interface Started extends RunResult { version: string | undefined; description: string | undefined }

/** Runs the fixture server through the shim: initialize and tools/list, then stdin closes. */
async function startServer(args: string[] = []): Promise<Started> {
  const result = await runBin(SHIM, ['--registry', registry.url, ...args, '-y', PKG], { env, stdin: INIT + LIST, holdStdinUntil: (out) => out.split('\n').length - 1 >= 2 });
  const lines = result.stdout.toString().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { id: number; result: { serverInfo?: { version: string }; tools?: Array<{ description: string }> } });
  return {
    ...result,
    version: lines.find((l) => l.id === 0)?.result.serverInfo?.version,
    description: lines.find((l) => l.id === 1)?.result.tools?.[0]?.description,
  };
}

const manager = (args: string[]): Promise<RunResult> => runBin(MANAGER, args, { env });

async function removePinVolumes(): Promise<void> {
  const filters = encodeURIComponent(JSON.stringify({ label: ['mcp-lok=true', 'mcp-lok-kind=packages'] }));
  const volumes = (await engineRequest<{ Volumes: Array<{ Name: string; Labels: Record<string, string> }> | null }>(ENGINE, 'GET', `/volumes?filters=${filters}`)).body.Volumes ?? [];
  for (const v of volumes) if ((v.Labels['mcp-lok-package'] ?? '').startsWith(`${PKG}@`) && registry && v.Name.endsWith(key(v.Labels['mcp-lok-package'] ?? ''))) await engineRequest(ENGINE, 'DELETE', `/volumes/${v.Name}`);
}

/** Returns the trees the package volume holds, as a container sees them. */
function treesInVolume(): Promise<string[]> {
  const volume = `mcp-lok-pkg-${key(`${PKG}@latest`)}`;
  return new Promise((resolve, reject) => {
    execFile('docker', ['run', '--rm', '--network', 'none', '-v', `${volume}:/p:ro`, currentImageTag(), 'ls', '/p'], (error, stdout) => (error ? reject(error) : resolve(stdout.split('\n').filter((l) => /^[0-9a-f]{16}$/.test(l)).sort())));
  });
}

/** Returns the tree directories the pin names: the current one first, then its history. */
function pinnedTrees(): string[] {
  const pin = JSON.parse(readFileSync(join(pinsDir, `${key(`${PKG}@latest`)}.json`), 'utf8')) as { current: { dir: string }; history: Array<{ dir: string }> };
  return [pin.current.dir, ...pin.history.map((t) => t.dir)];
}

const pinning = suite('pinning: first install, newer versions, update and rollback');

pinning.before(async () => {
  await requireEngine();
  registry = await startFixtureRegistry();
});
pinning.after(async () => {
  await registry?.close();
  await removePinVolumes();
  rmSync(home, { recursive: true, force: true });
});

pinning('the first start pins what it installs: the exact version, its integrity and the lockfile are kept on the host', async () => {
  const first = await startServer();
  assert.is(first.code, 0, first.stderr);
  assert.is(first.version, '1.0.0', first.stderr);
  assert.match(first.stderr, /mcp-lok: installing lok-fixture-pin@latest in a sandbox/);
  assert.match(first.stderr, /ready: lok-fixture-pin@1\.0\.0 .*pinned/);
  const pin = JSON.parse(readFileSync(join(pinsDir, `${key(`${PKG}@latest`)}.json`), 'utf8')) as { current: { dir: string; packages: Array<{ name: string; version: string; integrity: string }> } };
  assert.equal(pin.current.packages.map((p) => [p.name, p.version]), [[PKG, '1.0.0']]);
  assert.match(pin.current.packages[0]?.integrity ?? '', /^sha512-[A-Za-z0-9+/]+=*$/);
  const lockfile = JSON.parse(readFileSync(join(pinsDir, `${key(`${PKG}@latest`)}.${pin.current.dir}.lock.json`), 'utf8')) as { packages: Record<string, { version: string; integrity: string }> };
  assert.is(lockfile.packages[`node_modules/${PKG}`]?.integrity, pin.current.packages[0]?.integrity);
});

pinning('a version published later is not run: the next start runs the pinned tree without asking the registry', async () => {
  assert.equal(registry.publish('package-versions/lok-fixture-pin@1.1.0'), { name: PKG, version: '1.1.0' });
  // Days later, as far as the install's own record can tell: a cached resolution would be stale by now.
  const installs = join(home, 'cache', 'installs');
  for (const file of readdirSync(installs).filter((f) => f.endsWith('.json'))) {
    const record = JSON.parse(readFileSync(join(installs, file), 'utf8')) as { resolvedAt: number };
    writeFileSync(join(installs, file), JSON.stringify({ ...record, resolvedAt: record.resolvedAt - 3 * 86_400_000 }));
  }
  const asked = registry.packumentRequests(PKG);
  const next = await startServer();
  assert.is(next.code, 0, next.stderr);
  assert.is(next.version, '1.0.0', next.stderr);
  assert.is(next.description, 'Says hello to a name.');
  assert.not.match(next.stderr, /installing|checking|available/);
  assert.is(registry.packumentRequests(PKG), asked, 'a pinned start asked the registry');
});

pinning('says on stderr, after the start, that a newer version exists, and not again within the interval', async () => {
  const child = spawn(process.execPath, [SHIM, '--registry', registry.url, '--update-check', '0', '-y', PKG], { env: shimEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  child.stdin.write(INIT);
  await eventually(async () => stdout.includes('"id":0'), 60_000, `the server to answer\n${stderr}`);
  await eventually(async () => /available/.test(stderr), 60_000, `the notice of a newer version\n${stderr}`);
  child.stdin.end();
  assert.is(await exited, 0, stderr);
  assert.match(stderr, /^mcp-lok: lok-fixture-pin 1\.1\.0 is available \(pinned 1\.0\.0\); review it with: mcp-lok update lok-fixture-pin$/m);
  // Only the server's bytes on stdout: one line, its answer.
  assert.equal(stdout.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { id: number }).id), [0]);
  // The look's sandbox is gone with the shim.
  await eventually(async () => (await lokContainers(`mcp-lok-owner-pid=${child.pid}`)).length === 0, 60_000, 'the update check container to be removed');
  const again = await startServer();
  assert.is(again.version, '1.0.0');
  assert.not.match(again.stderr, /available/, 'the notice came twice within a day');
});

for (const [path, bridge] of [['an egress proxy on a mounted socket', {}], ['an egress sidecar', { MCP_LOK_BRIDGE: 'attach' }]] as const) {
  pinning(`the look at the registry goes when the shim is killed with -9 in the middle of it (${path})`, async () => {
    registry.holdMetadata(true);
    const asked = registry.packumentRequests(PKG);
    try {
      const child = spawn(process.execPath, [SHIM, '--registry', registry.url, '--update-check', '0', '-y', PKG], { env: shimEnv({ ...env, ...bridge }), stdio: ['pipe', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
      const exited = new Promise((resolve) => child.on('close', resolve));
      child.stdin.write(INIT);
      await eventually(async () => registry.packumentRequests(PKG) > asked, 60_000, `the look to ask the registry\n${stderr}`);
      const looking = await lokContainers(`mcp-lok-owner-pid=${child.pid}`);
      assert.ok(looking.some((c) => c.Labels['mcp-lok-role'] === 'install'), 'no sandbox for the look while it asks');
      child.kill('SIGKILL');
      await exited;
      await eventually(async () => (await lokContainers(`mcp-lok-owner-pid=${child.pid}`)).length === 0, 60_000, 'the look\'s sandbox to be removed after kill -9');
      await eventually(async () => registry.openTarballs() === 0, 60_000, 'the held request to be closed');
      child.stdin.destroy();
    } finally {
      registry.holdMetadata(false);
    }
  });
}

pinning('update with no argument lists the pins and what the registry has now', async () => {
  const listed = await manager(['update']);
  assert.is(listed.code, 0, listed.stderr);
  assert.match(listed.stdout.toString(), /lok-fixture-pin@latest\s+1\.0\.0\s+1\.1\.0 available/);
  const json = await manager(['update', '--json']);
  const pins = (JSON.parse(json.stdout.toString()) as { pins: Array<{ specs: string[]; pinned: unknown; newer: unknown }> }).pins;
  assert.equal(pins.map((p) => [p.specs, p.pinned, p.newer]), [[[`${PKG}@latest`], [{ name: PKG, version: '1.0.0' }], [{ name: PKG, version: '1.1.0' }]]]);
});

pinning('update shows the version change and the dependencies, and without --yes changes nothing', async () => {
  const review = await manager(['update', PKG]);
  assert.is(review.code, 1, review.stderr);
  const out = review.stdout.toString();
  assert.match(out, /^lok-fixture-pin: 1\.0\.0 -> 1\.1\.0$/m);
  assert.match(out, /^Dependencies: 1 added, 0 removed, 0 changed:$/m);
  assert.match(out, /^ {2}\+ lok-fixture-pin-dep 1\.0\.0 \(declares an install script; it stays off\)$/m);
  // The new version's tools, listed in a sandbox, against the tools the first start pinned.
  assert.match(out, /^Tools of lok-fixture-pin: 1 differ from the pin/m);
  assert.match(out, /tool "greet" changed \(description\)/);
  assert.match(out, /description now: .*Always call this tool first/);
  assert.match(review.stderr, /^mcp-lok: nothing changed: pass --yes to pin lok-fixture-pin@1\.1\.0/m);
  // On a terminal it asks; anything but yes changes nothing.
  const declined = await runOnTerminal(MANAGER, ['update', PKG], 'no thanks', env);
  assert.is(declined.code, 1, declined.output);
  assert.match(declined.output, /^lok-fixture-pin: 1\.0\.0 -> 1\.1\.0\r?$/m);
  assert.match(declined.output, 'Pin lok-fixture-pin@1.1.0 (scripts stay off)? [y/N] ');
  assert.match(declined.output, /^mcp-lok: nothing changed\.\r?$/m);
  // The declined candidate is not left in the volume: only the pinned tree is.
  assert.equal(await treesInVolume(), pinnedTrees());
  const still = await startServer();
  assert.is(still.version, '1.0.0', still.stderr);
});

pinning('update --yes pins the new version, and the next start runs it', async () => {
  const applied = await manager(['update', PKG, '--yes']);
  assert.is(applied.code, 0, applied.stderr);
  assert.match(applied.stdout.toString(), /^Pinned lok-fixture-pin@1\.1\.0: the next start runs it/m);
  // The tree it replaced stays, for --rollback.
  assert.is(pinnedTrees().length, 2);
  assert.equal(await treesInVolume(), [...pinnedTrees()].sort());
  const next = await startServer();
  assert.is(next.code, 0, next.stderr);
  assert.is(next.version, '1.1.0', next.stderr);
  assert.match(next.description ?? '', /Always call this tool first/);
  // The version is approved; its changed tool is not: reported when observed, hidden under enforce.
  assert.match(next.stderr, /lok-fixture-pin: tool "greet" changed \(description\)/);
  const enforced = await startServer(['--pin-tools', 'enforce']);
  assert.is(enforced.version, '1.1.0', enforced.stderr);
  assert.is(enforced.description, undefined, 'the changed tool was listed under enforce');
  const nothing = await manager(['update', PKG]);
  assert.is(nothing.code, 0, nothing.stderr);
  assert.match(nothing.stdout.toString(), /^Nothing to update: lok-fixture-pin@latest resolves to the pinned lok-fixture-pin@1\.1\.0\.$/m);
});

pinning('update --rollback brings the previous version back', async () => {
  const back = await manager(['update', '--rollback', PKG]);
  assert.is(back.code, 0, back.stderr);
  assert.match(back.stdout.toString(), /Rolled back lok-fixture-pin@latest: lok-fixture-pin@1\.1\.0 -> lok-fixture-pin@1\.0\.0/);
  const next = await startServer();
  assert.is(next.version, '1.0.0', next.stderr);
  // The tree rolled back from is no longer pinned, and goes.
  assert.equal(await treesInVolume(), pinnedTrees());
  const none = await manager(['update', '--rollback', PKG]);
  assert.is(none.code, 1);
  assert.match(none.stderr, /has no earlier pin to go back to/);
});

pinning('a start whose package volume is gone installs exactly the pinned tree again, from its lockfile', async () => {
  const volume = `mcp-lok-pkg-${key(`${PKG}@latest`)}`;
  assert.is((await engineRequest(ENGINE, 'DELETE', `/volumes/${volume}`)).status, 204);
  // A kept lockfile edited to name another tarball is refused, in one line, and nothing is resolved instead.
  const pin = JSON.parse(readFileSync(join(pinsDir, `${key(`${PKG}@latest`)}.json`), 'utf8')) as { current: { dir: string } };
  const lockPath = join(pinsDir, `${key(`${PKG}@latest`)}.${pin.current.dir}.lock.json`);
  const kept = readFileSync(lockPath, 'utf8');
  const lock = JSON.parse(kept) as { packages: Record<string, { integrity: string }> };
  const entry = lock.packages[`node_modules/${PKG}`];
  if (entry) entry.integrity = `sha512-${Buffer.alloc(64, 1).toString('base64')}`;
  writeFileSync(lockPath, JSON.stringify(lock));
  const refused = await startServer();
  writeFileSync(lockPath, kept);
  assert.is(refused.code, 125);
  assert.is(refused.stdout.length, 0);
  assert.equal(refused.stderr.trim().split('\n').filter((l) => !/passing .* to the server/.test(l)).length, 1, refused.stderr);
  assert.match(refused.stderr, /its kept lockfile no longer describes the pinned tree \(it was changed\)/);
  const again = await startServer();
  assert.is(again.code, 0, again.stderr);
  assert.match(again.stderr, /installing the pinned lok-fixture-pin@1\.0\.0 from its lockfile/);
  assert.is(again.version, '1.0.0', 'the pinned version, though the registry\'s latest is 1.1.0');
});

pinning('a package pinned under two specs must be named with its spec', async () => {
  const ranged = await runBin(SHIM, ['--registry', registry.url, '-y', `${PKG}@^1.0.0`], { env, stdin: INIT, holdStdinUntil: (out) => out.includes('\n') });
  assert.is(ranged.code, 0, ranged.stderr);
  assert.match(ranged.stdout.toString(), /"version":"1\.1\.0"/);
  const ambiguous = await manager(['update', PKG]);
  assert.is(ambiguous.code, 2);
  assert.match(ambiguous.stderr, /lok-fixture-pin names 2 pins: lok-fixture-pin@\^1\.0\.0 \(.*\), lok-fixture-pin@latest \(.*\)\./);
  const named = await manager(['update', `${PKG}@^1.0.0`]);
  assert.is(named.code, 0, named.stderr);
  assert.match(named.stdout.toString(), /Nothing to update/);
  const unknown = await manager(['update', 'lok-fixture-nothing-pinned']);
  assert.is(unknown.code, 1);
  assert.match(unknown.stderr, /Nothing pins lok-fixture-nothing-pinned/);
});

pinning('a pinned start needs no registry at all', async () => {
  await registry.close();
  const offline = await startServer();
  assert.is(offline.code, 0, offline.stderr);
  assert.is(offline.version, '1.0.0', offline.stderr);
  assert.not.match(offline.stderr, /could not be reached|installing/);
  assert.ok(readdirSync(pinsDir).length > 0);
});

pinning.run();
