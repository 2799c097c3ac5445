import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseJsonStrict } from '../../src/sandbox/profile-json.js';
import { BUILT_IN_PROFILES, validateProfile } from '../../src/sandbox/profile-validate.js';

const shipped = suite('profiles/*.json');

for (const name of ['stdio', 'network'] as const) {
  shipped(`documents the built-in ${name} profile exactly`, () => {
    const path = fileURLToPath(new URL(`../../../profiles/${name}.json`, import.meta.url));
    const profile = validateProfile(parseJsonStrict(readFileSync(path, 'utf8'), path), path);
    assert.equal(profile, BUILT_IN_PROFILES[name]);
  });
}

shipped.run();
