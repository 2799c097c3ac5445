// Outbound rules for a server from an image (`mcp-lok run IMAGE`): the image has Node and no
// shell, so mcp-lok cannot run its forwarder inside it. The server joins a loopback sidecar's
// network namespace instead, where the forwarder listens for it; it never joins the engine's
// network. Both engine kinds: the egress proxy in mcp-lok (fifo) and in a sidecar (attach).
// Test traffic: only the web server this suite starts on the bridge gateway is ever connected
// to; metadata and other hosts are shown refused by the proxy, or unroutable by the route table.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { engineRequest } from '../../src/engine/http.js';
import { currentImageTag } from '../../src/app/images.js';
import { ENGINE, MANAGER, ROOT, eventually, lokContainers, requireEngine, runBin, spawnBin, tempDir } from './harness.js';
import { startEgressWorld, type EgressWorld } from './egress-world.js';

const IMAGE = 'mcp-lok-test/egress-probe:1';
interface ProbeResult { target: string; ok: boolean; status?: number; body?: string; error?: string; interfaces?: string[]; routes?: number; routes6?: number }
interface Probe { results: ProbeResult[]; shell: boolean }
interface Inspect { HostConfig: { NetworkMode: string; VolumesFrom: string[] | null; ReadonlyRootfs: boolean; CapDrop: string[] | null }; Config: { User: string; Image: string; Labels: Record<string, string> }; Mounts: Array<{ Destination: string; RW: boolean }> }

let world: EgressWorld;
let gateway = '';
let port = 0;
const images = suite('mcp-lok run IMAGE with outbound rules (a loopback sidecar, never the engine\'s network)');

images.before(async () => {
  await requireEngine();
  const built = await runBin(MANAGER, ['image', 'build']);
  assert.is(built.code, 0, built.stderr);
  execFileSync('docker', ['build', '-q', '--build-arg', `BASE=${currentImageTag()}`, '-t', IMAGE, join(ROOT, 'test/fixtures/images/egress-probe')], { stdio: ['ignore', 'ignore', 'pipe'] });
  world = await startEgressWorld(/^$/);
  ({ gateway, port } = world);
});

images.after(async () => {
  await world?.close();
  try { execFileSync('docker', ['rmi', '-f', IMAGE], { stdio: 'ignore' }); } catch { /* already gone */ }
});

function writeProfile(dir: string, outbound: unknown): string {
  const path = join(dir, 'egress.json');
  writeFileSync(path, JSON.stringify({ network: { outbound } }));
  return path;
}

/**
 * Runs `mcp-lok run` with its stdin held open (its end would stop the server after a grace
 * period, and the probe takes as long as it takes), until the server exits by itself.
 */
function runHeld(args: string[], env: Record<string, string>, onStarted: (stderr: () => string) => Promise<void> = async () => {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnBin(MANAGER, args, env);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => { stdout += c.toString(); });
  child.stderr?.on('data', (c: Buffer) => { stderr += c.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  return onStarted(() => stderr)
    .finally(async () => { await exited; clearTimeout(timer); child.stdin?.destroy(); })
    .then(async () => ({ code: await exited, stdout, stderr }));
}

/** Returns a container's inspection, or undefined once it has gone (listed, then removed). */
async function inspect(id: string): Promise<Inspect | undefined> {
  const answer = await engineRequest<Inspect>(ENGINE, 'GET', `/containers/${id}/json`);
  return answer.status === 200 ? answer.body : undefined;
}

for (const bridge of ['fifo', 'attach'] as const) {
  const where = bridge === 'fifo' ? 'the egress proxy in mcp-lok' : 'the egress proxy in a sidecar (an engine in a VM)';

  images(`reaches the allowed listener on the gateway by IP and not another port, with ${where}`, async () => {
    const home = tempDir('mcp-lok-image-egress-');
    const name = `e2e-image-egress-${bridge}-${randomBytes(3).toString('hex')}`;
    const profile = writeProfile(home, { allow_host: [gateway], allow_port: [port] });
    const result = await runHeld(['run', '--profile', profile, '--name', name, IMAGE, '--',
      `get:http://${gateway}:${port}/`, `get:http://${gateway}:${port + 1}/`, `connect:${gateway}:${port + 1}`, 'net',
    ], { MCP_LOK_HOME: home, MCP_LOK_BRIDGE: bridge });
    assert.is(result.code, 0, result.stderr);
    const probe = JSON.parse(result.stdout.trim()) as Probe;
    const [allowed, otherPort, otherPortTunnel, net] = probe.results;
    assert.not.ok(probe.shell, 'the fixture image has a shell');
    assert.ok(allowed?.ok, `the allowed request failed: ${JSON.stringify(allowed)}\n${result.stderr}`);
    assert.is(allowed?.body, 'hello egress');
    assert.is(otherPort?.status, 403, JSON.stringify(otherPort));
    assert.is(otherPortTunnel?.status, 403, JSON.stringify(otherPortTunnel));
    assert.equal(net?.interfaces, ['lo'], JSON.stringify(net));
    assert.is(net?.routes, 0, JSON.stringify(net));
    assert.is(net?.routes6, 0, JSON.stringify(net));
    assert.match(result.stderr, new RegExp(`can reach ${gateway.replace(/\./g, '\\.')} on port ${port}, through mcp-lok's egress proxy`));
    assert.match(result.stderr, /egress denied: port \d+ is not in allow_port/);
    const log = readFileSync(join(home, 'data', 'state', 'egress', `${name}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { host: string; port: number; allowed: boolean; bytesIn: number });
    assert.ok(log.some((e) => e.allowed && e.host === gateway && e.port === port && e.bytesIn > 0), JSON.stringify(log));
    assert.is(log.filter((e) => !e.allowed).length, 2, JSON.stringify(log));
    await eventually(async () => (await lokContainers(`mcp-lok-name=${name}`)).length === 0, 15_000, `${name}'s containers to be removed`);
  });

  images(`gives the network profile no route and refuses metadata and the host at the proxy, with ${where}`, async () => {
    const home = tempDir('mcp-lok-image-egress-any-');
    const name = `e2e-image-any-${bridge}-${randomBytes(3).toString('hex')}`;
    let server: Inspect | undefined;
    let loopback: Inspect | undefined;
    const { code, stdout, stderr } = await runHeld(['run', '--profile', 'network', '--name', name, IMAGE, '--',
      // lok-offline: metadata and WireServer are refused by mcp-lok's egress proxy before any packet (the server has no route)
      'net', 'connect:169.254.169.254:80', 'get:http://169.254.169.254/latest/meta-data/', 'connect:168.63.129.16:80', `get:http://${gateway}:${port}/`, 'sleep:8000',
    ], { MCP_LOK_HOME: home, MCP_LOK_BRIDGE: bridge }, async (stderrSoFar) => {
      // While it sleeps: the server shares the loopback sidecar's namespace, and that has no network.
      await eventually(async () => {
        const containers = await lokContainers(`mcp-lok-name=${name}`);
        const s = containers.find((c) => c.Labels['mcp-lok-role'] === 'run');
        const l = containers.find((c) => c.Labels['mcp-lok-role'] === 'loopback');
        if (!s || !l) return false;
        [server, loopback] = [await inspect(s.Id), await inspect(l.Id)];
        return server !== undefined && loopback !== undefined;
      }, 60_000, `${name} and its loopback sidecar to run\n${stderrSoFar()}`);
    });
    assert.is(code, 0, stderr);
    assert.match(server?.HostConfig.NetworkMode ?? '', /^container:[0-9a-f]{64}$/);
    assert.is(loopback?.HostConfig.NetworkMode, 'none');
    assert.is(server?.Config.Image, IMAGE);
    assert.ok(server?.HostConfig.ReadonlyRootfs);
    assert.equal(server?.HostConfig.CapDrop, ['ALL']);
    // The server mounts nothing of the proxy's: only the sidecar reaches its socket.
    assert.not.ok(server?.Mounts.some((m) => m.Destination === '/run/mcp-lok'), JSON.stringify(server?.Mounts));
    assert.equal(server?.HostConfig.VolumesFrom ?? [], []);
    assert.is(loopback?.Config.User, server?.Config.User);
    assert.ok(loopback?.HostConfig.ReadonlyRootfs);
    const probe = JSON.parse(stdout.trim()) as Probe;
    const [net, metadata, metadataGet, wireServer, hostByIp] = probe.results;
    assert.equal(net?.interfaces, ['lo'], JSON.stringify(net));
    assert.is(net?.routes, 0, JSON.stringify(net));
    assert.is(net?.routes6, 0, JSON.stringify(net));
    assert.is(metadata?.status, 403, JSON.stringify(metadata));
    assert.is(metadataGet?.status, 403, JSON.stringify(metadataGet));
    assert.is(wireServer?.status, 403, JSON.stringify(wireServer));
    assert.is(hostByIp?.status, 403, JSON.stringify(hostByIp));
    assert.match(stderr, /any public host on any port through mcp-lok's egress proxy/);
    assert.not.match(stderr, /engine's network/);
    const log = readFileSync(join(home, 'data', 'state', 'egress', `${name}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { host: string; allowed: boolean; reason?: string });
    // lok-offline: log entries of refusals, compared as text
    assert.ok(log.some((e) => !e.allowed && e.host === '169.254.169.254' && /cloud metadata/.test(e.reason ?? '')), JSON.stringify(log));
    // lok-offline: log entries of refusals, compared as text
    assert.ok(log.some((e) => !e.allowed && e.host === '168.63.129.16' && /cloud metadata/.test(e.reason ?? '')), JSON.stringify(log));
    await eventually(async () => (await lokContainers(`mcp-lok-name=${name}`)).length === 0, 15_000, `${name}'s containers to be removed`);
  });
}

// A server that listens itself joins the ingress sidecar's namespace: the same sidecar carries
// the egress forwarder (an engine on this machine's kernel; a VM engine cannot serve these yet).
images('serves an image over HTTP behind the reverse proxy, its outbound rules through the same loopback sidecar', async () => {
  const home = tempDir('mcp-lok-image-egress-http-');
  const name = `e2e-image-egress-http-${randomBytes(3).toString('hex')}`;
  const profile = writeProfile(home, { allow_host: [gateway], allow_port: [port] });
  const child = spawnBin(MANAGER, ['run', '--transport', 'streamable-http', '--target-port', '8080', '--profile', profile, '--name', name, IMAGE, '--', 'serve'], { MCP_LOK_HOME: home });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => { stderr += c.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  try {
    await eventually(async () => /is ready at (http:\/\/\S+)/.test(stderr), 60_000, `${name} to be ready`).catch((error: Error) => { throw new Error(`${error.message}\n${stderr}`); });
    const url = new URL(/is ready at (http:\/\/\S+)/.exec(stderr)?.[1] ?? '');
    // lok-offline: metadata is refused by mcp-lok's egress proxy before any packet (the server has no route)
    const query = ['net', `get:http://${gateway}:${port}/`, `connect:${gateway}:${port + 1}`, 'connect:169.254.169.254:80'].map((t) => `t=${encodeURIComponent(t)}`).join('&');
    const response = await fetch(`${url.origin}/probe?${query}`);
    const probe = await response.json() as Probe;
    const [net, allowed, otherPort, metadata] = probe.results;
    assert.equal(net?.interfaces, ['lo'], JSON.stringify(net));
    assert.is(net?.routes, 0, JSON.stringify(net));
    assert.is(allowed?.body, 'hello egress', JSON.stringify(allowed));
    assert.is(otherPort?.status, 403, JSON.stringify(otherPort));
    assert.is(metadata?.status, 403, JSON.stringify(metadata));
    const containers = await lokContainers(`mcp-lok-name=${name}`);
    const server = containers.find((c) => c.Labels['mcp-lok-role'] === 'run');
    const ingress = containers.find((c) => c.Labels['mcp-lok-role'] === 'ingress');
    assert.ok(server && ingress, JSON.stringify(containers.map((c) => c.Labels['mcp-lok-role'])));
    assert.is((await inspect(server.Id))?.HostConfig.NetworkMode, `container:${ingress.Id}`);
    assert.is((await inspect(ingress.Id))?.HostConfig.NetworkMode, 'none');
    assert.not.ok(containers.some((c) => c.Labels['mcp-lok-role'] === 'loopback'), 'a second sidecar for egress');
  } finally {
    child.kill('SIGINT');
  }
  assert.is(await exited, 0, stderr);
  await eventually(async () => (await lokContainers(`mcp-lok-name=${name}`)).length === 0, 15_000, `${name}'s containers to be removed`);
});

images.run();
