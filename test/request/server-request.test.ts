import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { defaultContainerName } from '../../src/app/plan.js';
import { resolveUserEnv } from '../../src/request/server-request.js';

const env = suite('resolveUserEnv');

env('copies named variables from our environment and sets given values', () => {
  const out = resolveUserEnv([{ name: 'TOKEN', value: undefined }, { name: 'MODE', value: 'fast' }], { TOKEN: 't0k', HOME: '/root', SECRET: 's' });
  assert.equal(out, { TOKEN: 't0k', MODE: 'fast' });
});

env('passes nothing that was not named, and skips names that are unset', () => {
  assert.equal(resolveUserEnv([{ name: 'MISSING', value: undefined }], { HOME: '/root', PATH: '/bin' }), {});
});

env('keeps empty values and values with = signs', () => {
  assert.equal(resolveUserEnv([{ name: 'A', value: '' }, { name: 'B', value: 'x=y' }], {}), { A: '', B: 'x=y' });
});

env.run();

const name = suite('defaultContainerName');

for (const [pkg, expected] of [
  ['@modelcontextprotocol/server-memory', 'mcp-lok-modelcontextprotocol-server-memory-abc123'],
  ['cowsay', 'mcp-lok-cowsay-abc123'],
  ['@x/' + 'y'.repeat(80), `mcp-lok-x-${'y'.repeat(38)}-abc123`],
] as const) {
  name(`names ${pkg.slice(0, 40)} validly`, () => {
    const n = defaultContainerName(pkg, 'abc123');
    assert.is(n, expected);
    assert.match(n, /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/);
  });
}

name.run();
