import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Owner } from '../sandbox/labels.js';
import type { BackgroundSpec } from '../app/supervisor-protocol.js';
import { removeLog } from './log-rotation.js';
import { isOwnerAlive, isSupervisorProcess } from './owner.js';
import { isContainerName } from '../sandbox/names.js';
import { writePrivateFile } from './atomic-file.js';

/** Returns a server name fit to be a file name here; front ends check names first, this is the last line. */
function safeName(name: string): string {
  if (!isContainerName(name)) throw new Error(`not a server name: ${JSON.stringify(name)}`);
  return name;
}

/**
 * A server sent to the background by `mcp-lok start`. Its containers come and go (restarts,
 * one per client session), so this record, kept by its supervisor, is what `list`, `stop`,
 * `logs` and a later `start NAME` read. It holds the server's whole request (variables' values,
 * the profile's content), so it is private to the user (0600).
 */
export interface ServerRecord {
  name: string;
  /** The request it was started with (what was approved), to start it again after a reboot; absent in records of older versions. */
  spec?: BackgroundSpec;
  transport: 'sse' | 'streamable-http';
  host: string;
  port: number;
  url: string;
  mode: 'proxy' | 'bridge' | undefined;
  source: string;
  profile: string;
  allows: string[];
  supervisor: Owner | undefined;
  state: 'starting' | 'running' | 'restarting' | 'waiting for the engine' | 'stopped';
  restarts: number;
  sessions?: number;
  lastExit?: string;
  /** The key of the package pin its last start ran (`list` shows the pinned version); absent when floating, from an image, or not started yet. */
  pinKey?: string | undefined;
  startedAt: string;
  updatedAt: string;
}

/** Returns the directory of server records. */
export function recordsDir(stateDir: string): string {
  return join(stateDir, 'servers');
}

/** Returns where a started server's log (its output, the supervisor's and the proxy's lines) is kept. */
export function serverLogPath(stateDir: string, name: string): string {
  return join(stateDir, 'logs', `${safeName(name)}.log`);
}

/** Writes a record atomically (a reader never sees half of one). */
export function writeRecord(stateDir: string, record: ServerRecord): void {
  writePrivateFile(join(recordsDir(stateDir), `${safeName(record.name)}.json`), `${JSON.stringify(record, null, 2)}\n`);
}

/** Returns a server's record, or undefined. */
export function readRecord(stateDir: string, name: string): ServerRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(recordsDir(stateDir), `${safeName(name)}.json`), 'utf8')) as ServerRecord;
  } catch {
    return undefined;
  }
}

/** Returns every record, sorted by name. */
export function readRecords(stateDir: string): ServerRecord[] {
  let entries: string[];
  try { entries = readdirSync(recordsDir(stateDir)); } catch { return []; }
  return entries
    .filter((e) => e.endsWith('.json'))
    .map((e) => readRecord(stateDir, e.slice(0, -'.json'.length)))
    .filter((r): r is ServerRecord => r !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Removes a record and its log. */
export function removeRecord(stateDir: string, name: string): void {
  rmSync(join(recordsDir(stateDir), `${safeName(name)}.json`), { force: true });
  removeLog(serverLogPath(stateDir, name));
}

/** Returns true while the record's supervisor runs (after a reboot or `kill -9`, false; never for a pid that is not an mcp-lok supervisor). */
export function isSupervised(record: ServerRecord): boolean {
  return record.supervisor !== undefined && isSupervisorProcess(record.supervisor.pid) && isOwnerAlive(record.supervisor);
}

/** Returns the record as it truly is: a dead supervisor means a stopped server, whatever the file says. */
export function effectiveRecord(record: ServerRecord): ServerRecord {
  return isSupervised(record) ? record : { ...record, state: 'stopped', sessions: 0 };
}
