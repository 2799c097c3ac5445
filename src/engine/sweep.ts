import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LABEL, readOwner } from '../sandbox/labels.js';
import { isOwnerAlive } from '../state/owner.js';
import { listContainers, removeContainer } from './containers.js';
import type { EngineEndpoint } from './endpoint.js';

/** A pipe directory younger than this may belong to a container still being created. */
const FRESH_RUN_DIR_MS = 60_000;

/**
 * Removes what crashed or killed mcp-lok processes left behind: containers whose owning
 * process is gone (a client killed with -9, a crash, a reboot), and named-pipe directories
 * whose container no longer exists. Returns the names removed. Runs at every start.
 */
export async function sweepOrphans(endpoint: EngineEndpoint, runDir: string, now: number): Promise<string[]> {
  const containers = await listContainers(endpoint, [`${LABEL.managed}=true`]);
  const removed: string[] = [];
  const gone = new Set<string>();
  await Promise.all(containers.map(async (c) => {
    const owner = readOwner(c.Labels);
    if (!owner || isOwnerAlive(owner)) return;
    await removeContainer(endpoint, c.Id);
    gone.add(c.Id);
    removed.push(c.Labels[LABEL.name] ?? c.Names[0] ?? c.Id);
  }));
  // A run folder is named after its server (egress, ingress) or after its container (a session's
  // pipes and egress socket, `NAME-SESSION.x`): both names of every container left keep theirs.
  const live = new Set(containers.filter((c) => !gone.has(c.Id)).flatMap((c) => [c.Labels[LABEL.name] ?? '', ...c.Names.map((n) => n.replace(/^\//, ''))]).filter((n) => n !== ''));
  const entries = await readdir(runDir).catch(() => [] as string[]);
  await Promise.all(entries.map(async (entry) => {
    const name = entry.slice(0, entry.lastIndexOf('.'));
    const path = join(runDir, entry);
    if (live.has(name)) return;
    const age = now - (await stat(path).catch(() => ({ mtimeMs: now }))).mtimeMs;
    if (age < FRESH_RUN_DIR_MS) return;
    await rm(path, { recursive: true, force: true });
    removed.push(entry);
  }));
  return removed;
}
