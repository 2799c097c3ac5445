import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EngineHttpError } from '../../src/engine/http.js';
import { DOCKER_DIR, EGRESS_CODE_DIR, EGRESS_MODULES, computeImageTag, engineErrorText, readContextFiles, shortReason } from '../../src/prepare/images.js';

const file = (name: string, content: string) => ({ name, content: Buffer.from(content) });
const FILES = [file('Dockerfile.node-alpine', 'FROM ${BASE}\n'), file('install.mjs', '// install\n')];
const BASE = 'node:24-alpine';

const tag = suite('computeImageTag');

tag('names the image mcp-lok/sandbox with 16 hex characters', () => {
  assert.match(computeImageTag(FILES, BASE), /^mcp-lok\/sandbox:[0-9a-f]{16}$/);
});

tag('gives the same tag for the same files and base', () => {
  assert.is(computeImageTag(FILES, BASE), computeImageTag(FILES.map((f) => ({ ...f, content: Buffer.from(f.content) })), BASE));
});

tag('does not depend on the order the files are listed in', () => {
  assert.is(computeImageTag([...FILES].reverse(), BASE), computeImageTag(FILES, BASE));
});

for (const [what, files] of [
  ['a changed Dockerfile', [file('Dockerfile.node-alpine', 'FROM ${BASE}\nUSER 0\n'), FILES[1]!]],
  ['a changed install script', [FILES[0]!, file('install.mjs', '// install v2\n')]],
  ['a renamed file', [FILES[0]!, file('install2.mjs', '// install\n')]],
  ['an added file', [...FILES, file('extra.txt', '')]],
  ['a removed file', [FILES[0]!]],
  ['bytes moved from a name into its content', [FILES[0]!, file('install.mj', 's// install\n')]],
] as const) {
  tag(`changes with ${what}`, () => {
    assert.is.not(computeImageTag([...files], BASE), computeImageTag(FILES, BASE));
  });
}

tag('changes with the base image name', () => {
  assert.is.not(computeImageTag(FILES, 'node:22-alpine'), computeImageTag(FILES, BASE));
});

tag.run();

const reason = suite('shortReason');

reason('drops the request preamble from a registry lookup failure', () => {
  const error = new EngineHttpError(500, 'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host');
  assert.is(shortReason(error), 'dial tcp: lookup registry-1.docker.io: no such host');
});

reason('keeps the text of an error event or a connection error whole', () => {
  assert.is(shortReason(new Error('manifest for localhost:5000/x:1 not found: manifest unknown')), 'manifest for localhost:5000/x:1 not found: manifest unknown');
  assert.is(shortReason(Object.assign(new Error('connect ENOENT /var/run/docker.sock'), { code: 'ENOENT' })), 'connect ENOENT /var/run/docker.sock');
});

reason('caps long messages to one short line', () => {
  const text = shortReason(new Error('x'.repeat(500)));
  assert.ok(text.length <= 120);
  assert.ok(text.endsWith('...'));
});

reason.run();

const text = suite('engineErrorText');

text('returns an error\'s message, trimmed, and other values as text', () => {
  assert.is(engineErrorText(new EngineHttpError(404, ' no such image ')), 'no such image');
  assert.is(engineErrorText(new Error('returned a non-zero code: 3\n')), 'returned a non-zero code: 3');
  assert.is(engineErrorText('plain'), 'plain');
});

text.run();

const context = suite('readContextFiles');
const temps: string[] = [];
const temp = (files: Record<string, string>): string => {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-lok-context-test-'));
  temps.push(dir);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
};
context.after(() => { for (const dir of temps) rmSync(dir, { recursive: true, force: true }); });

context('holds docker/ and the compiled egress proxy (with the HTTP framing it uses) as ES modules under lib/', () => {
  const docker = temp({ 'Dockerfile.node-alpine': 'FROM ${BASE}\n', 'egress-sidecar.mjs': '// sidecar\n' });
  const code = temp({ ...Object.fromEntries(EGRESS_MODULES.map((m) => [m, `// ${m}\n`])), 'egress/unused.js': '// not needed\n', 'cli/main.js': '// not needed\n' });
  const files = readContextFiles(docker, code);
  assert.equal(files.map((f) => f.name).sort(), ['Dockerfile.node-alpine', 'egress-sidecar.mjs', ...EGRESS_MODULES.map((m) => `lib/${m}`), 'lib/package.json'].sort());
  assert.equal(JSON.parse(files.find((f) => f.name === 'lib/package.json')?.content.toString() ?? ''), { type: 'module' });
  assert.is(files.find((f) => f.name === 'lib/egress/proxy.js')?.content.toString(), '// egress/proxy.js\n');
});

context('lists every module that the sidecar modules import: the image holds nothing else of mcp-lok', () => {
  for (const module of EGRESS_MODULES) {
    const source = readFileSync(join(EGRESS_CODE_DIR, module), 'utf8');
    const specs = [
      ...source.matchAll(/^\s*import\s+(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm),
      ...source.matchAll(/^\s*export\s+[^'";]*?\s+from\s+['"]([^'"]+)['"]/gm),
      ...source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
    ].map((m) => m[1] ?? '');
    for (const spec of specs) {
      if (spec.startsWith('node:')) continue;
      assert.ok(spec.startsWith('.'), `${module} imports ${spec}, a package the image does not have`);
      const target = posix.normalize(posix.join(posix.dirname(module), spec));
      assert.ok(EGRESS_MODULES.includes(target), `${module} imports ${target}, which EGRESS_MODULES does not list`);
    }
  }
});

context('gives a new tag when the egress proxy changes', () => {
  const docker = temp({ 'Dockerfile.node-alpine': 'FROM ${BASE}\n' });
  const code = (changed: Record<string, string> = {}): string => temp({ ...Object.fromEntries(EGRESS_MODULES.map((m) => [m, `// ${m}\n`])), ...changed });
  const before = computeImageTag(readContextFiles(docker, code()), BASE);
  assert.is.not(computeImageTag(readContextFiles(docker, code({ 'egress/proxy.js': '// v2\n' })), BASE), before);
  assert.is.not(computeImageTag(readContextFiles(docker, code({ 'http/framing.js': '// v2\n' })), BASE), before);
  assert.is(computeImageTag(readContextFiles(docker, code()), BASE), before);
});

context('fails with IMAGE_BUILD_FAILED when the compiled proxy is missing', () => {
  try {
    readContextFiles(temp({ 'Dockerfile.node-alpine': 'FROM ${BASE}\n' }), temp({}));
    assert.unreachable('read a context without the proxy');
  } catch (error) {
    assert.is((error as { code?: string }).code, 'IMAGE_BUILD_FAILED');
  }
});

context('reads the package\'s own docker/ and dist/src/egress/ by default, with the sidecar script', () => {
  const names = readContextFiles(DOCKER_DIR).map((f) => f.name);
  for (const name of ['Dockerfile.node-alpine', 'egress-sidecar.mjs', 'egress-forward.mjs', 'loopback-sidecar.mjs', 'lib/egress/proxy.js', 'lib/egress/match.js', 'lib/egress/tls-hello.js', 'lib/http/framing.js', 'lib/package.json']) {
    assert.ok(names.includes(name), `${name} is missing from ${names.join(', ')}`);
  }
  assert.ok(EGRESS_CODE_DIR.endsWith('/dist/src/'), EGRESS_CODE_DIR);
});

context.run();
