import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { EXIT, LokError } from '../errors.js';
import type { Owner } from '../sandbox/labels.js';
import { currentOwner, isOwnerAlive } from './owner.js';

const POLL_MS = 150;
/** A lock whose holder cannot be checked (unreadable, pid-only, another machine's) is taken over at this age. */
export const UNCHECKED_LOCK_MS = 10 * 60 * 1000;
/** The one file of a lock written before holders were recorded with their start time: the pid alone. */
const PID_ONLY_FILE = 'pid';
/** A holder record is under 100 bytes; more than this is not one (read no further). */
const MAX_HOLDER_BYTES = 4096;

/**
 * Returns the text of a regular file, at most MAX_HOLDER_BYTES, and its mtime; the text is
 * undefined for anything else. No link is followed and nothing blocks: a named pipe put in a
 * lock folder would otherwise hold the read (and the process's exit) until something writes to it.
 */
async function readHolderFile(path: string): Promise<{ text: string | undefined; mtimeMs: number }> {
  const handle = await open(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
  try {
    const info = await handle.stat();
    if (!info.isFile()) return { text: undefined, mtimeMs: info.mtimeMs };
    const buffer = Buffer.alloc(MAX_HOLDER_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, MAX_HOLDER_BYTES, 0);
    return { text: buffer.toString('utf8', 0, bytesRead), mtimeMs: info.mtimeMs };
  } finally {
    await handle.close();
  }
}

/**
 * One holder of a lock: a file in the lock's directory, named uniquely for one acquisition, so
 * that taking over a stale lock removes that holder's file and never a newer holder's.
 */
export interface LockHolder {
  file: string;
  /** Undefined when the record cannot be read. */
  owner: Owner | undefined;
  /** `pid-only`: the old format (a file `pid`), which cannot tell a reused pid from its holder. */
  format: 'owner' | 'pid-only';
  writtenMs: number;
}

/** Returns the holder recorded in a lock file's text: an Owner as JSON, or a bare pid in the old `pid` file. */
export function parseLockHolder(file: string, text: string, writtenMs: number, host: string): LockHolder {
  if (file === PID_ONLY_FILE) {
    const pid = /^\s*(\d{1,10})\s*$/.exec(text)?.[1];
    const owner = pid !== undefined && Number(pid) > 0 ? { pid: Number(pid), startTicks: '', host } : undefined;
    return { file, owner, format: 'pid-only', writtenMs };
  }
  let owner: Owner | undefined;
  try {
    const value = JSON.parse(text) as Partial<Owner> | null;
    if (value && Number.isInteger(value.pid) && (value.pid ?? 0) > 0 && typeof value.startTicks === 'string' && typeof value.host === 'string') {
      owner = { pid: value.pid as number, startTicks: value.startTicks, host: value.host };
    }
  } catch { /* unreadable: judged by age */ }
  return { file, owner, format: 'owner', writtenMs };
}

/**
 * Returns true when a holder no longer holds its lock: its process is gone, or its pid now
 * belongs to a process with another start time (judged as owners are, by isOwnerAlive). A
 * holder that cannot be checked that way holds it for UNCHECKED_LOCK_MS, not forever.
 */
export function isHolderGone(holder: LockHolder, nowMs: number, host: string, isAlive: (owner: Owner) => boolean): boolean {
  const old = nowMs - holder.writtenMs > UNCHECKED_LOCK_MS;
  if (!holder.owner) return old;
  if (holder.owner.host !== host) return old;
  if (!isAlive(holder.owner)) return true;
  return holder.format === 'pid-only' && old;
}

/** Returns the lock's holders (none when it is free, or being released or taken over). */
export async function readLockHolders(path: string): Promise<LockHolder[]> {
  let files: string[];
  try { files = await readdir(path); } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const host = hostname();
  const holders: LockHolder[] = [];
  for (const file of files) {
    try {
      const { text, mtimeMs } = await readHolderFile(join(path, file));
      holders.push(text === undefined ? { file, owner: undefined, format: 'owner', writtenMs: mtimeMs } : parseLockHolder(file, text, mtimeMs, host));
    } catch (error) {
      // Gone since readdir: released. Anything else (a link, a folder, no permission): judged by age.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      const info = await lstat(join(path, file)).catch(() => undefined);
      holders.push({ file, owner: undefined, format: 'owner', writtenMs: info?.mtimeMs ?? 0 });
    }
  }
  return holders;
}

/** Writes this acquisition's holder record into a private folder beside the lock, ready to be renamed into place. */
export async function stageHolder(path: string, owner: Owner): Promise<{ staging: string; file: string }> {
  const file = `${owner.pid}.${randomBytes(8).toString('hex')}`;
  const staging = join(dirname(path), `.${basename(path)}.${file}`);
  await mkdir(staging);
  try {
    await writeFile(join(staging, file), JSON.stringify(owner));
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  return { staging, file };
}

/**
 * Returns true when the staged folder became the lock. rename is atomic, and fails while the lock
 * folder holds a file, so the lock appears with its holder's record already in it.
 */
export async function tryTakeLock(staging: string, path: string): Promise<boolean> {
  try {
    await rename(staging, path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
    if (code === 'ENOTDIR') {
      throw new LokError('INSTALL_FAILED', `The install lock ${path} is not a folder (mcp-lok makes only folders there).`, {
        exitCode: EXIT.engine, hint: `Remove it (rm ${path}) if no mcp-lok of yours is installing, and run again.`,
      });
    }
    throw error;
  }
}

/**
 * Removes the given (stale) holders' files, then the lock folder if that left it empty. A taker
 * that judged the same holder late finds its file gone and a newer holder's file in the folder,
 * which neither removal touches: two takers of one stale lock cannot both end up holding it.
 */
export async function removeHolders(path: string, holders: readonly LockHolder[]): Promise<void> {
  for (const holder of holders) await rm(join(path, holder.file), { recursive: true, force: true });
  await removeIfEmpty(path);
}

async function removeIfEmpty(path: string): Promise<void> {
  try { await rmdir(path); } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
  }
}

/** Removes staging folders beside the lock that processes which died before taking it left behind. */
async function removeDeadStaging(path: string): Promise<void> {
  const prefix = `.${basename(path)}.`;
  const names = (await readdir(dirname(path)).catch(() => [] as string[])).filter((n) => n.startsWith(prefix));
  const host = hostname();
  for (const name of names) {
    const file = name.slice(prefix.length);
    // A staging folder is ours: a link in its place is not followed.
    const staged = await lstat(join(dirname(path), name)).catch(() => undefined);
    const text = staged?.isDirectory() ? (await readHolderFile(join(dirname(path), name, file)).catch(() => undefined))?.text : undefined;
    const holder = text === undefined ? undefined : parseLockHolder(file, text, 0, host);
    if (holder?.owner && holder.owner.host === host && !isOwnerAlive(holder.owner)) {
      await rm(join(dirname(path), name), { recursive: true, force: true }).catch(() => {});
    }
  }
}

/**
 * Runs `work` while holding a host-wide lock (a folder holding its holder's record), so two
 * shims never install the same package at once. A lock whose holder is gone, or whose pid now
 * belongs to another process, is taken over; exactly one of several takers gets it.
 */
export async function withLock<T>(path: string, work: () => Promise<T>, onWait?: () => void): Promise<T> {
  await mkdir(dirname(path), { recursive: true });
  const { staging, file } = await stageHolder(path, currentOwner());
  try {
    let waited = false;
    let quickTries = 0;
    while (!(await tryTakeLock(staging, path))) {
      const holders = await readLockHolders(path);
      const now = Date.now();
      const host = hostname();
      if (holders.length > 0 && holders.every((h) => isHolderGone(h, now, host, isOwnerAlive))) { await removeHolders(path, holders); continue; }
      // None: released (or taken over) since the rename failed; try again at once, a few times.
      if (holders.length === 0 && quickTries++ < 3) continue;
      if (!waited) { waited = true; onWait?.(); }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  try {
    await removeDeadStaging(path).catch(() => {});
    return await work();
  } finally {
    await rm(join(path, file), { force: true });
    await removeIfEmpty(path);
  }
}
