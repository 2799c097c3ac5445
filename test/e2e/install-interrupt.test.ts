// A client that gives up while mcp-lok-npx is still installing: the registry answers
// metadata but never sends the tarball, so npm waits (minutes, with retries), and the shim is
// stopped by SIGTERM or killed with -9 in the middle. Nothing of the install may stay behind:
// not its container, not its egress proxy or sidecar, not the pipe directory, not the volume.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { engineRequest } from '../../src/engine/http.js';
import { installKey } from '../../src/prepare/install.js';
import { ENGINE, SHIM, eventually, lokContainers, requireEngine, spawnBin, tempDir } from './harness.js';
import { startFixtureRegistry, type FixtureRegistry } from './registry.js';

const PACKAGE = 'lok-fixture-exit';
let registry: FixtureRegistry;
const owners: number[] = [];
const interrupted = suite('mcp-lok-npx stopped in the middle of a first install');

const ownedBy = (pid: number): Promise<Array<{ Id: string; State: string; Labels: Record<string, string> }>> =>
  lokContainers(`mcp-lok-owner-pid=${pid}`);
const volumeName = (): string => `mcp-lok-pkg-${installKey([`${PACKAGE}@latest`], registry.url)}`;
const volumeExists = async (): Promise<boolean> => (await engineRequest(ENGINE, 'GET', `/volumes/${volumeName()}`)).status === 200;
const runDirEntries = (home: string): string[] => {
  try { return readdirSync(join(home, 'data', 'state', 'run')); } catch { return []; }
};

interrupted.before(async () => {
  await requireEngine();
  registry = await startFixtureRegistry({ stallTarballs: true });
});
interrupted.after(async () => {
  await registry?.close();
  // Whatever a failed test left (a test's failure must not leak into the next run).
  for (const pid of owners) for (const c of await ownedBy(pid)) await engineRequest(ENGINE, 'DELETE', `/containers/${c.Id}?force=1&v=1`);
  if (registry) await engineRequest(ENGINE, 'DELETE', `/volumes/${volumeName()}`);
});

const cases: Array<{ how: string; signal: NodeJS.Signals; env: Record<string, string>; path: string }> = [
  { how: 'SIGTERM', signal: 'SIGTERM', env: {}, path: 'egress proxy on a mounted socket' },
  { how: 'kill -9', signal: 'SIGKILL', env: {}, path: 'egress proxy on a mounted socket' },
  { how: 'SIGINT', signal: 'SIGINT', env: { MCP_LOK_BRIDGE: 'attach' }, path: 'egress sidecar' },
  { how: 'kill -9', signal: 'SIGKILL', env: { MCP_LOK_BRIDGE: 'attach' }, path: 'egress sidecar' },
];

for (const { how, signal, env, path } of cases) {
  interrupted(`${how} mid-install leaves no install container, ${path}, pipe directory or new volume`, async () => {
    const home = tempDir('mcp-lok-install-stop-');
    const before = registry.tarballRequests();
    const child = spawnBin(SHIM, ['--registry', registry.url, '-y', PACKAGE, '0'], { MCP_LOK_HOME: home, ...env });
    const pid = child.pid ?? 0;
    owners.push(pid);
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => { stderr += c.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await eventually(async () => registry.tarballRequests() > before, 120_000, `the install to ask for the tarball\n${stderr}`);
    const during = await ownedBy(pid);
    assert.ok(during.some((c) => c.Labels['mcp-lok-role'] === 'install'), 'no install container while installing');
    assert.ok(await volumeExists(), 'no package volume while installing');
    child.kill(signal);
    const code = await exited;
    if (signal !== 'SIGKILL') {
      // Removed before exiting, and the exit code says which signal (128 + its number).
      assert.is(code, signal === 'SIGTERM' ? 143 : 130, stderr);
      assert.match(stderr, new RegExp(`was stopped by ${signal}`));
      assert.equal(await ownedBy(pid), [], 'a container outlived the shim');
    }
    await eventually(async () => (await ownedBy(pid)).length === 0, 60_000, `the containers of ${pid} to be removed`);
    await eventually(async () => !(await volumeExists()), 60_000, 'the new package volume to be removed');
    await eventually(async () => runDirEntries(home).length === 0, 60_000, 'the pipe and socket directory to be removed');
    // The stalled download went through the forwarder and the proxy: it ends with them.
    await eventually(async () => registry.openTarballs() === 0, 60_000, 'the stalled download to be closed');
    child.stdin?.destroy();
  });
}

interrupted.run();
