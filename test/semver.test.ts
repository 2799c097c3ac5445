import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { compareVersions } from '../src/semver.js';

const compare = suite('compareVersions');

const ORDERED: Array<[string, string]> = [
  ['1.0.0', '1.0.1'],
  ['1.0.9', '1.0.10'],
  ['1.9.0', '1.10.0'],
  ['1.2.3', '2.0.0'],
  ['1.0.0-alpha', '1.0.0'],
  ['1.0.0-alpha', '1.0.0-alpha.1'],
  ['1.0.0-alpha.1', '1.0.0-alpha.beta'],
  ['1.0.0-alpha.beta', '1.0.0-beta'],
  ['1.0.0-beta.2', '1.0.0-beta.11'],
  ['1.0.0-rc.1', '1.0.0'],
  ['not-a-version', '0.0.1'],
];

for (const [older, newer] of ORDERED) {
  compare(`puts ${older} before ${newer}`, () => {
    assert.ok(compareVersions(older, newer) < 0);
    assert.ok(compareVersions(newer, older) > 0);
  });
}

compare('treats build metadata and a leading v as the same version', () => {
  assert.is(compareVersions('1.2.3+build.5', '1.2.3'), 0);
  assert.is(compareVersions('v1.2.3', '1.2.3'), 0);
});

compare('sorts a list the way semver does', () => {
  const list = ['1.0.0', '1.0.0-rc.1', '0.9.9', '1.0.0-beta.11', '1.0.0-beta.2', '10.0.0', '2.0.0'];
  assert.equal([...list].sort(compareVersions), ['0.9.9', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '2.0.0', '10.0.0']);
});

compare.run();
