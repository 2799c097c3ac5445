import { LABEL, readOwner } from '../sandbox/labels.js';
import { isOwnerAlive } from '../state/owner.js';
import { listContainers, removeContainer } from './containers.js';
import type { EngineEndpoint } from './endpoint.js';

/**
 * Removes containers whose owning process is gone (a client killed with -9, a crash, a
 * reboot). Returns the names removed. Runs at the start of every mcp-lok command.
 */
export async function sweepOrphans(endpoint: EngineEndpoint): Promise<string[]> {
  const containers = await listContainers(endpoint, [`${LABEL.managed}=true`, LABEL.ownerPid]);
  const removed: string[] = [];
  await Promise.all(containers.map(async (c) => {
    const owner = readOwner(c.Labels);
    if (!owner || isOwnerAlive(owner)) return;
    await removeContainer(endpoint, c.Id);
    removed.push(c.Labels[LABEL.name] ?? c.Names[0] ?? c.Id);
  }));
  return removed;
}
