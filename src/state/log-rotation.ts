// Logs that a server fills (its output, its outbound attempts) must not fill the disk: past
// LOG_MAX_BYTES the file becomes NAME.1, replacing the older one, and a new file starts.
// Readers print NAME.1, then NAME.
import { closeSync, copyFileSync, openSync, readSync, renameSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';

/** The size past which a log is rotated (one older file is kept: at most about twice this on disk). */
export const LOG_MAX_BYTES = 10 * 1024 * 1024;
/** The least cap MCP_LOK_LOG_MAX_BYTES may set. */
const LOG_MIN_BYTES = 64 * 1024;

/** Returns the log cap: MCP_LOK_LOG_MAX_BYTES (bytes, at least 64 KiB) when set to a whole number, else LOG_MAX_BYTES. */
export function logMaxBytes(env: Readonly<Record<string, string | undefined>>): number {
  const raw = env.MCP_LOK_LOG_MAX_BYTES;
  const n = raw !== undefined && /^\d{1,12}$/.test(raw) ? Number(raw) : NaN;
  return Number.isFinite(n) ? Math.max(n, LOG_MIN_BYTES) : LOG_MAX_BYTES;
}
/** How often a log held open by other processes (a background server's) is checked. */
export const LOG_CHECK_MS = 1000;

/** Returns the identity of a log's rotated file (a new one each rotation), or 0 when there is none. */
export function rotationId(path: string): number {
  return statSync(rotatedLogPath(path), { throwIfNoEntry: false })?.ino ?? 0;
}

/** Returns the path of the rotated (older) file of a log. */
export function rotatedLogPath(path: string): string {
  return `${path}.1`;
}

/** Returns the files of a log that exist, oldest first: the rotated one, then the current one. */
export function logFiles(path: string): string[] {
  return [rotatedLogPath(path), path].filter((p) => statSync(p, { throwIfNoEntry: false })?.isFile());
}

/** Removes a log and its rotated file. */
export function removeLog(path: string): void {
  rmSync(path, { force: true });
  rmSync(rotatedLogPath(path), { force: true });
}

/**
 * For a log opened for each append (the egress log): when `incomingBytes` more would take it
 * past `maxBytes`, moves it to PATH.1 so the append starts a new file. Returns true when it did.
 */
export function rotateBeforeAppend(path: string, incomingBytes: number, maxBytes = LOG_MAX_BYTES): boolean {
  const size = statSync(path, { throwIfNoEntry: false })?.size ?? 0;
  if (size === 0 || size + incomingBytes <= maxBytes) return false;
  renameSync(path, rotatedLogPath(path));
  return true;
}

/**
 * For a log that other processes hold open in append mode (a background server's: the
 * supervisor's stderr, shared with the relays of its containers' output): when past
 * `maxBytes`, copies it to PATH.1 and empties it in place, so their writes go on at its new
 * start. Returns true when it did. A line written in the instant between the last copy and
 * the truncation can be lost; nothing else is.
 */
export function rotateInPlace(path: string, maxBytes = LOG_MAX_BYTES): boolean {
  const size = statSync(path, { throwIfNoEntry: false })?.size ?? 0;
  if (size <= maxBytes) return false;
  const rotated = rotatedLogPath(path);
  const tmp = `${rotated}.${process.pid}.tmp`;
  copyFileSync(path, tmp);
  // Catch up with what was written during the copy, then put the copy in place (a follower
  // sees NAME.1 change and reads the rest there) and empty the file at once.
  const out = openSync(tmp, 'a');
  const input = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(64 * 1024);
    let offset = statSync(tmp).size;
    for (let n; (n = readSync(input, buffer, 0, buffer.length, offset)) > 0; offset += n) writeSync(out, buffer, 0, n);
  } finally {
    closeSync(input);
    closeSync(out);
  }
  renameSync(tmp, rotated);
  truncateSync(path, 0);
  return true;
}

/**
 * Checks a log that other processes write every `intervalMs` and rotates it in place past
 * `maxBytes` (see rotateInPlace). Returns a function that stops the checks; they never keep
 * the process alive.
 */
export function keepLogRotated(path: string, options: { maxBytes?: number; intervalMs?: number } = {}): () => void {
  const timer = setInterval(() => {
    try { rotateInPlace(path, options.maxBytes ?? LOG_MAX_BYTES); } catch { /* the log must not break the server */ }
  }, options.intervalMs ?? LOG_CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
