import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Owner } from '../sandbox/labels.js';

function readBootId(): string {
  try { return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim().slice(0, 8); } catch { return ''; }
}

/** Returns a process's start time in clock ticks since boot, or '' where /proc is absent. */
export function readStartTicks(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22; the command name (field 2) may hold spaces, so count from its closing paren.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? '';
  } catch {
    return '';
  }
}

/** Returns the owner record of the current process. */
export function currentOwner(): Owner {
  return { pid: process.pid, startTicks: `${readBootId()}:${readStartTicks(process.pid)}`, host: hostname() };
}

/** Returns true while the owner process still runs (same boot, same pid, same start time). */
export function isOwnerAlive(owner: Owner): boolean {
  if (owner.host !== hostname()) return true; // another machine's container: not ours to judge
  const [boot, ticks] = owner.startTicks.split(':');
  if (boot && boot !== readBootId()) return false;
  try { process.kill(owner.pid, 0); } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  return !ticks || readStartTicks(owner.pid) === ticks;
}
