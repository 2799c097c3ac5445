// With an npm proxy of the user's own (npm's `proxy`), the install container still has no
// network: mcp-lok's egress proxy reaches the registry through that proxy with CONNECT. The
// "corporate proxy" here is a CONNECT proxy this suite starts on the bridge gateway, which
// tunnels only to the fixture registry (also on the gateway); nothing else is ever reached.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { engineRequest } from '../../src/engine/http.js';
import { installKey } from '../../src/prepare/install.js';
import { ENGINE, SHIM, lokContainers, requireEngine, runBin, tempDir } from './harness.js';
import { startEgressWorld, type EgressWorld } from './egress-world.js';

let world: EgressWorld;
let proxy: Server;
let proxyPort = 0;
const seen: string[] = [];
const sockets = new Set<Socket>();
const upstream = suite('installs through the user\'s own npm proxy, chained by mcp-lok\'s egress proxy');

upstream.before(async () => {
  await requireEngine();
  world = await startEgressWorld(/^lok-fixture-exit@/);
  const registry = new URL(world.registry.url);
  proxy = createServer((client) => {
    sockets.add(client);
    client.on('error', () => {});
    client.on('close', () => sockets.delete(client));
    client.once('data', (chunk: Buffer) => {
      const head = chunk.toString('latin1');
      const line = head.split('\r\n')[0] ?? '';
      const auth = /\r\nProxy-Authorization: ([^\r\n]+)/i.exec(head)?.[1] ?? '';
      seen.push(`${line} | ${auth}`);
      // Only the registry: a proxy that tunnelled anywhere would make this suite reach out.
      if (line !== `CONNECT ${registry.host} HTTP/1.1`) { client.end('HTTP/1.1 403 Forbidden\r\n\r\n'); return; }
      const far = connect(Number(registry.port), registry.hostname, () => {
        client.write('HTTP/1.1 200 Connection established\r\n\r\n');
        const rest = chunk.subarray(chunk.indexOf('\r\n\r\n') + 4);
        if (rest.length > 0) far.write(rest);
        client.pipe(far);
        far.pipe(client);
      });
      far.on('error', () => client.destroy());
      sockets.add(far);
      far.on('close', () => sockets.delete(far));
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, world.gateway, resolve));
  proxyPort = (proxy.address() as AddressInfo).port;
});

upstream.after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => proxy?.close(resolve));
  await world?.close();
});

// First, while this registry has no install yet: a refused start must leave no volume for it.
upstream('refuses an npm proxy it cannot chain to with one line, creating nothing', async () => {
  const home = tempDir('mcp-lok-egress-upstream-bad-');
  const volume = `mcp-lok-pkg-${installKey(['lok-fixture-exit@latest'], world.registry.url)}`;
  const result = await runBin(SHIM, ['--registry', world.registry.url, '-y', 'lok-fixture-exit', '0'], {
    env: { MCP_LOK_HOME: home, npm_config_proxy: `https://${world.gateway}:${proxyPort}` },
  });
  assert.is(result.code, 125, result.stderr);
  assert.is(result.stdout.length, 0);
  assert.match(result.stderr, /^mcp-lok-npx: npm's proxy https:\/\/[^ ]+ is not an http:\/\/ proxy[^\n]+\n$/);
  assert.is((await engineRequest(ENGINE, 'GET', `/volumes/${volume}`)).status, 404, `${volume} was created`);
  assert.equal(seen, []);
});

for (const bridge of ['fifo', 'attach'] as const) {
  upstream(`installs with the install container off the network, CONNECTing through the user's proxy with its credentials (${bridge === 'fifo' ? 'proxy in mcp-lok' : 'proxy in a sidecar'})`, async () => {
    const home = tempDir('mcp-lok-egress-upstream-');
    seen.length = 0;
    const name = `e2e-upstream-${bridge}-${randomBytes(3).toString('hex')}`;
    const result = await runBin(SHIM, ['--registry', world.registry.url, '--name', name, '-y', 'lok-fixture-exit', '3'], {
      // lok-offline: corp%40user is the user name for this suite's own proxy on the gateway
      env: { MCP_LOK_HOME: home, MCP_LOK_BRIDGE: bridge, npm_config_proxy: `http://corp%40user:s3cret@${world.gateway}:${proxyPort}` },
    });
    assert.is(result.code, 3, result.stderr);
    assert.match(result.stderr, /installing lok-fixture-exit@latest in a sandbox/);
    const registryHost = new URL(world.registry.url).host;
    assert.ok(seen.length > 0, 'the user\'s proxy saw nothing: the install went around it');
    assert.ok(seen.every((s) => s === `CONNECT ${registryHost} HTTP/1.1 | Basic ${Buffer.from('corp@user:s3cret').toString('base64')}`), seen.join('\n'));
    const logs = readdirSync(join(home, 'data', 'state', 'egress')).filter((f) => f.startsWith('mcp-lok-install-'));
    assert.is(logs.length, 1, logs.join(', '));
    const entries = readFileSync(join(home, 'data', 'state', 'egress', logs[0] ?? ''), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { allowed: boolean; via?: string; address: string | null; bytesIn: number });
    assert.ok(entries.length > 0 && entries.every((e) => e.allowed && e.via === `${world.gateway}:${proxyPort}` && e.address === null), JSON.stringify(entries));
    assert.ok(entries.some((e) => e.bytesIn > 0), JSON.stringify(entries));
    assert.equal(await lokContainers(`mcp-lok-name=${name}`), []);
  });
}

upstream.run();
