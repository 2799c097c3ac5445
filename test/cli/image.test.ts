import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { describeClusterImage, parseClusterBuild, runImage } from '../../src/cli/commands/image.js';
import { LokError } from '../../src/errors.js';
import { testContext } from '../support/context.js';

const home = mkdtempSync(join(tmpdir(), 'lok-image-args-'));
const ctx = testContext({ home });
const parse = (positionals: string[], values: Record<string, string | boolean | undefined>) => parseClusterBuild(ctx, positionals[0] ?? 'show', positionals.slice(1), { positionals, values });

const args = suite('image build --push/--tag');

args('reads a package build with --push: the ref, the push, and the npx request pinned (no --refresh-after)', () => {
  const req = parse(['build', 'npx://@modelcontextprotocol/server-memory@2025.9.25'], { push: '127.0.0.1:5000/team/memory:1' });
  assert.is(req?.ref, '127.0.0.1:5000/team/memory:1');
  assert.is(req?.push, true);
  assert.is(req?.target.kind, 'package');
  if (req?.target.kind !== 'package') return;
  const source = req.target.server.source;
  assert.is(source.kind, 'npx');
  if (source.kind !== 'npx') return;
  assert.equal(source.packages.map((p) => `${p.name}@${p.selector}`), ['@modelcontextprotocol/server-memory@2025.9.25']);
  assert.is(req.target.server.lok.refreshAfterMs, undefined);
});

args('reads --tag as build and tag only, and --egress-proxy without a package', () => {
  assert.equal(parse(['build'], { tag: 'mcp-lok-egress:dev', 'egress-proxy': true }), { ref: 'mcp-lok-egress:dev', push: false, target: { kind: 'egress-proxy' } });
});

args('leaves other image commands alone', () => {
  assert.is(parse(['build'], {}), undefined);
  assert.is(parse(['show'], { json: true }), undefined);
});

for (const [positionals, values, message, code] of [
  [['build', 'npx://a'], { push: 'Bad Ref' }, /--push expects an image reference/, 2],
  [['build', 'npx://a'], { push: 'r.example/a@sha256:' + 'a'.repeat(64) }, /needs a tag, not a digest/, 2],
  [['build', 'npx://a'], { push: 'r.example/a:1', tag: 'r.example/a:1' }, /not both/, 2],
  [['build'], { 'egress-proxy': true }, /--egress-proxy needs --push REF or --tag REF/, 2],
  [['build', 'npx://a'], { push: 'r.example/a:1', 'egress-proxy': true }, /takes no package/, 2],
  [['build'], { push: 'r.example/a:1' }, /Name the package/, 2],
  [['build', 'npx://a', 'npx://b'], { push: 'r.example/a:1' }, /one package/, 2],
  [['build', 'ghcr.io/org/server:1'], { push: 'r.example/a:1' }, /is an image already/, 2],
  [['build', 'npx://./local'], { push: 'r.example/a:1' }, /.+/, 2],
  [['rm'], { push: 'r.example/a:1' }, /go with `mcp-lok image build`, not `rm`/, 2],
  [['build', 'npx://a'], { push: 'r.example/a:1', homes: true }, /--homes goes with/, 2],
] as const) {
  args(`refuses ${positionals.join(' ')} ${JSON.stringify(values)} in one line, before asking the engine`, async () => {
    let error: unknown;
    try { await runImage(ctx, { positionals: [...positionals], values: { ...values } }); } catch (e) { error = e; }
    assert.instance(error, LokError, String(error));
    assert.match((error as LokError).message, message);
    assert.not.match((error as LokError).message, /\n/);
    assert.is((error as LokError).exitCode, code);
  });
}

args('says what was made: pushed with its digest, or only built', () => {
  const packages = [{ name: 'a', version: '1.0.0', integrity: 'sha512-a' }];
  assert.is(describeClusterImage({ ref: 'r.example/a:1', kind: 'package', base: 'b', pushed: true, digest: 'sha256:ab', packages, tree: '0123456789abcdef' }),
    'Pushed r.example/a:1@sha256:ab: a@1.0.0, tree 0123456789abcdef (its lockfile at /opt/mcp-lok/pkg/package-lock.json).');
  assert.is(describeClusterImage({ ref: 'e:1', kind: 'egress-proxy', base: 'b', pushed: false, digest: undefined }), 'Built e:1 (not pushed: --push REF pushes it): the egress proxy.');
});

args.run();
