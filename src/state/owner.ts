import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Owner } from '../sandbox/labels.js';

function readBootId(): string {
  try { return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim().slice(0, 8); } catch { return ''; }
}

/** Returns the fields of /proc/PID/stat after the command name (state first), or undefined. */
function readStatFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces, so count from its closing paren.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * Returns a process's start time: clock ticks since boot from /proc, or where there is no /proc
 * (macOS, the BSDs) the start time `ps` gives (to the second); '' when neither can tell.
 */
export function readStartTicks(pid: number): string {
  const fields = readStatFields(pid);
  if (fields) return fields[19] ?? '';
  if (process.platform === 'linux' || process.platform === 'win32') return '';
  try {
    return execFileSync('ps', ['-o', 'lstart=', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().replace(/\s+/g, ' ');
  } catch {
    return '';
  }
}

/** Returns the boot id and start time of an owner's `startTicks` (`BOOT:TIME`; the time may hold colons). */
export function splitStartTicks(startTicks: string): { boot: string; ticks: string } {
  const at = startTicks.indexOf(':');
  return at < 0 ? { boot: '', ticks: startTicks } : { boot: startTicks.slice(0, at), ticks: startTicks.slice(at + 1) };
}

let own: Owner | undefined;

/** Returns the owner record of the current process (read once: it does not change). */
export function currentOwner(): Owner {
  own ??= { pid: process.pid, startTicks: `${readBootId()}:${readStartTicks(process.pid)}`, host: hostname() };
  return { ...own };
}

/** Returns true while the owner process still runs (same boot, same pid, same start time). */
export function isOwnerAlive(owner: Owner): boolean {
  if (owner.host !== hostname()) return true; // another machine's container: not ours to judge
  const { boot, ticks } = splitStartTicks(owner.startTicks);
  if (boot && boot !== readBootId()) return false;
  try { process.kill(owner.pid, 0); } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const fields = readStatFields(owner.pid);
  // A killed process that nobody has reaped yet (a zombie) still has its pid and start time.
  if (fields?.[0] === 'Z') return false;
  return !ticks || (fields ? fields[19] ?? '' : readStartTicks(owner.pid)) === ticks;
}

/** Returns a process's arguments, or undefined when it is gone or cannot be read. */
function readCommandLine(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((arg) => arg !== '');
  } catch {
    if (process.platform === 'linux') return undefined;
  }
  try {
    // No /proc (macOS): ps, whose one line cannot tell spaces in a path from separators.
    const line = execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return line === '' ? undefined : line.split(/\s+(?=\S*supervisor[\\/]main\.js$)/);
  } catch {
    return undefined;
  }
}

/**
 * Returns true when `pid` is a running mcp-lok supervisor (node running its supervisor script).
 * A record in the state folder is a file anything with the user's rights can edit: its pid is
 * signalled (by stop) only when this holds, so a record cannot make mcp-lok kill another process,
 * nor a pid of 0 or -1 every process of a group or of the user.
 */
export function isSupervisorProcess(pid: unknown): boolean {
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 1) return false;
  const args = readCommandLine(pid);
  if (!args || args.length < 2) return false;
  const [program = '', script = ''] = args;
  return /^node(js)?[0-9.]*(\.exe)?$/.test(program.split(/[\\/]/).pop() ?? '') && /[\\/]supervisor[\\/]main\.js$/.test(script);
}
