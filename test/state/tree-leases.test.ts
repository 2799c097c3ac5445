import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { currentOwner } from '../../src/state/owner.js';
import { heldTrees, holdTree } from '../../src/state/tree-leases.js';

const leases = suite('tree leases');
let dir = '';
leases.before.each(() => { dir = mkdtempSync(join(tmpdir(), 'lok-leases-')); });
leases.after.each(() => { rmSync(dir, { recursive: true, force: true }); });

const A = '0123456789abcdef';
const B = 'fedcba9876543210';

leases('a live process holds its tree in that volume until it lets it go', () => {
  const release = holdTree(dir, { volume: 'v1', dir: A });
  holdTree(dir, { volume: 'v2', dir: B });
  assert.equal(heldTrees(dir, 'v1'), [A]);
  assert.equal(heldTrees(dir, 'v2'), [B]);
  release();
  release();
  assert.equal(heldTrees(dir, 'v1'), []);
});

leases('a lease of a process gone, or one that is no lease, holds nothing and is removed', () => {
  const leasesDir = join(dir, 'tree-leases');
  holdTree(dir, { volume: 'v1', dir: A });
  const own = currentOwner();
  writeFileSync(join(leasesDir, 'gone.json'), JSON.stringify({ volume: 'v1', dir: B, owner: { pid: own.pid, startTicks: 'x:1', host: hostname() } }));
  writeFileSync(join(leasesDir, 'bad.json'), JSON.stringify({ volume: 'v1', dir: '../x', owner: own }));
  writeFileSync(join(leasesDir, 'torn.json'), '{"volume":');
  assert.equal(heldTrees(dir, 'v1'), [A]);
  assert.equal(readdirSync(leasesDir).length, 1);
});

leases('no folder of leases: nothing is held', () => {
  assert.equal(heldTrees(join(dir, 'none'), 'v1'), []);
});

leases.run();
