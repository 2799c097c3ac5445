import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { engineRequest } from '../../src/engine/http.js';
import { DEFAULT_BASE_IMAGE, DOCKERFILE, DOCKER_DIR, computeImageTag, ensureSandboxImage, readContextFiles } from '../../src/prepare/images.js';
import { EXIT, LokError } from '../../src/errors.js';
import { ENGINE } from './harness.js';

const engineUp = await engineRequest(ENGINE, 'GET', '/_ping', undefined, { timeoutMs: 3000 }).then((r) => r.status === 200, () => false);
if (!engineUp) {
  console.warn('image e2e: skipped, no Docker engine answers at /var/run/docker.sock (run `bash scripts/ensure-engine.sh`).');
}

const made: string[] = [];
const dirs: string[] = [];

/** Returns a copy of docker/ with one extra file, so its tag is new and must be built. */
function freshContext(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-lok-image-e2e-'));
  dirs.push(dir);
  cpSync(DOCKER_DIR, dir, { recursive: true });
  writeFileSync(join(dir, 'e2e-nonce.txt'), randomBytes(8).toString('hex'));
  return dir;
}

function docker(args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

async function labelsOf(ref: string): Promise<Record<string, string>> {
  const res = await engineRequest<{ Config: { Labels: Record<string, string> | null } }>(ENGINE, 'GET', `/images/${ref}/json`);
  assert.is(res.status, 200, `${ref} is not in the engine`);
  return res.body.Config.Labels ?? {};
}

const image = suite('ensureSandboxImage against a real engine');
const test = engineUp ? image : image.skip;
let tag = '';
let dir = '';

image.after(async () => {
  for (const ref of made) await engineRequest(ENGINE, 'DELETE', `/images/${ref}`).catch(() => undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('builds a new image on the base it can get, logging only through log', async () => {
  dir = freshContext();
  const lines: string[] = [];
  const baseIsLocal = (await engineRequest(ENGINE, 'GET', `/images/${DEFAULT_BASE_IMAGE}/json`)).status === 200;
  const started = performance.now();
  tag = await ensureSandboxImage(ENGINE, { log: (l) => lines.push(l), dockerDir: dir });
  made.push(tag);
  console.log(`  first build of ${tag}: ${Math.round(performance.now() - started)} ms`);
  assert.is(tag, computeImageTag(readContextFiles(dir), DEFAULT_BASE_IMAGE));
  assert.match(lines[0] ?? '', `building the sandbox image ${tag}`);
  assert.ok(lines.some((l) => l.startsWith('mcp-lok: build: ')), lines.join('\n'));
  const labels = await labelsOf(tag);
  assert.is(labels['mcp-lok'], 'true');
  if (!baseIsLocal && !lines.some((l) => l.startsWith('mcp-lok: pull: '))) {
    // The pull failed (as it does on a machine without a registry): one line says so.
    assert.is(lines.filter((l) => l.includes(`cannot pull ${DEFAULT_BASE_IMAGE}`)).length, 1, lines.join('\n'));
    assert.match(labels['mcp-lok-base'] ?? '', /^mcp-lok\/node-local:[0-9a-f]{12}$/);
  }
});

test('runs node as uid 1000 by default', () => {
  assert.is(docker(['run', '--rm', '--network', 'none', tag, 'node', '-e', 'console.log(process.getuid())']), '1000');
});

test('runs npm with a read-only root, no capabilities and no network', () => {
  const out = docker(['run', '--rm', '--network', 'none', '--read-only', '--tmpfs', '/tmp', '--tmpfs', '/home/node:uid=1000,gid=1000',
    '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', tag, 'npm', '--version']);
  assert.match(out, /^\d+\.\d+\.\d+$/);
});

test('has volume mount points owned by 1000 and mcp-lok\'s scripts and egress proxy owned by root', () => {
  const out = docker(['run', '--rm', '--network', 'none', tag, 'sh', '-c',
    'stat -c %u:%g /opt/mcp-lok/pkgs /opt/mcp-lok/npm-cache /run/mcp-lok /opt/mcp-lok/install.mjs /opt/mcp-lok/egress-sidecar.mjs /opt/mcp-lok/lib/egress/proxy.js && pwd']);
  assert.equal(out.split('\n'), ['1000:1000', '1000:1000', '1000:1000', '0:0', '0:0', '0:0', '/home/node']);
});

test('runs the egress sidecar: mcp-lok\'s own proxy, loaded as ES modules', () => {
  // lok-offline: the container has no network; only the proxy's start-up is checked
  const rules = { insecureAllowAll: false, transports: ['tcp'], hosts: ['example.com'], ports: [443] };
  // Its settings come on stdin, so that a proxy's credentials never show in `docker inspect`.
  const out = docker(['run', '--rm', '--network', 'none', '--read-only', '--cap-drop', 'ALL', '--tmpfs', '/run/mcp-lok:uid=1000,gid=1000',
    '-e', `MCP_LOK_EGRESS=${JSON.stringify({ rules, refuse: [] })}`, tag, 'sh', '-c',
    '(echo "$MCP_LOK_EGRESS"; sleep 30) | node /opt/mcp-lok/egress-sidecar.mjs /run/mcp-lok/egress.sock & i=0; '
    + 'while [ "$(stat -c %a /run/mcp-lok/egress.sock 2>/dev/null)" != 666 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; '
    + 'stat -c %a /run/mcp-lok/egress.sock; kill %1']);
  assert.equal(out.split('\n'), ['{"ready":true}', '666']);
});

test('returns the same tag on a second call without building', async () => {
  const lines: string[] = [];
  const started = performance.now();
  assert.is(await ensureSandboxImage(ENGINE, { log: (l) => lines.push(l), dockerDir: dir }), tag);
  console.log(`  warm check: ${(performance.now() - started).toFixed(1)} ms`);
  assert.equal(lines, []);
});

test('lets two callers build the same new image at once', async () => {
  const shared = freshContext();
  const [a, b] = await Promise.all([
    ensureSandboxImage(ENGINE, { log: () => {}, dockerDir: shared }),
    ensureSandboxImage(ENGINE, { log: () => {}, dockerDir: shared }),
  ]);
  made.push(a);
  assert.is(a, b);
  assert.is((await labelsOf(a))['mcp-lok'], 'true');
});

test('fails with IMAGE_BUILD_FAILED and the engine\'s message when a build step fails', async () => {
  const broken = freshContext();
  writeFileSync(join(broken, DOCKERFILE), 'ARG BASE\nFROM ${BASE}\nRUN echo mcp-lok-e2e-broken && exit 3\n');
  const lines: string[] = [];
  try {
    made.push(await ensureSandboxImage(ENGINE, { log: (l) => lines.push(l), dockerDir: broken }));
    assert.unreachable('the build succeeded');
  } catch (error) {
    assert.instance(error, LokError);
    assert.is((error as LokError).code, 'IMAGE_BUILD_FAILED');
    assert.is((error as LokError).exitCode, EXIT.engine);
    assert.match((error as LokError).message, /returned a non-zero code: 3/);
  }
  assert.ok(lines.includes('mcp-lok: build: mcp-lok-e2e-broken'), lines.join('\n'));
});

test('builds the image of the package\'s own docker/ directory by default', async () => {
  const own = await ensureSandboxImage(ENGINE, { log: () => {} });
  assert.is(own, computeImageTag(readContextFiles(DOCKER_DIR), DEFAULT_BASE_IMAGE));
});

image.run();
