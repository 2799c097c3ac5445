// The outbound allowlist on the path for engines in a VM or across TCP (MCP_LOK_BRIDGE=attach
// forces it here): mcp-lok's egress proxy runs in a sidecar container, the only one with a
// network, and the server reaches it through a socket in the sidecar's volume, read-only.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { engineRequest } from '../../src/engine/http.js';
import { ENGINE, MANAGER, SHIM, afterLines, eventually, lokContainers, requireEngine, runBin, spawnBin, tempDir } from './harness.js';
import { startEgressWorld, type EgressWorld } from './egress-world.js';
import type { FixtureRegistry } from './registry.js';

interface FetchResult { target: string; ok: boolean; status?: number; body?: string; error?: string }
interface Inspect {
  Id: string;
  Config: { User: string; Labels: Record<string, string> };
  HostConfig: {
    NetworkMode: string; VolumesFrom: string[] | null; ReadonlyRootfs: boolean; CapDrop: string[] | null;
    Memory: number; PidsLimit: number; AutoRemove: boolean; SecurityOpt: string[] | null;
  };
  Mounts: Array<{ Type: string; Name?: string; Destination: string; RW: boolean }>;
}

const ATTACH = { MCP_LOK_BRIDGE: 'attach' };
let world: EgressWorld;
let registry: FixtureRegistry;
let gateway = '';
let port = 0;
const sidecar = suite('mcp-lok-npx outbound allowlist through the egress sidecar (an engine in a VM or over TCP)');

async function inspect(id: string): Promise<Inspect | undefined> {
  const res = await engineRequest<Inspect>(ENGINE, 'GET', `/containers/${id}/json`);
  return res.status === 200 ? res.body : undefined;
}

async function volumeExists(name: string): Promise<boolean> {
  return (await engineRequest(ENGINE, 'GET', `/volumes/${name}`)).status === 200;
}

/** Returns the server's container and its egress sidecar, once both run. */
async function serverAndSidecar(name: string): Promise<{ server: Inspect; egress: Inspect }> {
  let found: { server: Inspect; egress: Inspect } | undefined;
  await eventually(async () => {
    const containers = await lokContainers(`mcp-lok-name=${name}`);
    const server = containers.find((c) => c.Labels['mcp-lok-role'] === 'run' && c.State === 'running');
    const egress = containers.find((c) => c.Labels['mcp-lok-role'] === 'egress');
    if (!server || !egress) return false;
    const [s, e] = await Promise.all([inspect(server.Id), inspect(egress.Id)]);
    if (s && e) found = { server: s, egress: e };
    return found !== undefined;
  }, 60_000, `${name} and its egress sidecar to run`);
  if (!found) throw new Error('unreachable');
  return found;
}

function writeProfile(dir: string, outbound: unknown): string {
  const path = join(dir, 'egress.json');
  writeFileSync(path, JSON.stringify({ network: { outbound } }));
  return path;
}

sidecar.before(async () => {
  await requireEngine();
  world = await startEgressWorld(/^lok-fixture-(fetch|stubborn)@/);
  ({ registry, gateway, port } = world);
});

sidecar.after(async () => { await world?.close(); });

sidecar('reaches exactly the allowed host and port, logs each attempt, and installs through the sidecar too', async () => {
  const home = tempDir('mcp-lok-egress-sidecar-');
  // The gateway is a private address: allowed only because the profile names that IP.
  const profile = writeProfile(home, { allow_host: [gateway, 'localhost'], allow_port: [port] });
  const name = `e2e-egress-sidecar-${randomBytes(3).toString('hex')}`;
  const result = await runBin(SHIM, [
    '--registry', registry.url, '--profile', profile, '--name', name, '-y', 'lok-fixture-fetch',
    `get:http://${gateway}:${port}/`,
    `connect:${gateway}:${port + 1}`,
    'connect:not-listed.mcp-lok.test:443', // lok-offline: refused by the egress proxy before it resolves anything
    `connect:localhost:${port}`,
    `direct:${gateway}:${port}`,
  ], { env: { ...ATTACH, MCP_LOK_HOME: home }, holdStdinUntil: afterLines(1) });
  assert.is(result.code, 0, result.stderr);
  const { results } = JSON.parse(result.stdout.toString().trim()) as { results: FetchResult[] };
  const [allowed, otherPort, otherHost, privateByName, direct] = results;
  assert.ok(allowed?.ok, `allowed request failed: ${JSON.stringify(allowed)}\n${result.stderr}`);
  assert.is(allowed?.body, 'hello egress');
  assert.is(otherPort?.status, 403, JSON.stringify(otherPort));
  assert.is(otherHost?.status, 403, JSON.stringify(otherHost));
  assert.is(privateByName?.status, 403, JSON.stringify(privateByName));
  assert.not.ok(direct?.ok, 'a direct connection got out');
  assert.match(result.stderr, /egress denied: .*add \d+ to network\.outbound\.allow_port/);
  assert.match(result.stderr, /egress denied: .*not-listed\.mcp-lok\.test/);
  assert.match(result.stderr, /egress denied: .*localhost resolved to 127\.0\.0\.1/);

  const shown = await runBin(MANAGER, ['logs', name, '--egress', '--json'], { env: { MCP_LOK_HOME: home } });
  assert.is(shown.code, 0, shown.stderr);
  const log = shown.stdout.toString().trim().split('\n').map((l) => JSON.parse(l) as { host: string; port: number; allowed: boolean; bytesIn: number; address: string | null });
  assert.ok(log.some((e) => e.allowed && e.host === gateway && e.bytesIn > 0 && e.address === gateway), JSON.stringify(log));
  assert.is(log.filter((e) => !e.allowed).length, 3, JSON.stringify(log));

  // A fresh home installs again: only the registry, through a sidecar of its own.
  assert.match(result.stderr, /installing lok-fixture-fetch/);
  const installLogs = readdirSync(join(home, 'data', 'state', 'egress')).filter((f) => f.startsWith('mcp-lok-install-'));
  assert.is(installLogs.length, 1, installLogs.join(', '));
  const installed = readFileSync(join(home, 'data', 'state', 'egress', installLogs[0] ?? ''), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { allowed: boolean; port: number });
  assert.ok(installed.length > 0 && installed.every((e) => e.allowed && e.port === Number(new URL(registry.url).port)), JSON.stringify(installed));

  // The server and its sidecar are gone once the shim has exited.
  assert.equal(await lokContainers(`mcp-lok-name=${name}`), []);
});

sidecar('keeps insecure_allow_all (the built-in network profile) off this machine, private networks and metadata', async () => {
  const home = tempDir('mcp-lok-egress-sidecar-any-');
  const result = await runBin(SHIM, [
    '--registry', registry.url, '--profile', 'network', '-y', 'lok-fixture-fetch',
    `get:http://${gateway}:${port}/`,
    'connect:169.254.169.254:80', // lok-offline: refused by mcp-lok's egress proxy before any packet
    `connect:localhost:${port}`,
    `direct:${gateway}:${port}`,
    'route:169.254.169.254', // lok-offline: a route-table lookup inside the sandbox, no packet
  ], { env: { ...ATTACH, MCP_LOK_HOME: home }, holdStdinUntil: afterLines(1) });
  assert.is(result.code, 0, result.stderr);
  const { results } = JSON.parse(result.stdout.toString().trim()) as { results: FetchResult[] };
  const [hostByIp, metadata, hostByName, direct, directMetadata] = results;
  assert.is(hostByIp?.status, 403, JSON.stringify(hostByIp));
  assert.is(metadata?.status, 403, JSON.stringify(metadata));
  assert.is(hostByName?.status, 403, JSON.stringify(hostByName));
  assert.not.ok(direct?.ok, 'a direct connection to the host got out');
  assert.not.ok(directMetadata?.ok, `the server has a route to the metadata address: ${JSON.stringify(directMetadata)}`);
  assert.is(directMetadata?.error, 'no route', JSON.stringify(directMetadata));
  assert.match(result.stderr, /any public host on any port through mcp-lok's egress proxy/);
  assert.not.match(result.stderr, /engine's network/);
});

/** Starts a long-running server (it ignores EOF and SIGTERM) with an allowlist, on the attach path. */
async function startStubborn(home: string, name: string): Promise<{ child: ReturnType<typeof spawnBin>; server: Inspect; egress: Inspect }> {
  const profile = writeProfile(home, { allow_host: [gateway], allow_port: [port] });
  const child = spawnBin(SHIM, ['--registry', registry.url, '--profile', profile, '--name', name, '-y', 'lok-fixture-stubborn'], { ...ATTACH, MCP_LOK_HOME: home });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => { stderr += c.toString(); });
  try {
    return { child, ...(await serverAndSidecar(name)) };
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${stderr}`);
  }
}

sidecar('gives the server no network (no route to the host) and the sidecar the same hardening, and removes both with the volume', async () => {
  const home = tempDir('mcp-lok-egress-sidecar-shape-');
  const name = `e2e-egress-shape-${randomBytes(3).toString('hex')}`;
  const { child, server, egress } = await startStubborn(home, name);
  try {
    assert.is(server.HostConfig.NetworkMode, 'none');
    assert.equal(server.HostConfig.VolumesFrom, [`${egress.Id}:ro`]);
    const shared = server.Mounts.find((m) => m.Destination === '/run/mcp-lok');
    assert.ok(shared && shared.Type === 'volume' && !shared.RW, JSON.stringify(server.Mounts));
    // Inside the server: no interface but loopback, no route, and the host's port unreachable.
    const probe = execFileSync('docker', ['exec', server.Id, 'node', '-e', `
      const net = require('node:net');
      const routes = require('node:fs').readFileSync('/proc/net/route', 'utf8').trim().split('\\n').length - 1;
      const ifaces = Object.keys(require('node:os').networkInterfaces());
      const s = net.connect({ host: ${JSON.stringify(gateway)}, port: ${port}, timeout: 3000 });
      const done = (what) => { console.log(JSON.stringify({ routes, ifaces, connect: what })); process.exit(0); };
      s.on('connect', () => done('connected')); s.on('error', (e) => done(e.code)); s.on('timeout', () => done('timeout'));
    `], { encoding: 'utf8', timeout: 15_000 });
    const seen = JSON.parse(probe.trim()) as { routes: number; ifaces: string[]; connect: string };
    assert.is(seen.routes, 0, probe);
    assert.equal(seen.ifaces, ['lo'], probe);
    assert.is.not(seen.connect, 'connected', probe);

    // The sidecar: the only network, as little else as possible.
    assert.is(egress.HostConfig.NetworkMode, 'bridge');
    assert.is(egress.Config.User, '1000:1000');
    assert.is(egress.HostConfig.ReadonlyRootfs, true);
    assert.equal(egress.HostConfig.CapDrop, ['ALL']);
    assert.ok(egress.HostConfig.SecurityOpt?.includes('no-new-privileges:true'));
    assert.is(egress.HostConfig.Memory, 64 * 1024 * 1024);
    assert.is(egress.HostConfig.PidsLimit, 32);
    assert.is(egress.HostConfig.AutoRemove, true);
    assert.is(egress.Config.Labels['mcp-lok-role'], 'egress');
    assert.is(egress.Config.Labels['mcp-lok-owner-pid'], server.Config.Labels['mcp-lok-owner-pid']);
    const volume = egress.Mounts.find((m) => m.Destination === '/run/mcp-lok')?.Name ?? '';
    assert.ok(volume && await volumeExists(volume), JSON.stringify(egress.Mounts));
    const listed = JSON.parse((await runBin(MANAGER, ['list', '--json'], { env: { MCP_LOK_HOME: home } })).stdout.toString()) as Array<{ name: string }>;
    assert.is(listed.filter((s) => s.name === name).length, 1, 'the sidecar is listed as a server of its own');

    // The client goes away: the server is stopped (it ignores EOF and SIGTERM), then the sidecar.
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.stdin?.end();
    await exited;
    assert.equal(await lokContainers(`mcp-lok-name=${name}`), []);
    assert.not.ok(await volumeExists(volume), `the sidecar's volume ${volume} is left behind`);
  } finally {
    child.kill('SIGKILL');
  }
});

sidecar('removes the server, its sidecar and the volume after kill -9 of the shim', async () => {
  const home = tempDir('mcp-lok-egress-sidecar-kill-');
  const name = `e2e-egress-kill-${randomBytes(3).toString('hex')}`;
  const { child, egress } = await startStubborn(home, name);
  const volume = egress.Mounts.find((m) => m.Destination === '/run/mcp-lok')?.Name ?? '';
  assert.ok(volume);
  child.kill('SIGKILL');
  await eventually(async () => (await lokContainers(`mcp-lok-name=${name}`)).length === 0, 15_000, `${name} and its sidecar to be removed after kill -9`);
  await eventually(async () => !(await volumeExists(volume)), 10_000, `the sidecar's volume ${volume} to be removed`);
  child.stdin?.destroy();
});

sidecar.run();
