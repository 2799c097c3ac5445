import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  checkPin, listPins, pinsDir, readPin, readPinCheck, readPinnedLockfile, readPinSummary, updatePinCheck, writePin, writePinnedLockfile,
  type Pin, type PinnedTree,
} from '../../src/state/pins.js';
import { catchError } from '../support/catch-error.js';

const KEY = '0123456789abcdef';
const tree = (dir: string, version: string, pinnedAt = 1000): PinnedTree => ({
  dir, pinnedAt, packages: [{ name: '@s/pkg', version, integrity: `sha512-${version}`, bin: { pkg: 'cli.js' } }],
});
const pin = (current: PinnedTree, history: PinnedTree[] = [], key = KEY, specs = ['@s/pkg@latest']): Pin => ({ key, specs, registry: 'http://127.0.0.1:4873/', current, history });

const pins = suite('pins');
let dir = '';
pins.before.each(() => { dir = mkdtempSync(join(tmpdir(), 'lok-pins-')); });
pins.after.each(() => { rmSync(dir, { recursive: true, force: true }); });

pins('writes a private pin and reads it back; none is undefined', () => {
  assert.is(readPin(dir, KEY), undefined);
  writePin(dir, pin(tree('aaaaaaaaaaaaaaaa', '1.0.0')));
  assert.equal(readPin(dir, KEY), pin(tree('aaaaaaaaaaaaaaaa', '1.0.0')));
  assert.is(statSync(join(pinsDir(dir), `${KEY}.json`)).mode & 0o777, 0o600);
  assert.is(statSync(pinsDir(dir)).mode & 0o777, 0o700);
});

pins('keeps the lockfiles of the trees a pin names, and drops the others', () => {
  const a = tree('aaaaaaaaaaaaaaaa', '1.0.0');
  const b = tree('bbbbbbbbbbbbbbbb', '1.1.0');
  const c = tree('cccccccccccccccc', '1.2.0');
  for (const t of [a, b, c]) writePinnedLockfile(dir, KEY, t.dir, `{"lock":"${t.dir}"}`);
  writePinnedLockfile(dir, 'fedcba9876543210', a.dir, 'another pin\'s');
  writePin(dir, pin(c, [b]));
  assert.is(readPinnedLockfile(dir, KEY, a.dir), undefined);
  assert.is(readPinnedLockfile(dir, KEY, b.dir), '{"lock":"bbbbbbbbbbbbbbbb"}');
  assert.is(readPinnedLockfile(dir, KEY, c.dir), '{"lock":"cccccccccccccccc"}');
  assert.is(readPinnedLockfile(dir, 'fedcba9876543210', a.dir), 'another pin\'s', 'another pin\'s lockfile was removed');
});

pins('refuses keys and tree names that are not hashes (they become file names)', () => {
  assert.throws(() => readPin(dir, '../x'), /not a pin key/);
  assert.throws(() => writePinnedLockfile(dir, KEY, '../../etc', 'x'), /not a pinned tree/);
});

const DAMAGED: Array<[string, unknown, RegExp]> = [
  ['not an object', [], /not a pin/],
  ['another key', { ...pin(tree('aaaaaaaaaaaaaaaa', '1.0.0')), key: 'fedcba9876543210' }, /names another pin/],
  ['specs that are not text', { ...pin(tree('aaaaaaaaaaaaaaaa', '1.0.0')), specs: [1] }, /no package specs/],
  ['a registry that is no URL', { ...pin(tree('aaaaaaaaaaaaaaaa', '1.0.0')), registry: 'file:///x' }, /no registry/],
  ['a tree directory that is a path', pin(tree('../../../../tmp/x', '1.0.0')), /no pinned tree/],
  ['a package name that is not one', pin({ ...tree('aaaaaaaaaaaaaaaa', '1.0.0'), packages: [{ name: '../x', version: '1', integrity: '', bin: {} }] }), /no pinned tree/],
  ['a version with a control character', pin(tree('aaaaaaaaaaaaaaaa', '1.0.0\u001b[2J')), /no pinned tree/],
  ['no packages', pin({ ...tree('aaaaaaaaaaaaaaaa', '1.0.0'), packages: [] }), /no pinned tree/],
  ['a damaged history', { ...pin(tree('aaaaaaaaaaaaaaaa', '1.0.0')), history: [{}] }, /damaged history/],
];
for (const [what, value, message] of DAMAGED) {
  pins(`refuses a pin with ${what}, saying what to do`, () => {
    const error = catchError(() => checkPin(value, '/p.json', KEY));
    assert.match(error.message, message);
    assert.match(error.message, /^The pin \/p\.json is damaged/);
    assert.match(error.hint ?? '', /Remove it to pin anew/);
  });
}

pins('reads a damaged file as damaged, not as missing', () => {
  mkdirSync(pinsDir(dir), { recursive: true });
  writeFileSync(join(pinsDir(dir), `${KEY}.json`), '{');
  assert.match(catchError(() => readPin(dir, KEY)).message, /not JSON/);
});

pins('lists readable pins sorted by spec, skipping damaged ones', () => {
  writePin(dir, pin(tree('aaaaaaaaaaaaaaaa', '1.0.0'), [], 'aaaaaaaaaaaaaaaa', ['zed@latest']));
  writePin(dir, pin(tree('bbbbbbbbbbbbbbbb', '1.0.0'), [], 'bbbbbbbbbbbbbbbb', ['alpha@^1']));
  writeFileSync(join(pinsDir(dir), 'cccccccccccccccc.json'), '{"key":"cccccccccccccccc"}');
  assert.equal(listPins(dir).map((p) => p.specs[0]), ['alpha@^1', 'zed@latest']);
});

pins('keeps what a look for newer versions found apart from the pin, merging each change', () => {
  assert.equal(readPinCheck(dir, KEY), {});
  updatePinCheck(dir, KEY, { attemptAt: 5 });
  updatePinCheck(dir, KEY, { checkedAt: 7, newest: [{ name: '@s/pkg', version: '1.1.0' }] });
  assert.equal(readPinCheck(dir, KEY), { checkedAt: 7, attemptAt: 5, newest: [{ name: '@s/pkg', version: '1.1.0' }], notifiedAt: undefined });
  writeFileSync(join(pinsDir(dir), `${KEY}.check.json`), '{"checkedAt":"soon","newest":[{"name":"x","version":"\\u001b"}]}');
  assert.equal(readPinCheck(dir, KEY), { checkedAt: undefined, attemptAt: undefined, newest: [], notifiedAt: undefined });
  assert.equal(readdirSync(pinsDir(dir)).filter((f) => f.endsWith('.tmp')), []);
});

pins('summarizes a pin for other code: versions, integrities, newer versions found, earlier versions', () => {
  writePin(dir, pin(tree('bbbbbbbbbbbbbbbb', '1.1.0', Date.UTC(2026, 0, 2)), [tree('aaaaaaaaaaaaaaaa', '1.0.0')]));
  updatePinCheck(dir, KEY, { newest: [{ name: '@s/pkg', version: '1.2.0' }] });
  assert.equal(readPinSummary(dir, KEY), {
    specs: ['@s/pkg@latest'], registry: 'http://127.0.0.1:4873/',
    packages: [{ name: '@s/pkg', version: '1.1.0', integrity: 'sha512-1.1.0' }],
    pinnedAt: '2026-01-02T00:00:00.000Z', newer: [{ name: '@s/pkg', version: '1.2.0' }], previous: ['@s/pkg@1.0.0'],
  });
  updatePinCheck(dir, KEY, { newest: [{ name: '@s/pkg', version: '1.0.5' }] });
  assert.equal(readPinSummary(dir, KEY)?.newer, [], 'an older version is not newer');
  assert.is(readPinSummary(dir, 'fedcba9876543210'), undefined);
});

pins.run();
