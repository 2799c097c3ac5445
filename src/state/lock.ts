import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const POLL_MS = 150;
/** A lock older than this whose holder cannot be checked is taken over. */
const STALE_LOCK_MS = 10 * 60 * 1000;

function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (error) { return (error as NodeJS.ErrnoException).code === 'EPERM'; }
}

async function isStale(dir: string): Promise<boolean> {
  try {
    const pid = Number(await readFile(join(dir, 'pid'), 'utf8'));
    if (Number.isInteger(pid) && pid > 0) return !isAlive(pid);
    return Date.now() - (await stat(dir)).mtimeMs > STALE_LOCK_MS;
  } catch {
    return false;
  }
}

/**
 * Runs `work` while holding a host-wide lock (a directory, created atomically), so two shims
 * never install the same package at once. A lock whose holder died is taken over.
 */
export async function withLock<T>(path: string, work: () => Promise<T>, onWait?: () => void): Promise<T> {
  await mkdir(join(path, '..'), { recursive: true });
  let waited = false;
  for (;;) {
    try {
      await mkdir(path);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (await isStale(path)) { await rm(path, { recursive: true, force: true }); continue; }
      if (!waited) { waited = true; onWait?.(); }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }
  try {
    await writeFile(join(path, 'pid'), String(process.pid));
    return await work();
  } finally {
    await rm(path, { recursive: true, force: true });
  }
}
