import { randomBytes } from 'node:crypto';
import { chownSync, closeSync, constants, copyFileSync, fsyncSync, openSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeSync, chmodSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** A config file as read: its text, and what a rewrite must keep (its real path, mode and owner). */
export interface LoadedFile {
  path: string;
  /** The file behind any links (dotfiles kept in a repository): the one that is rewritten. */
  real: string;
  text: string;
  mode: number;
  uid: number;
  gid: number;
}

/** Returns the file, or undefined when there is none (any other failure throws). */
export function readConfigFile(path: string): LoadedFile | undefined {
  let real: string;
  try { real = realpathSync(path); } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw error;
  }
  const stat = statSync(real);
  if (!stat.isFile()) throw new Error('not a regular file');
  const bytes = readFileSync(real);
  const text = bytes.toString('utf8');
  // Written back as UTF-8: a file in another encoding would not come back byte for byte.
  if (!Buffer.from(text, 'utf8').equals(bytes)) throw new Error('not UTF-8 text');
  return { path, real, text, mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid };
}

/** Returns a timestamp for backup names: `20250102-030405`. */
export function backupStamp(now: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
}

/**
 * Rewrites a config file atomically (a temporary file beside it, then a rename: a client never
 * reads half a file), with the same mode and owner, after copying it to a backup beside it
 * (`FILE.mcp-lok-backup-STAMP`). Refuses when the file changed since it was read (a client
 * wrote it meanwhile), so nothing the client wrote is lost. Returns the backup's path.
 */
export function writeConfigFile(file: LoadedFile, text: string, now: Date): string {
  const current = readFileSync(file.real, 'utf8');
  if (current !== file.text) throw new Error('it changed while mcp-lok was editing it (a client wrote it?); nothing was written: run the command again');
  let backup = `${file.real}.mcp-lok-backup-${backupStamp(now)}`;
  for (let n = 2; ; n++) {
    try { copyFileSync(file.real, backup, constants.COPYFILE_EXCL); break; } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      backup = `${file.real}.mcp-lok-backup-${backupStamp(now)}-${n}`;
    }
  }
  chmodSync(backup, file.mode);
  const tmp = join(dirname(file.real), `.${basename(file.real)}.mcp-lok-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fd = openSync(tmp, 'wx', file.mode);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(tmp, file.mode);
    // root editing another user's file (sudo) must not leave it owned by root.
    if (process.getuid?.() === 0 && (file.uid !== 0 || file.gid !== 0)) { chownSync(tmp, file.uid, file.gid); chownSync(backup, file.uid, file.gid); }
    renameSync(tmp, file.real);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
  return backup;
}
