import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { openServerLog, readEgressEntries, readServerLogTail } from '../../src/app/logs.js';
import type { EgressEntry } from '../../src/egress/proxy.js';
import { egressLogPath } from '../../src/egress/wiring.js';
import { rotatedLogPath } from '../../src/state/log-rotation.js';
import { getPaths } from '../../src/state/paths.js';
import { removeRecord, serverLogPath, writeRecord, type ServerRecord } from '../../src/state/records.js';
import { catchError } from '../support/catch-error.js';
import { testContext } from '../support/context.js';
import { startStandIn, type ProcessStandIn } from '../support/supervisor-stand-in.js';

let home = '';
const standIns: ProcessStandIn[] = [];
const state = (): string => getPaths({ MCP_LOK_HOME: home }).state;

function writeServer(name: string, over: Partial<ServerRecord> = {}): void {
  writeRecord(state(), {
    name, transport: 'sse', host: '127.0.0.1', port: 4000, url: 'http://127.0.0.1:4000/sse', mode: 'proxy', source: 'npx://pkg',
    profile: 'stdio', allows: [], supervisor: undefined, state: 'stopped', restarts: 0, startedAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z',
    ...over,
  });
}

/** Writes a server's log: the rotated file (when given) and the current one (when given). */
function writeLog(name: string, files: { rotated?: string; current?: string }): void {
  const path = serverLogPath(state(), name);
  mkdirSync(join(path, '..'), { recursive: true });
  if (files.rotated !== undefined) writeFileSync(rotatedLogPath(path), files.rotated);
  if (files.current !== undefined) writeFileSync(path, files.current);
}

function fresh(title: string): ReturnType<typeof suite> {
  const s = suite(title);
  s.before.each(() => { home = mkdtempSync(join(tmpdir(), 'lok-app-logs-')); });
  s.after.each(async () => {
    for (const p of standIns.splice(0)) await p.kill();
    rmSync(home, { recursive: true, force: true });
  });
  return s;
}

// --- openServerLog -------------------------------------------------------------------------

const open = fresh('openServerLog');

open('gives a background server\'s log path without asking the engine', async () => {
  writeServer('bg');
  const log = await openServerLog(testContext({ home }), 'bg');
  assert.is(log.path, serverLogPath(state(), 'bg'));
  assert.is(log.stillRunning(), false);
});

open('says still running while its supervisor runs, and not once the record says it stopped', async () => {
  const supervisor = await startStandIn({ supervisor: true });
  standIns.push(supervisor);
  writeServer('bg', { state: 'running', supervisor: supervisor.owner });
  const log = await openServerLog(testContext({ home }), 'bg');
  assert.is(log.stillRunning(), true);
  // It reads the record again each time: the supervisor rewrites it when it stops.
  writeServer('bg', { state: 'stopped', supervisor: undefined });
  assert.is(log.stillRunning(), false);
});

open('falls back to the record it opened when the record is removed meanwhile', async () => {
  const supervisor = await startStandIn({ supervisor: true });
  standIns.push(supervisor);
  writeServer('bg', { state: 'running', supervisor: supervisor.owner });
  const log = await openServerLog(testContext({ home }), 'bg');
  removeRecord(state(), 'bg');
  assert.is(log.stillRunning(), true);
  await supervisor.kill();
  assert.is(log.stillRunning(), false);
});

open('looks a name without a record up on the engine (its error comes through)', async () => {
  const ctx = testContext({ home, engine: () => Promise.reject(new Error('engine asked')) });
  try {
    await openServerLog(ctx, 'nothing');
    assert.unreachable('openServerLog resolved');
  } catch (error) {
    assert.is((error as Error).message, 'engine asked');
  }
});

open.run();

// --- readServerLogTail ---------------------------------------------------------------------

const tail = fresh('readServerLogTail');

tail('returns the last lines across the rotated file and the current one, oldest first', async () => {
  writeServer('bg');
  writeLog('bg', { rotated: 'r1\nr2\nr3\n', current: 'c1\nc2\n' });
  const ctx = testContext({ home });
  assert.equal(await readServerLogTail(ctx, 'bg', 3), ['r3', 'c1', 'c2']);
  assert.equal(await readServerLogTail(ctx, 'bg', 100), ['r1', 'r2', 'r3', 'c1', 'c2']);
  assert.equal(await readServerLogTail(ctx, 'bg', 0), []);
  assert.equal(await readServerLogTail(ctx, 'bg', 1), ['c2']);
});

tail('drops empty lines and keeps a last line without its newline', async () => {
  writeServer('bg');
  writeLog('bg', { current: 'one\n\n\ntwo\nthree' });
  assert.equal(await readServerLogTail(testContext({ home }), 'bg', 10), ['one', 'two', 'three']);
});

tail('reads the rotated file alone when the current one is not there yet', async () => {
  writeServer('bg');
  writeLog('bg', { rotated: 'old\n' });
  assert.equal(await readServerLogTail(testContext({ home }), 'bg', 10), ['old']);
});

tail('returns no lines for a server with no output yet', async () => {
  writeServer('bg');
  assert.equal(await readServerLogTail(testContext({ home }), 'bg', 10), []);
});

tail.run();

// --- readEgressEntries ---------------------------------------------------------------------

const entry = (host: string, allowed: boolean): EgressEntry => ({
  time: '2026-01-01T00:00:00.000Z', host, port: 443, address: allowed ? '127.0.0.1' : null, allowed, bytesOut: 0, bytesIn: 0,
  ...(allowed ? {} : { reason: `${host} is not in allow_host` }),
});

function writeEgress(name: string, files: { rotated?: EgressEntry[]; current?: EgressEntry[] | string }): void {
  const path = egressLogPath(state(), name);
  mkdirSync(join(path, '..'), { recursive: true });
  const lines = (list: EgressEntry[]): string => list.map((e) => `${JSON.stringify(e)}\n`).join('');
  if (files.rotated) writeFileSync(rotatedLogPath(path), lines(files.rotated));
  if (files.current !== undefined) writeFileSync(path, typeof files.current === 'string' ? files.current : lines(files.current));
}

const egress = fresh('readEgressEntries');

egress('returns every attempt, allowed and denied, rotated entries first', () => {
  const [a, b, c] = [entry('a.mcp-lok.test', false), entry('b.mcp-lok.test', true), entry('c.mcp-lok.test', false)];
  writeEgress('srv', { rotated: [a!], current: [b!, c!] });
  assert.equal(readEgressEntries(testContext({ home }), 'srv'), [a, b, c]);
});

egress('needs no record: a stdio server\'s egress log is read too', () => {
  writeEgress('stdio-only', { current: [entry('a.mcp-lok.test', false)] });
  assert.is(readEgressEntries(testContext({ home }), 'stdio-only').length, 1);
});

for (const [title, files] of [
  ['no egress log', {}],
  ['an empty egress log', { current: '' }],
] as const) {
  egress(`is NOT_FOUND for a server with ${title}, saying why there may be none`, () => {
    writeEgress('quiet', files);
    const error = catchError(() => readEgressEntries(testContext({ home }), 'quiet'));
    assert.is(error.code, 'NOT_FOUND');
    assert.match(error.message, /No egress log for "quiet": it never had an outbound allowlist, or made no attempt\./);
  });
}

egress.run();
