import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { discoverEngine, listEngineCandidates, parseEngineUrl } from '../../src/engine/discover.js';
import { LokError } from '../../src/errors.js';
import { negotiateApiVersion } from '../../src/engine/endpoint.js';

const parse = suite('parseEngineUrl');

for (const [input, expected] of [
  ['unix:///var/run/docker.sock', { kind: 'unix', socketPath: '/var/run/docker.sock' }],
  ['/run/podman/podman.sock', { kind: 'unix', socketPath: '/run/podman/podman.sock' }],
  ['tcp://127.0.0.1:2375', { kind: 'tcp', host: '127.0.0.1', port: 2375, tls: false }],
  ['tcp://docker.example:2376', { kind: 'tcp', host: 'docker.example', port: 2376, tls: false }],
  ['https://10.0.0.5', { kind: 'tcp', host: '10.0.0.5', port: 2376, tls: true }],
] as const) {
  parse(`reads ${input}`, () => {
    const { source: _source, ...rest } = parseEngineUrl(input, 'test');
    assert.equal(rest, expected);
  });
}

for (const bad of ['ssh://user@host', 'docker.sock', 'unix://', 'tcp://']) {
  parse(`rejects ${bad} with a usage error`, () => {
    try { parseEngineUrl(bad, 'DOCKER_HOST'); assert.unreachable(); } catch (error) {
      assert.instance(error, LokError);
      assert.is((error as LokError).exitCode, 2);
      assert.match((error as LokError).message, /DOCKER_HOST/);
    }
  });
}

parse.run();

const list = suite('listEngineCandidates');
const base = { home: '/home/u', platform: 'linux' as NodeJS.Platform };

list('uses an explicit engine alone', () => {
  const c = listEngineCandidates({ ...base, env: { DOCKER_HOST: 'tcp://x:1' }, explicit: '/tmp/e.sock' });
  assert.equal(c.map((e) => (e.kind === 'unix' ? e.socketPath : e.host)), ['/tmp/e.sock']);
});

list('prefers MCP_LOK_ENGINE over DOCKER_HOST', () => {
  const c = listEngineCandidates({ ...base, env: { DOCKER_HOST: 'tcp://x:1', MCP_LOK_ENGINE: 'unix:///a.sock' } });
  assert.is(c.length, 1);
  assert.is(c[0]?.source, 'MCP_LOK_ENGINE');
});

list('uses DOCKER_HOST alone when set', () => {
  const c = listEngineCandidates({ ...base, env: { DOCKER_HOST: 'tcp://x:1' } });
  assert.equal(c.map((e) => e.source), ['DOCKER_HOST']);
});

list('follows the docker CLI current context', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lok-ctx-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ currentContext: 'colima' }));
  const id = createHash('sha256').update('colima').digest('hex');
  mkdirSync(join(dir, 'contexts', 'meta', id), { recursive: true });
  writeFileSync(join(dir, 'contexts', 'meta', id, 'meta.json'), JSON.stringify({ Endpoints: { docker: { Host: 'unix:///c/docker.sock' } } }));
  const c = listEngineCandidates({ ...base, env: { DOCKER_CONFIG: dir } });
  assert.equal(c.map((e) => (e.kind === 'unix' ? e.socketPath : '')), ['/c/docker.sock']);
  assert.match(c[0]?.source ?? '', /colima/);
});

list('lists the well-known sockets of every common engine in order', () => {
  const c = listEngineCandidates({ ...base, env: { XDG_RUNTIME_DIR: '/run/user/1000', DOCKER_CONFIG: '/nonexistent' } });
  const paths = c.map((e) => (e.kind === 'unix' ? e.socketPath : ''));
  assert.equal(paths, [
    '/var/run/docker.sock',
    '/run/user/1000/docker.sock',
    '/home/u/.docker/run/docker.sock',
    '/home/u/.docker/desktop/docker.sock',
    '/home/u/.colima/default/docker.sock',
    '/home/u/.colima/docker.sock',
    '/home/u/.orbstack/run/docker.sock',
    '/home/u/.rd/docker.sock',
    '/run/podman/podman.sock',
    '/run/user/1000/podman/podman.sock',
  ]);
});

list.run();

const discover = suite('discoverEngine');

discover('names what it tried and what to do when nothing answers (exit 125)', async () => {
  try {
    await discoverEngine({ ...base, env: {}, explicit: '/nonexistent/engine.sock' });
    assert.unreachable();
  } catch (error) {
    assert.instance(error, LokError);
    assert.is((error as LokError).code, 'ENGINE_UNAVAILABLE');
    assert.is((error as LokError).exitCode, 125);
    assert.match((error as LokError).message, /\/nonexistent\/engine\.sock/);
    assert.match((error as LokError).message, /Start Docker or Podman, or set DOCKER_HOST/);
  }
});

discover.run();

const negotiate = suite('negotiateApiVersion');

for (const [engine, expected] of [
  ['1.41', '1.41'],
  ['1.44', '1.44'],
  ['1.47', '1.47'],
  ['1.51', '1.47'],
  ['2.0', '1.47'],
  [undefined, undefined],
  ['garbage', undefined],
] as const) {
  negotiate(`speaks ${expected ?? 'unversioned'} to an engine at ${engine ?? 'no version'}`, () => {
    assert.is(negotiateApiVersion(engine), expected);
  });
}

negotiate.run();
