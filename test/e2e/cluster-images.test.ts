// Images for a cluster (`mcp-lok image build --push REF`), built on the real engine and run as
// a restricted pod would run them: read-only root, uid 1000, every capability dropped.
// Test traffic: the package image is reached on loopback (a published port); the egress image
// connects only to a web server this suite starts on the bridge gateway, and refuses the
// metadata and private addresses before any packet leaves; the registry listens on loopback.
// lok-offline-data: evil.example, 10.0.0.1, 169.254.169.254; a Host header sent to the image's listener on loopback, and the egress log's entries for the two addresses the egress proxy refuses before any packet
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { MANAGER, MEMORY, bridgeGateway, eventually, requireEngine, runBin, tempDir } from './harness.js';

const run = promisify(execFile);
const suffix = randomBytes(4).toString('hex');
const PACKAGE_REF = `mcp-lok-e2e/memory:${suffix}`;
const EGRESS_REF = `mcp-lok-e2e/egress:${suffix}`;
const TOKEN = randomBytes(16).toString('hex');
const madeImages = new Set<string>();
const madeContainers = new Set<string>();

interface BuildResult { ref: string; kind: string; pushed: boolean; digest?: string; packages?: Array<{ name: string; version: string; integrity: string }>; tree?: string; command?: string[] }

async function docker(...args: string[]): Promise<string> {
  return (await run('docker', args, { maxBuffer: 16 * 1024 * 1024 })).stdout;
}

/** Runs `mcp-lok image build ARGS --json` and returns what it printed; the image is removed after the suite. */
async function build(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; result?: BuildResult; stderr: string; stdout: string }> {
  const out = await runBin(MANAGER, ['image', 'build', ...args, '--json'], { env, timeoutMs: 600_000 });
  const flag = args.findIndex((a) => a === '--push' || a === '--tag');
  const ref = flag === -1 ? undefined : args[flag + 1];
  if (ref) madeImages.add(ref);
  const stdout = out.stdout.toString();
  return { code: out.code, stderr: out.stderr, stdout, ...(out.code === 0 ? { result: JSON.parse(stdout) as BuildResult } : {}) };
}

/** Starts a container as a restricted pod runs one, its port published on loopback only; returns its name and host port. */
async function runHardened(image: string, containerPort: number, env: Record<string, string>, args: string[] = []): Promise<{ name: string; port: number }> {
  const name = `mcp-lok-e2e-cluster-${randomBytes(4).toString('hex')}`;
  madeContainers.add(name);
  const envArgs = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  await docker('run', '-d', '--name', name, '--read-only', '--user', '1000', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '-p', `127.0.0.1::${containerPort}`, ...envArgs, image, ...args);
  const mapped = (await docker('port', name, `${containerPort}/tcp`)).trim().split('\n')[0] ?? '';
  return { name, port: Number(mapped.slice(mapped.lastIndexOf(':') + 1)) };
}

async function logsOf(name: string): Promise<{ stdout: string; stderr: string }> {
  return run('docker', ['logs', name]);
}

/** Sends one raw HTTP request to a loopback port; resolves with the status and body. */
function send(port: number, options: { method: string; path: string; headers: Record<string, string>; body?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: options.method, path: options.path, headers: options.headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const INITIALIZE = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'e2e', version: '1' } } });
const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

const images = suite('mcp-lok image build --push/--tag: images for a cluster');

images.before(requireEngine);

let web: Server | undefined;

images.after(async () => {
  await new Promise((resolve) => (web ? web.close(resolve) : resolve(undefined)));
  for (const name of madeContainers) await run('docker', ['rm', '-f', name]).catch(() => undefined);
  for (const ref of madeImages) await run('docker', ['rmi', '-f', ref]).catch(() => undefined);
});

let packageImage: BuildResult | undefined;

images('builds server-memory\'s image: the pinned tree read-only and owned by root, its versions in labels and its lockfile inside', async () => {
  const built = await build(['--tag', PACKAGE_REF, `npx://${MEMORY}`]);
  assert.is(built.code, 0, built.stderr);
  packageImage = built.result;
  const [pkg] = packageImage?.packages ?? [];
  assert.is(pkg?.name, MEMORY);
  assert.match(pkg?.integrity ?? '', /^sha512-/);
  assert.is(packageImage?.pushed, false);
  const inspect = JSON.parse(await docker('image', 'inspect', PACKAGE_REF)) as Array<{ Config: { User: string; Labels: Record<string, string>; Entrypoint: string[] } }>;
  const config = inspect[0]?.Config;
  assert.is(config?.User, '1000:1000');
  assert.equal(JSON.parse(config?.Labels['mcp-lok-packages'] ?? '[]'), packageImage?.packages);
  assert.is(config?.Labels['mcp-lok-tree'], packageImage?.tree);
  assert.is(config?.Labels['mcp-lok'], 'cluster-image');
  // The tree: root's, not writable by the server's user even without --read-only; the lockfile pins the integrity.
  const probe = [
    "const fs=require('fs');const out={};",
    "for(const p of ['/opt/mcp-lok/pkg','/opt/mcp-lok/pkg/package-lock.json','/opt/mcp-lok/pod/server.json']){out[p]=fs.statSync(p).uid}",
    "try{fs.writeFileSync('/opt/mcp-lok/pkg/x','');out.write='written'}catch(e){out.write=e.code}",
    "try{fs.appendFileSync(require.resolve('/opt/mcp-lok/pkg/node_modules/" + MEMORY + "/package.json'),' ');out.append='written'}catch(e){out.append=e.code}",
    "const lock=JSON.parse(fs.readFileSync('/opt/mcp-lok/pkg/package-lock.json','utf8'));out.integrity=lock.packages['node_modules/" + MEMORY + "'].integrity;",
    'console.log(JSON.stringify(out))',
  ].join('');
  const seen = JSON.parse(await docker('run', '--rm', '--user', '1000', '--cap-drop', 'ALL', '--network', 'none', '--entrypoint', 'node', PACKAGE_REF, '-e', probe)) as Record<string, unknown>;
  assert.equal(seen, {
    '/opt/mcp-lok/pkg': 0, '/opt/mcp-lok/pkg/package-lock.json': 0, '/opt/mcp-lok/pod/server.json': 0,
    write: 'EACCES', append: 'EACCES', integrity: pkg?.integrity,
  });
});

images('builds the same pinned tree again: the pin is reused, not resolved anew', async () => {
  const ref = `${PACKAGE_REF}-again`;
  const again = await build(['--tag', ref, `npx://${MEMORY}`]);
  assert.is(again.code, 0, again.stderr);
  assert.is(again.result?.tree, packageImage?.tree);
  assert.equal(again.result?.packages, packageImage?.packages);
  assert.not.match(again.stderr, /installing/);
});

images('serves server-memory over streamable HTTP from a read-only, uid-1000 container; the SDK client lists its tools', async () => {
  const { name, port } = await runHardened(PACKAGE_REF, 8080, {
    MCP_LOK_POD_TOKEN: TOKEN, MCP_LOK_POD_ALLOWED_HOSTS: 'memory', MCP_LOK_POD_NAMESPACE: 'e2e',
  });
  await eventually(async () => /serving .* over streamable-http on port 8080/.test((await logsOf(name)).stderr), 60_000, 'the pod to listen');
  const client = new Client({ name: 'mcp-lok-e2e', version: '1.0.0' });
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }));
    const tools = (await client.listTools()).tools.map((t) => t.name);
    for (const tool of ['create_entities', 'read_graph', 'search_nodes']) assert.ok(tools.includes(tool), tools.join(', '));
  } finally {
    await client.close();
  }
  // The Service's name on its own port passes; another name, or no token, does not.
  const viaService = await send(port, { method: 'POST', path: '/mcp', headers: { ...MCP_HEADERS, host: 'memory.e2e.svc', authorization: `Bearer ${TOKEN}` }, body: INITIALIZE });
  assert.is(viaService.status, 200, viaService.body);
  const rebinding = await send(port, { method: 'POST', path: '/mcp', headers: { ...MCP_HEADERS, host: 'evil.example', authorization: `Bearer ${TOKEN}` }, body: INITIALIZE });
  assert.is(rebinding.status, 403, rebinding.body);
  const anonymous = await send(port, { method: 'POST', path: '/mcp', headers: { ...MCP_HEADERS, host: 'memory' }, body: INITIALIZE });
  assert.is(anonymous.status, 401, anonymous.body);
  // A stop closes every session and exits 0.
  await docker('stop', name);
  assert.is((await docker('inspect', '--format', '{{.State.ExitCode}}', name)).trim(), '0');
});

images('a pod with a bad setting says so in one line and exits 1', async () => {
  const bad = await run('docker', ['run', '--rm', '--read-only', '--user', '1000', '--cap-drop', 'ALL', '--network', 'none', '-e', 'MCP_LOK_POD_TRANSPORT=stdio', PACKAGE_REF]).then(() => undefined, (e: { code: number; stderr: string }) => e);
  assert.is(bad?.code, 1);
  assert.match(bad?.stderr ?? '', /^mcp-lok pod: MCP_LOK_POD_TRANSPORT must be streamable-http or sse, got "stdio"\. .*\n$/);
});

images('builds the egress proxy image; it passes an allowed request to the gateway and refuses metadata and private addresses', async () => {
  const built = await build(['--tag', EGRESS_REF, '--egress-proxy']);
  assert.is(built.code, 0, built.stderr);
  const gateway = await bridgeGateway();
  web = createServer((_req, res) => res.end('hello egress'));
  await new Promise<void>((resolve) => web?.listen(0, gateway, resolve));
  const webPort = (web.address() as AddressInfo).port;
  const rules = JSON.stringify({ allow_host: [gateway], allow_port: [webPort] });
  const { name, port } = await runHardened(EGRESS_REF, 3128, { MCP_LOK_EGRESS_RULES: rules });
  await eventually(async () => /listening on port 3128/.test((await logsOf(name)).stderr), 60_000, 'the egress proxy to listen');
  const through = (url: string): Promise<{ status: number; body: string }> => send(port, { method: 'GET', path: url, headers: { host: new URL(url).host } });
  const allowed = await through(`http://${gateway}:${webPort}/`);
  assert.is(allowed.status, 200, allowed.body);
  assert.is(allowed.body, 'hello egress');
  // lok-offline: refused by the egress proxy (a metadata address) before any packet
  const metadata = await through('http://169.254.169.254/latest/meta-data/');
  assert.is(metadata.status, 403, metadata.body);
  // lok-offline: refused by the egress proxy (a private address not allowed) before any packet
  const privateAddress = await through('http://10.0.0.1/');
  assert.is(privateAddress.status, 403, privateAddress.body);
  const otherPort = await through(`http://${gateway}:${webPort + 1}/`);
  assert.is(otherPort.status, 403, otherPort.body);
  // One JSON line per connection, on stdout (an allowed one when it closes).
  const entries = async (): Promise<Array<{ host: string; port: number; allowed: boolean; reason?: string }>> =>
    (await logsOf(name)).stdout.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as { host: string; port: number; allowed: boolean; reason?: string });
  await eventually(async () => (await entries()).length === 4, 30_000, 'four lines in the egress log');
  const log = await entries();
  const byTarget = (e: { host: string; port: number; allowed: boolean }): string => `${e.host}:${e.port} ${e.allowed ? 'allowed' : 'refused'}`;
  assert.equal(log.map(byTarget).sort(), [`${gateway}:${webPort} allowed`, `${gateway}:${webPort + 1} refused`, '10.0.0.1:80 refused', '169.254.169.254:80 refused'].sort());
  assert.match(log.find((e) => e.host === '169.254.169.254')?.reason ?? '', /metadata/);
});

images('the egress image refuses bad rules in one line and exits 1', async () => {
  const bad = await run('docker', ['run', '--rm', '--read-only', '--user', '1000', '--cap-drop', 'ALL', '--network', 'none', '-e', 'MCP_LOK_EGRESS_RULES={"allow_host":["*"],"allow_port":[443]}', EGRESS_REF]).then(() => undefined, (e: { code: number; stderr: string }) => e);
  assert.is(bad?.code, 1);
  assert.match(bad?.stderr ?? '', /^mcp-lok egress: MCP_LOK_EGRESS_RULES: \$\.allow_host\[0\]: a lone "\*" would allow every host.*\n$/);
});

/** Starts Debian's Docker Registry (v2) on loopback; undefined where it is not installed. */
async function startRegistry(): Promise<{ url: string; stop: () => Promise<void> } | undefined> {
  const found = await run('sh', ['-c', 'command -v docker-registry']).then(() => true, () => false);
  if (!found) return undefined;
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  const dir = tempDir('lok-registry-');
  writeFileSync(join(dir, 'config.yml'), `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  const child: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await eventually(async () => (await send(port, { method: 'GET', path: '/v2/', headers: {} }).catch(() => ({ status: 0 }))).status === 200, 30_000, 'the registry to answer');
  return { url: `127.0.0.1:${port}`, stop: async () => { child.kill('SIGTERM'); await exited; } };
}

images('pushes to a registry through the engine and prints the digest the registry then serves', async () => {
  const registry = await startRegistry();
  if (!registry) {
    console.warn('cluster-images e2e: no docker-registry here (scripts/ensure-engine.sh installs it); a real push was not tested.');
    return;
  }
  try {
    const ref = `${registry.url}/team/mcp-lok-egress:${suffix}`;
    // No credentials for it in this docker config: the push goes with an empty X-Registry-Auth.
    const pushed = await build(['--push', ref, '--egress-proxy'], { DOCKER_CONFIG: tempDir('lok-docker-config-') });
    assert.is(pushed.code, 0, pushed.stderr);
    assert.is(pushed.result?.pushed, true);
    assert.match(pushed.result?.digest ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.match(pushed.stderr, /pushed .* \(sha256:/);
    const port = Number(registry.url.split(':')[1]);
    const manifest = await new Promise<{ status: number; digest: string | undefined }>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: `/v2/team/mcp-lok-egress/manifests/${suffix}`, method: 'HEAD', headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' } }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, digest: res.headers['docker-content-digest'] as string | undefined });
      }).on('error', reject).end();
    });
    assert.equal(manifest, { status: 200, digest: pushed.result?.digest });
  } finally {
    await registry.stop();
  }
});

images('a push the registry does not take fails in one line with exit 1, after the image is built and tagged', async () => {
  // Nothing listens on port 1 of loopback: the engine's connection is refused.
  const ref = `127.0.0.1:1/team/mcp-lok-egress:${suffix}`;
  const failed = await build(['--push', ref, '--egress-proxy'], { DOCKER_CONFIG: tempDir('lok-docker-config-') });
  assert.is(failed.code, 1, failed.stderr);
  assert.is(failed.stdout, '');
  assert.match(failed.stderr, new RegExp(`mcp-lok: Pushing ${ref.replace(/[.]/g, '\\.')} to 127\\.0\\.0\\.1:1 failed: .*connection refused`));
  assert.ok((await docker('image', 'inspect', '--format', '{{.Id}}', ref)).startsWith('sha256:'));
});

images('refuses a bad reference in one line, exit 2, creating nothing', async () => {
  const bad = await runBin(MANAGER, ['image', 'build', '--push', 'Not A Ref', `npx://${MEMORY}`]);
  assert.is(bad.code, 2, bad.stderr);
  assert.is(bad.stdout.length, 0);
  assert.is(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  assert.match(bad.stderr, /--push expects an image reference/);
  assert.not.match(bad.stderr, /installing|building/);
});

images.run();
