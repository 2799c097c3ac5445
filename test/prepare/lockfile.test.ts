import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  diffLockfiles, isEmptyDiff, nameOfLockPath, parseLockfile, renderLockDiff, topLevelEntry, treeDirOf, type LockDiff,
} from '../../src/prepare/lockfile.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

type Entry = { version: string; integrity?: string; hasInstallScript?: boolean; link?: boolean };
const lock = (packages: Record<string, Entry>, deps: Record<string, string> = { app: '^1.0.0' }): string =>
  JSON.stringify({ name: 'mcp-lok-install', lockfileVersion: 3, packages: { '': { name: 'mcp-lok-install', dependencies: deps }, ...packages } });
const sha = (text: string): string => `sha512-${createHash('sha512').update(text).digest('base64')}`;

const V1 = lock({
  'node_modules/app': { version: '1.0.0', integrity: sha('app1') },
  'node_modules/left': { version: '1.0.0', integrity: sha('left1') },
  'node_modules/gone': { version: '2.0.0', integrity: sha('gone2') },
  'node_modules/@s/same': { version: '3.0.0', integrity: sha('same3') },
  'node_modules/twice': { version: '1.0.0', integrity: sha('twice1') },
  'node_modules/left/node_modules/twice': { version: '2.0.0', integrity: sha('twice2') },
  'node_modules/swap': { version: '1.0.0', integrity: sha('swap-a') },
});
const V2 = lock({
  'node_modules/app': { version: '1.1.0', integrity: sha('app11') },
  'node_modules/left': { version: '1.2.0', integrity: sha('left12'), hasInstallScript: true },
  'node_modules/@s/same': { version: '3.0.0', integrity: sha('same3') },
  'node_modules/new': { version: '0.1.0', integrity: sha('new01'), hasInstallScript: true },
  'node_modules/@s/quiet': { version: '5.0.0', integrity: sha('quiet5') },
  'node_modules/twice': { version: '1.0.0', integrity: sha('twice1') },
  'node_modules/swap': { version: '1.0.0', integrity: sha('swap-b') },
});

const parse = suite('parseLockfile');

parse('reads each package at its path, sorted, with version, integrity and install script', () => {
  const parsed = parseLockfile(V2);
  assert.equal(parsed.dependencies, { app: '^1.0.0' });
  assert.equal(parsed.entries.map((e) => e.path), [
    'node_modules/@s/quiet', 'node_modules/@s/same', 'node_modules/app', 'node_modules/left', 'node_modules/new', 'node_modules/swap', 'node_modules/twice',
  ]);
  assert.equal(topLevelEntry(parsed, 'left'), { path: 'node_modules/left', name: 'left', version: '1.2.0', integrity: sha('left12'), hasInstallScript: true });
  assert.is(topLevelEntry(parsed, 'nothing'), undefined);
});

const REFUSED: Array<[string, string, RegExp]> = [
  ['not JSON', '{', /not JSON/],
  ['no packages (an npm 6 lockfile)', JSON.stringify({ lockfileVersion: 1, dependencies: {} }), /no "packages"/],
  ['a path that is no package', lock({ 'lib/x': { version: '1.0.0' } }), /not a package/],
  ['a link to a folder', lock({ 'node_modules/x': { version: '1.0.0', link: true } }), /links/],
  ['an entry without a version', lock({ 'node_modules/x': { version: '' } }), /has no version/],
  ['a control character in a path', lock({ 'node_modules/x\u001b[2J': { version: '1.0.0' } }), /not a package/],
  ['a root dependency without a range', JSON.stringify({ packages: { '': { dependencies: { x: 1 } } } }), /has no range/],
];
for (const [what, text, message] of REFUSED) {
  parse(`refuses ${what}`, () => {
    assert.throws(() => parseLockfile(text), message);
  });
}

parse.run();

const names = suite('nameOfLockPath');

for (const [path, name] of [
  ['node_modules/a', 'a'],
  ['node_modules/@s/a', '@s/a'],
  ['node_modules/a/node_modules/@s/b', '@s/b'],
  ['node_modules/a/node_modules/b', 'b'],
  ['node_modules/@s', undefined],
  ['lib/a', undefined],
  ['', undefined],
] as const) {
  names(`reads ${JSON.stringify(path)} as ${String(name)}`, () => { assert.is(nameOfLockPath(path), name); });
}

names.run();

const dirs = suite('treeDirOf');

dirs('names a tree by every package\'s path, version and integrity, in any key order', () => {
  const a = treeDirOf(parseLockfile(V1));
  assert.match(a, /^[0-9a-f]{16}$/);
  const reordered = JSON.parse(V1) as { packages: Record<string, unknown> };
  const shuffled = JSON.stringify({ packages: Object.fromEntries(Object.entries(reordered.packages).reverse()) });
  assert.is(treeDirOf(parseLockfile(shuffled)), a);
  assert.is.not(treeDirOf(parseLockfile(V1.replace(sha('gone2'), sha('other')))), a, 'another tarball, another tree');
  assert.is.not(treeDirOf(parseLockfile(V1.replace('"2.0.0"', '"2.0.1"'))), a, 'another version, another tree');
});

dirs('is computed alike by docker/install.mjs, which names the tree in the sandbox', () => {
  const source = readFileSync(join(ROOT, 'docker', 'install.mjs'), 'utf8');
  const body = /\nfunction treeDirOf\(lock\) \{\n[\s\S]*?\n\}\n/.exec(source)?.[0];
  assert.ok(body, 'install.mjs has treeDirOf');
  const inSandbox = new Function('createHash', `${body}; return treeDirOf;`)(createHash) as (lock: unknown) => string;
  for (const text of [V1, V2, lock({})]) assert.is(inSandbox(JSON.parse(text)), treeDirOf(parseLockfile(text)));
});

dirs.run();

const diff = suite('diffLockfiles');

diff('shows the requested version change, and each dependency added, removed or changed', () => {
  const d = diffLockfiles(parseLockfile(V1), parseLockfile(V2), ['app']);
  assert.equal(d, {
    packages: [{ name: 'app', from: '1.0.0', to: '1.1.0', hasInstallScript: false }],
    added: [
      { name: '@s/quiet', versions: ['5.0.0'], hasInstallScript: false },
      { name: 'new', versions: ['0.1.0'], hasInstallScript: true },
    ],
    removed: [{ name: 'gone', versions: ['2.0.0'], hasInstallScript: false }],
    changed: [
      { name: 'left', from: ['1.0.0'], to: ['1.2.0'], hasInstallScript: true, sameVersionsOtherTarballs: false },
      { name: 'swap', from: ['1.0.0'], to: ['1.0.0'], hasInstallScript: false, sameVersionsOtherTarballs: true },
      { name: 'twice', from: ['1.0.0', '2.0.0'], to: ['1.0.0'], hasInstallScript: false, sameVersionsOtherTarballs: false },
    ],
  } satisfies LockDiff);
  assert.not.ok(isEmptyDiff(d));
});

diff('finds nothing between a tree and itself, and all of it against no tree', () => {
  const same = diffLockfiles(parseLockfile(V2), parseLockfile(V2), ['app']);
  assert.ok(isEmptyDiff(same));
  const fresh = diffLockfiles(undefined, parseLockfile(V1), ['app']);
  assert.equal(fresh.packages, [{ name: 'app', from: undefined, to: '1.0.0', hasInstallScript: false }]);
  assert.is(fresh.added.length, 5);
  assert.equal(fresh.removed, []);
});

diff('keeps each requested package out of the dependency lists', () => {
  const d = diffLockfiles(parseLockfile(V1), parseLockfile(V2), ['app', 'left']);
  assert.equal(d.packages.map((p) => [p.name, p.from, p.to, p.hasInstallScript]), [['app', '1.0.0', '1.1.0', false], ['left', '1.0.0', '1.2.0', true]]);
  assert.not.ok(d.changed.some((c) => c.name === 'left'));
});

diff.run();

const render = suite('renderLockDiff');

render('says the version change, then one line per dependency, and which declare install scripts', () => {
  assert.equal(renderLockDiff(diffLockfiles(parseLockfile(V1), parseLockfile(V2), ['app'])), [
    'app: 1.0.0 -> 1.1.0',
    'Dependencies: 2 added, 1 removed, 3 changed:',
    '  + @s/quiet 5.0.0',
    '  + new 0.1.0 (declares an install script; it stays off)',
    '  - gone 2.0.0',
    '  ~ left 1.0.0 -> 1.2.0 (declares an install script; it stays off)',
    '  ~ swap 1.0.0 (same version, a different tarball)',
    '  ~ twice 1.0.0, 2.0.0 -> 1.0.0',
  ]);
});

render('says when the dependencies are unchanged, and when there was no pinned lockfile', () => {
  const only = lock({ 'node_modules/app': { version: '1.0.1', integrity: sha('x'), hasInstallScript: true } });
  const before = lock({ 'node_modules/app': { version: '1.0.0', integrity: sha('y') } });
  assert.equal(renderLockDiff(diffLockfiles(parseLockfile(before), parseLockfile(only), ['app'])), [
    'app: 1.0.0 -> 1.0.1 (declares an install script; it stays off)', 'Dependencies: unchanged.',
  ]);
  assert.equal(renderLockDiff(diffLockfiles(undefined, parseLockfile(only), ['app']))[0], 'app: (not pinned) -> 1.0.1 (declares an install script; it stays off)');
});

render.run();
