import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, utimesSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { engineRequest } from '../../src/engine/http.js';
import { afterLines, ENGINE, LOK_HOME, lokContainers, tempDir, requireEngine, runBin, SHIM, spawnBin, eventually } from './harness.js';
import { startFixtureRegistry, type FixtureRegistry } from './registry.js';

const INIT = `${JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })}\n`;
const uniqueName = (prefix: string): string => `${prefix}-${randomBytes(3).toString('hex')}`;
const gone = async (name: string): Promise<boolean> => (await lokContainers(`mcp-lok-name=${name}`)).length === 0;

let registry: FixtureRegistry;

/** Fixture registries listen on a new port each run, so each run's package volumes are new: drop them. */
async function removeFixtureVolumes(): Promise<void> {
  const filters = encodeURIComponent(JSON.stringify({ label: ['mcp-lok=true', 'mcp-lok-kind=packages'] }));
  const volumes = (await engineRequest<{ Volumes: Array<{ Name: string; Labels: Record<string, string> }> | null }>(ENGINE, 'GET', `/volumes?filters=${filters}`)).body.Volumes ?? [];
  for (const v of volumes) {
    if ((v.Labels['mcp-lok-package'] ?? '').startsWith('lok-fixture-')) await engineRequest(ENGINE, 'DELETE', `/volumes/${v.Name}`);
  }
}
const fixtures = suite('mcp-lok-npx with fixture servers from a test registry');

fixtures.before(async () => {
  await requireEngine();
  registry = await startFixtureRegistry();
});
fixtures.after(async () => {
  await registry?.close();
  await removeFixtureVolumes();
});

fixtures('passes stdout bytes, stderr and the exit code through unchanged, with only the named environment', async () => {
  // NOT_GIVEN is added as a client's config would add it: --client-env off passes only -e.
  const result = await runBin(SHIM, ['--client-env', 'off', '--registry', registry.url, '-e', 'GIVEN=yes', '-y', 'lok-fixture-exit', '3'], { env: { NOT_GIVEN: 'secret' } });
  assert.is(result.code, 3, result.stderr);
  assert.ok(result.stdout.equals(Buffer.from([0xff, 0xfe, 0x00, 0x0a])), `stdout was ${result.stdout.toString('hex')}`);
  const envLine = /env: (.*)/.exec(result.stderr)?.[1] ?? '';
  assert.equal(envLine.split(',').sort(), ['GIVEN', 'HOME', 'HOSTNAME', 'NODE_OPTIONS', 'NO_UPDATE_NOTIFIER', 'PATH', 'TMPDIR', 'npm_config_audit', 'npm_config_fund', 'npm_config_update_notifier'].sort());
});

fixtures('installs once when two shims start the same new package at once', async () => {
  const home = tempDir('mcp-lok-race-');
  const [a, b] = await Promise.all([0, 1].map(() => runBin(SHIM, ['--registry', registry.url, '-y', 'lok-fixture-exit', '0'], { env: { MCP_LOK_HOME: home } })));
  assert.is(a?.code, 0, a?.stderr);
  assert.is(b?.code, 0, b?.stderr);
  const installs = [a, b].filter((r) => /mcp-lok: installing lok-fixture-exit/.test(r?.stderr ?? '')).length;
  const waits = [a, b].filter((r) => /waiting for another mcp-lok/.test(r?.stderr ?? '')).length;
  assert.is(installs, 1, `${a?.stderr}\n---\n${b?.stderr}`);
  assert.is(waits, 1);
});

fixtures('removes a server that ignores EOF and SIGTERM after kill -9, while the client holds stdin open', async () => {
  const name = uniqueName('e2e-stubborn-kill');
  const child = spawnBin(SHIM, ['--registry', registry.url, '--name', name, '-y', 'lok-fixture-stubborn']);
  let out = '';
  child.stdout?.on('data', (c: Buffer) => { out += c.toString(); });
  child.stdin?.write(INIT);
  await eventually(async () => out.includes('"id":0'), 60_000, 'the server to answer');
  child.kill('SIGKILL');
  await eventually(() => gone(name), 10_000, `${name} to be removed after kill -9`);
  child.stdin?.destroy();
});

fixtures('stops a server that ignores stdin EOF after the grace period, and kills it when it ignores SIGTERM', async () => {
  const name = uniqueName('e2e-stubborn-eof');
  const result = await runBin(SHIM, ['--registry', registry.url, '--name', name, '-y', 'lok-fixture-stubborn'], { stdin: INIT, timeoutMs: 120_000, holdStdinUntil: afterLines(1) });
  assert.match(result.stdout.toString(), /"id":0/);
  assert.match(result.stderr, /ignoring EOF/);
  assert.is(result.code, 137, `exit code ${result.code}: ${result.stderr}`);
  assert.ok(await gone(name));
});

fixtures('removes, at the next start, a container and pipes whose owner died without cleaning up', async () => {
  const images = await engineRequest<Array<{ RepoTags: string[] | null }>>(ENGINE, 'GET', `/images/json?filters=${encodeURIComponent(JSON.stringify({ reference: ['mcp-lok/sandbox'] }))}`);
  const image = images.body[0]?.RepoTags?.[0];
  assert.ok(image, 'the sandbox image is missing');
  const dead = spawn('true');
  await new Promise((resolve) => dead.on('exit', resolve));
  const name = uniqueName('e2e-orphan');
  const created = await engineRequest<{ Id: string }>(ENGINE, 'POST', `/containers/create?name=${name}`, {
    Image: image, Cmd: ['sleep', '600'], User: '1000:1000',
    Labels: { 'mcp-lok': 'true', 'mcp-lok-name': name, 'mcp-lok-owner-pid': String(dead.pid), 'mcp-lok-owner-start': 'x:1', 'mcp-lok-owner-host': hostname() },
    HostConfig: { NetworkMode: 'none' },
  });
  await engineRequest(ENGINE, 'POST', `/containers/${created.body.Id}/start`);
  const staleDir = join(LOK_HOME, 'data', 'state', 'run', `${name}.0badc0de`);
  mkdirSync(staleDir, { recursive: true });
  utimesSync(staleDir, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
  const result = await runBin(SHIM, ['--registry', registry.url, '-y', 'lok-fixture-exit', '0']);
  assert.is(result.code, 0, result.stderr);
  await eventually(() => gone(name), 10_000, `the orphan ${name} to be removed`);
  assert.not.ok(existsSync(staleDir), 'the stale pipe directory was left');
});

fixtures.run();

const refresh = suite('mcp-lok-npx cached resolutions');

refresh.before(requireEngine);

refresh('uses a cached tag at once, re-resolves it when stale, and still runs it when the registry is gone', async () => {
  const own = await startFixtureRegistry();
  const home = tempDir('mcp-lok-refresh-');
  const env = { MCP_LOK_HOME: home };
  const args = ['--registry', own.url, '-y', 'lok-fixture-exit', '0'];
  const first = await runBin(SHIM, args, { env });
  assert.is(first.code, 0, first.stderr);
  assert.match(first.stderr, /mcp-lok: installing lok-fixture-exit@latest/);
  const cached = await runBin(SHIM, args, { env });
  assert.is(cached.code, 0, cached.stderr);
  assert.not.match(cached.stderr, /installing|checking/);
  const stale = await runBin(SHIM, ['--refresh-after', '0', ...args], { env });
  assert.is(stale.code, 0, stale.stderr);
  assert.match(stale.stderr, /checking for a newer lok-fixture-exit@latest/);
  await own.close();
  const offline = await runBin(SHIM, ['--refresh-after', '0', ...args], { env });
  assert.is(offline.code, 0, offline.stderr);
  // npm answers from its own cached metadata when it can; otherwise mcp-lok runs its cached tree.
  assert.match(offline.stderr, /ready: lok-fixture-exit@1\.0\.0|using the cached lok-fixture-exit@1\.0\.0/);
});

refresh('never asks the registry again for an installed exact version', async () => {
  const own = await startFixtureRegistry();
  const home = tempDir('mcp-lok-exact-');
  const args = ['--registry', own.url, '--refresh-after', '0', '-y', 'lok-fixture-exit@1.0.0', '0'];
  assert.is((await runBin(SHIM, args, { env: { MCP_LOK_HOME: home } })).code, 0);
  await own.close();
  const again = await runBin(SHIM, args, { env: { MCP_LOK_HOME: home } });
  assert.is(again.code, 0, again.stderr);
  assert.not.match(again.stderr, /installing|checking|could not be reached/);
});

refresh.after(removeFixtureVolumes);

refresh.run();
