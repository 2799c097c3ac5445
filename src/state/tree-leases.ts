// Trees a process will start containers from later, when none of its containers may be running:
// an HTTP server's client sessions and restarts, the era gateway's sandboxes (stopped when
// idle). `update` removes a tree no pin names unless a container runs it or a live process
// holds it here, so a server started before a rollback keeps working until it stops.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Owner } from '../sandbox/labels.js';
import { writePrivateFile } from './atomic-file.js';
import { currentOwner, isOwnerAlive } from './owner.js';

/** A package tree: its volume and its directory there. */
export interface HeldTree {
  volume: string;
  dir: string;
}

interface Lease extends HeldTree {
  owner: Owner;
}

const DIR = /^[0-9a-f]{16}$/;
let serial = 0;

function leasesDir(stateDir: string): string {
  return join(stateDir, 'tree-leases');
}

/** Records that this process may start containers from `tree`; returns the function that lets it go (once). */
export function holdTree(stateDir: string, tree: HeldTree): () => void {
  const owner = currentOwner();
  const path = join(leasesDir(stateDir), `${owner.pid}-${serial++}.json`);
  const lease: Lease = { volume: tree.volume, dir: tree.dir, owner };
  writePrivateFile(path, `${JSON.stringify(lease)}\n`);
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    rmSync(path, { force: true });
  };
}

function isLease(value: unknown): value is Lease {
  const v = value as Partial<Lease> | null;
  return typeof v === 'object' && v !== null && typeof v.volume === 'string' && typeof v.dir === 'string' && DIR.test(v.dir)
    && typeof v.owner === 'object' && v.owner !== null && typeof v.owner.pid === 'number' && typeof v.owner.startTicks === 'string' && typeof v.owner.host === 'string';
}

/** Returns the trees of `volume` that live processes hold; the leases of processes gone (or unreadable ones) are removed. */
export function heldTrees(stateDir: string, volume: string): string[] {
  const dir = leasesDir(stateDir);
  let files: string[];
  try { files = readdirSync(dir).filter((f) => f.endsWith('.json')); } catch { return []; }
  const held = new Set<string>();
  for (const file of files) {
    let lease: unknown;
    try { lease = JSON.parse(readFileSync(join(dir, file), 'utf8')); } catch { lease = undefined; }
    if (!isLease(lease) || !isOwnerAlive(lease.owner)) {
      // A lease being written is renamed into place whole: an unreadable one is no lease.
      rmSync(join(dir, file), { force: true });
      continue;
    }
    if (lease.volume === volume) held.add(lease.dir);
  }
  return [...held];
}
