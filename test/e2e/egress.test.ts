import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { MANAGER, SHIM, afterLines, requireEngine, runBin, shimEnv, tempDir } from './harness.js';
import { startEgressWorld, type EgressWorld } from './egress-world.js';
import type { FixtureRegistry } from './registry.js';

interface FetchResult { target: string; ok: boolean; status?: number; body?: string; error?: string }

let world: EgressWorld;
let registry: FixtureRegistry;
let gateway = '';
let port = 0;
const egress = suite('mcp-lok-npx outbound allowlist (egress proxy)');

egress.before(async () => {
  await requireEngine();
  world = await startEgressWorld(/^lok-fixture-fetch/);
  ({ registry, gateway, port } = world);
});

egress.after(async () => { await world?.close(); });

egress('reaches exactly the allowed host and port, and nothing else, logging each attempt', async () => {
  const home = tempDir('mcp-lok-egress-');
  const profile = join(home, 'egress.json');
  // The gateway is a private address: allowed only because the profile names that IP.
  writeFileSync(profile, JSON.stringify({ network: { outbound: { allow_host: [gateway, 'localhost'], allow_port: [port] } } }));
  const name = `e2e-egress-${Date.now()}`;
  const result = await runBin(SHIM, [
    '--registry', registry.url, '--profile', profile, '--name', name, '-y', 'lok-fixture-fetch',
    `get:http://${gateway}:${port}/`,
    `connect:${gateway}:${port + 1}`,
    'connect:not-listed.mcp-lok.test:443', // lok-offline: refused by the egress proxy before it resolves anything
    `connect:localhost:${port}`,
    `direct:${gateway}:${port}`,
  ], { env: { MCP_LOK_HOME: home }, holdStdinUntil: afterLines(1) });
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
  const log = readFileSync(join(home, 'data', 'state', 'egress', `${name}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { host: string; allowed: boolean; bytesIn: number; address: string | null });
  assert.ok(log.some((e) => e.allowed && e.host === gateway && e.bytesIn > 0 && e.address === gateway));
  assert.is(log.filter((e) => !e.allowed).length, 3);
  const shown = await runBin(MANAGER, ['logs', name, '--egress'], { env: { MCP_LOK_HOME: home } });
  assert.is(shown.code, 0, shown.stderr);
  assert.match(shown.stdout.toString(), /^TIME\s+HOST/m);
  assert.match(shown.stdout.toString(), /denied: port \d+ is not in allow_port/);
  // The management server's get_egress_log reads the same log.
  const transport = new StdioClientTransport({ command: process.execPath, args: [MANAGER], env: shimEnv({ MCP_LOK_HOME: home }), stderr: 'pipe' });
  const client = new Client({ name: 'e2e-egress-log', version: '1' });
  await client.connect(transport);
  try {
    const tool = await client.callTool({ name: 'get_egress_log', arguments: { name } }) as { structuredContent?: { entries: unknown[] }; isError?: boolean };
    assert.not.ok(tool.isError);
    assert.equal(tool.structuredContent?.entries, log);
  } finally {
    await client.close();
  }
});

egress('keeps insecure_allow_all (the built-in network profile) off this machine, private networks and metadata', async () => {
  const home = tempDir('mcp-lok-egress-any-');
  const result = await runBin(SHIM, [
    '--registry', registry.url, '--profile', 'network', '-y', 'lok-fixture-fetch',
    `get:http://${gateway}:${port}/`,
    'connect:169.254.169.254:80', // lok-offline: refused by mcp-lok's egress proxy before any packet
    `connect:localhost:${port}`,
    `direct:${gateway}:${port}`,
    'route:169.254.169.254', // lok-offline: a route-table lookup inside the sandbox, no packet
  ], { env: { MCP_LOK_HOME: home }, holdStdinUntil: afterLines(1) });
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
});

egress.run();
