import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { engineRequest } from '../../src/engine/http.js';
import { afterLines, ENGINE, lokContainers, MANAGER, MEMORY, requireEngine, runBin, spawnBin, eventually } from './harness.js';

const INIT = `${JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })}\n`;

async function sandboxImage(): Promise<string> {
  const images = await engineRequest<Array<{ RepoTags: string[] | null; Created: number }>>(ENGINE, 'GET', `/images/json?filters=${encodeURIComponent(JSON.stringify({ reference: ['mcp-lok/sandbox'] }))}`);
  const image = images.body.sort((a, b) => b.Created - a.Created)[0]?.RepoTags?.[0];
  if (!image) throw new Error('no sandbox image: run the shim tests first');
  return image;
}

const run = suite('mcp-lok run (foreground, stdio)');

run.before(requireEngine);

run('runs an npx:// server with the same sandbox as the shim', async () => {
  const name = `e2e-run-${randomBytes(3).toString('hex')}`;
  const result = await runBin(MANAGER, ['run', '--name', name, `npx://${MEMORY}`], { stdin: INIT, holdStdinUntil: afterLines(1) });
  assert.is(result.code, 0, result.stderr);
  assert.match(result.stdout.toString(), /"serverInfo"/);
  await eventually(async () => (await lokContainers(`mcp-lok-name=${name}`)).length === 0, 10_000, `${name} to be removed`);
});

run('runs an image with its arguments, hardened, and passes bytes and the exit code through', async () => {
  const image = await sandboxImage();
  const result = await runBin(MANAGER, ['run', image, '--', 'node', '-e', 'process.stdin.pipe(process.stdout); process.stdin.on("end", () => { process.stderr.write("uid " + process.getuid()); process.exitCode = 7; })'], { stdin: 'ping\n', holdStdinUntil: afterLines(1) });
  assert.is(result.code, 7, result.stderr);
  assert.is(result.stdout.toString(), 'ping\n');
  assert.match(result.stderr, /uid [1-9]\d*/);
});

run('labels the container as started by run, and stops and removes it on SIGINT', async () => {
  const name = `e2e-run-int-${randomBytes(3).toString('hex')}`;
  const child = spawnBin(MANAGER, ['run', '--name', name, `npx://${MEMORY}`]);
  let out = '';
  child.stdout?.on('data', (c: Buffer) => { out += c.toString(); });
  child.stdin?.write(INIT);
  await eventually(async () => out.includes('"id":0'), 60_000, 'the server to answer');
  const listed = JSON.parse((await runBin(MANAGER, ['list', '--json'])).stdout.toString()) as Array<{ name: string; launcher: string }>;
  assert.is(listed.find((s) => s.name === name)?.launcher, 'run');
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  child.kill('SIGINT');
  assert.is.not(await exited, 0);
  await eventually(async () => (await lokContainers(`mcp-lok-name=${name}`)).length === 0, 10_000, `${name} to be removed`);
});

run('refuses a bad image reference or flag with one line and creates nothing', async () => {
  const before = (await lokContainers()).length;
  for (const args of [['run', 'Not An Image'], ['run', '--port', '80', 'alpine'], ['run']]) {
    const result = await runBin(MANAGER, args);
    assert.is(result.code, 2, result.stderr);
    assert.is(result.stdout.length, 0);
    assert.is(result.stderr.trim().split('\n').length, 1, result.stderr);
  }
  assert.is((await lokContainers()).length, before);
});

run.run();
