import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { installKey, isRecordFresh, npmInstallSpec, packageVolume, recordHoldsTree, requestedSpecs, type InstallRecord } from '../../src/prepare/install.js';
import { parsePackageSpec } from '../../src/request/package-spec.js';
import type { PackageSpec } from '../../src/request/package-spec.js';

const spec = (raw: string, kind: PackageSpec['kind']): PackageSpec => ({ raw, name: raw.split('@')[0] ?? raw, selector: 'x', kind });
const record = (resolvedAt: number): InstallRecord => ({ specs: [], registry: 'r', volume: 'v', dir: 'd', packages: [], resolvedAt });

const fresh = suite('isRecordFresh');

fresh('never re-resolves exact versions, however old', () => {
  assert.ok(isRecordFresh(record(0), [spec('a', 'version')], 1000, 10 ** 12));
});

fresh('re-resolves tags and ranges once older than the interval', () => {
  assert.ok(isRecordFresh(record(1000), [spec('a', 'tag')], 500, 1400));
  assert.not.ok(isRecordFresh(record(1000), [spec('a', 'tag')], 500, 1500));
  assert.not.ok(isRecordFresh(record(1000), [spec('a', 'version'), spec('b', 'range')], 500, 1600));
});

fresh('re-resolves every time with an interval of 0, never with Infinity', () => {
  assert.not.ok(isRecordFresh(record(1000), [spec('a', 'tag')], 0, 1000));
  assert.ok(isRecordFresh(record(0), [spec('a', 'tag')], Infinity, 10 ** 12));
});

fresh.run();

const key = suite('installKey');

key('differs by spec, order and registry, and is stable', () => {
  const k = installKey(['a@1', 'b@2'], 'https://r/');
  assert.is(k, installKey(['a@1', 'b@2'], 'https://r/'));
  assert.is.not(k, installKey(['b@2', 'a@1'], 'https://r/'));
  assert.is.not(k, installKey(['a@1', 'b@2'], 'https://other/'));
  assert.match(k, /^[0-9a-f]{16}$/);
});

key.run();

const npmSpec = suite('npmInstallSpec');

npmSpec('a bare name goes to npm bare (engine-aware, as npx picks), anything explicit as given', () => {
  const table: Array<[string, string]> = [
    ['firecrawl-mcp', 'firecrawl-mcp'],
    ['@sentry/mcp-server', '@sentry/mcp-server'],
    ['firecrawl-mcp@latest', 'firecrawl-mcp@latest'],
    ['@scope/pkg@1.2.3', '@scope/pkg@1.2.3'],
    ['pkg@^2', 'pkg@^2'],
    ['pkg@next', 'pkg@next'],
  ];
  for (const [raw, want] of table) assert.is(npmInstallSpec(parsePackageSpec(raw)), want, raw);
});

npmSpec.run();

const trees = suite('recordHoldsTree');

trees('knows the trees an engine\'s record lists, and a record of an older version by its one tree', () => {
  const older = record(0);
  assert.ok(recordHoldsTree(older, 'd'));
  assert.not.ok(recordHoldsTree(older, 'e'));
  assert.ok(recordHoldsTree({ ...older, trees: ['d', 'e'] }, 'e'));
  assert.not.ok(recordHoldsTree(undefined, 'd'));
});

trees.run();

const names = suite('requestedSpecs and packageVolume');

names('names the specs as asked (the selector npx would use), and one volume per specs and registry', () => {
  const specs = requestedSpecs(['pkg', '@s/b@^2', 'c@1.0.0'].map(parsePackageSpec));
  assert.equal(specs, ['pkg@latest', '@s/b@^2', 'c@1.0.0']);
  assert.is(packageVolume(specs, 'https://r/'), `mcp-lok-pkg-${installKey(specs, 'https://r/')}`);
});

names.run();

const resolved = suite('checkResolvedTree');

const lockOf = (version: string): string => JSON.stringify({
  lockfileVersion: 3,
  packages: { '': { dependencies: { lying: '^1.0.0' } }, 'node_modules/lying': { version, integrity: 'sha512-abc' } },
});

resolved('takes each package\'s version and integrity from npm\'s lockfile, not from what its own package.json claims', async () => {
  const { checkResolvedTree } = await import('../../src/prepare/install.js');
  const { parseLockfile, treeDirOf } = await import('../../src/prepare/lockfile.js');
  const lockfile = lockOf('1.0.0');
  const dir = treeDirOf(parseLockfile(lockfile));
  // The tarball's package.json says 99.0.0 and retitles the terminal.
  const result = checkResolvedTree({ ok: true, dir, lockfile, packages: [{ name: 'lying', version: '99.0.0\u001b]0;owned\u0007', integrity: '', bin: {} }] });
  assert.ok(result.ok, result.message);
  assert.equal(result.packages, [{ name: 'lying', version: '1.0.0', integrity: 'sha512-abc', bin: {} }]);
  const missing = checkResolvedTree({ ok: true, dir, lockfile, packages: [{ name: 'other', version: '1.0.0', integrity: '', bin: {} }] });
  assert.not.ok(missing.ok);
  assert.match(missing.message ?? '', /does not hold "other"/);
});

resolved('refuses to pin a tree holding a package the registry gave no integrity for (a bundled one is covered by its parent)', async () => {
  const { checkResolvedTree } = await import('../../src/prepare/install.js');
  const { parseLockfile, treeDirOf } = await import('../../src/prepare/lockfile.js');
  const lockWith = (extra: Record<string, unknown>): string => JSON.stringify({
    lockfileVersion: 3,
    packages: { '': { dependencies: { lying: '^1.0.0' } }, 'node_modules/lying': { version: '1.0.0', integrity: 'sha512-abc' }, ...extra },
  });
  const bare = lockWith({ 'node_modules/naked': { version: '2.0.0' } });
  const refused = checkResolvedTree({ ok: true, dir: treeDirOf(parseLockfile(bare)), lockfile: bare, packages: [{ name: 'lying', version: '1.0.0', integrity: '', bin: {} }] });
  assert.not.ok(refused.ok);
  assert.match(refused.message ?? '', /no integrity for "naked@2\.0\.0"/);
  const bundled = lockWith({ 'node_modules/lying/node_modules/inner': { version: '3.0.0', inBundle: true } });
  const kept = checkResolvedTree({ ok: true, dir: treeDirOf(parseLockfile(bundled)), lockfile: bundled, packages: [{ name: 'lying', version: '1.0.0', integrity: '', bin: {} }] });
  assert.ok(kept.ok, kept.message);
});

resolved.run();
