import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writePrivateFile } from './atomic-file.js';

/**
 * What `mcp-lok wrap` changed in one server entry of a client's config, kept so that `unwrap`
 * puts back the very bytes it replaced, whatever else changed in the file meanwhile. It holds
 * the entry's original arguments (which can carry a token), so the file is private (0600).
 */
export interface WrapRecord {
  /** The config file (its real path) and the keys leading to the entry. */
  file: string;
  key: string[];
  client: string;
  name: string;
  /** The command's and the arguments' value texts before the wrap, byte for byte. */
  original: { command: string; args: string };
  /** What the wrap wrote, as values. */
  wrapped: { command: string; args: string[] };
  /** How many arguments the wrap put in front, and the text they replaced (`cmd /c npx` keeps its `"/c", "npx", `). */
  inserted: number;
  replaced: string;
  at: string;
}

/** Returns where the wrap records are kept. */
export function wrapRecordsPath(stateDir: string): string {
  return join(stateDir, 'wrapped.json');
}

/** Returns the key a record is found by: the file and the keys inside it. */
export function wrapRecordKey(file: string, key: readonly string[]): string {
  return JSON.stringify([file, ...key]);
}

function isRecord(value: unknown): value is WrapRecord {
  const r = value as Partial<WrapRecord> | null;
  return typeof r === 'object' && r !== null && typeof r.file === 'string' && Array.isArray(r.key) && r.key.every((k) => typeof k === 'string')
    && typeof r.original?.command === 'string' && typeof r.original.args === 'string'
    && typeof r.wrapped?.command === 'string' && Array.isArray(r.wrapped.args) && Number.isInteger(r.inserted) && typeof r.replaced === 'string';
}

/** Returns the wrap records (none when the file is missing; malformed ones are skipped). */
export function readWrapRecords(stateDir: string): WrapRecord[] {
  let data: unknown;
  try { data = JSON.parse(readFileSync(wrapRecordsPath(stateDir), 'utf8')); } catch { return []; }
  const list = (data as { records?: unknown } | null)?.records;
  return Array.isArray(list) ? list.filter(isRecord) : [];
}

/** Replaces the wrap records, atomically and privately. */
export function writeWrapRecords(stateDir: string, records: readonly WrapRecord[]): void {
  writePrivateFile(wrapRecordsPath(stateDir), `${JSON.stringify({ version: 1, records }, null, 2)}\n`);
}
