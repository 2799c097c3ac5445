// `mcp-lok run --transport sse IMAGE`: an image whose own entrypoint serves MCP over SSE, as in
// the original design's first example. The image is built here on the sandbox image, since
// no registry can be reached; its server announces an absolute endpoint URL naming itself.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { currentImageTag } from '../../src/app/images.js';
import { ENGINE, MANAGER, ROOT, eventually, lokContainers, requireEngine, runBin, spawnBin } from './harness.js';
import { engineRequest } from '../../src/engine/http.js';

const IMAGE = 'mcp-lok-test/sse-echo:1';
const imageHttp = suite('mcp-lok run --transport sse with a server image');

imageHttp.before(async () => {
  await requireEngine();
  const built = await runBin(MANAGER, ['image', 'build']);
  assert.is(built.code, 0, built.stderr);
  execFileSync('docker', ['build', '-q', '--build-arg', `BASE=${currentImageTag()}`, '-t', IMAGE, join(ROOT, 'test/fixtures/images/sse-echo')], { stdio: ['ignore', 'ignore', 'pipe'] });
});

imageHttp.after(() => {
  try { execFileSync('docker', ['rmi', '-f', IMAGE], { stdio: 'ignore' }); } catch { /* already gone */ }
});

imageHttp('serves the image over SSE behind the proxy, with its arguments, no network and no published port; Ctrl-C removes everything', async () => {
  const name = `e2e-image-sse-${randomBytes(3).toString('hex')}`;
  const child = spawnBin(MANAGER, ['run', '--transport', 'sse', '--name', name, IMAGE, '--', 'my-mcp-server-args']);
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => { stderr += c.toString(); });
  let stdout = '';
  child.stdout?.on('data', (c: Buffer) => { stdout += c.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  try {
    await eventually(async () => /is ready at (http:\/\/\S+)/.test(stderr), 60_000, `${name} to be ready`);
    const url = /is ready at (http:\/\/\S+)/.exec(stderr)?.[1] ?? '';
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/sse$/);
    assert.match(stderr, /behind mcp-lok's reverse proxy/);
    const client = new Client({ name: 'e2e-image', version: '1' });
    await client.connect(new SSEClientTransport(new URL(url)));
    try {
      const result = await client.callTool({ name: 'echo', arguments: { message: 'hi' } }) as { content: Array<{ text: string }> };
      assert.is(result.content[0]?.text, 'echo from an image: hi (args: my-mcp-server-args)');
    } finally {
      await client.close();
    }
    const containers = await lokContainers(`mcp-lok-name=${name}`);
    const server = containers.find((c) => c.Labels['mcp-lok-role'] === 'run');
    const sidecar = containers.find((c) => c.Labels['mcp-lok-role'] === 'ingress');
    assert.ok(server && sidecar, 'a server and its ingress sidecar');
    const inspect = async (id: string): Promise<{ HostConfig: { NetworkMode: string; PortBindings: Record<string, unknown> | null; ReadonlyRootfs: boolean }; Config: { User: string; Image: string } }> =>
      (await engineRequest<{ HostConfig: { NetworkMode: string; PortBindings: Record<string, unknown> | null; ReadonlyRootfs: boolean }; Config: { User: string; Image: string } }>(ENGINE, 'GET', `/containers/${id}/json`)).body;
    const s = await inspect(server.Id);
    const side = await inspect(sidecar.Id);
    assert.is(s.HostConfig.NetworkMode, `container:${sidecar.Id}`);
    assert.is(side.HostConfig.NetworkMode, 'none');
    assert.equal(Object.keys(s.HostConfig.PortBindings ?? {}), []);
    assert.ok(s.HostConfig.ReadonlyRootfs);
    assert.is.not(s.Config.User.split(':')[0], '0');
    assert.is(s.Config.Image, IMAGE);
  } finally {
    child.kill('SIGINT');
  }
  assert.is(await exited, 0, stderr);
  assert.is(stdout, '');
  await eventually(async () => (await lokContainers(`mcp-lok-name=${name}`)).length === 0, 10_000, `${name}'s containers to be removed`);
});

imageHttp.run();
