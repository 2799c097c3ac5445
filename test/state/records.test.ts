import { mkdtempSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { currentOwner, readStartTicks } from '../../src/state/owner.js';
import {
  effectiveRecord, isSupervised, readRecord, readRecords, removeRecord, serverLogPath, writeRecord, type ServerRecord,
} from '../../src/state/records.js';

const records = suite('server records');
let dir = '';
records.before.each(() => { dir = mkdtempSync(join(tmpdir(), 'lok-records-')); });
records.after.each(() => { rmSync(dir, { recursive: true, force: true }); });

function record(name: string, supervisor = currentOwner()): ServerRecord {
  return {
    name, transport: 'streamable-http', host: '127.0.0.1', port: 8080, url: 'http://127.0.0.1:8080/mcp',
    mode: 'bridge', source: 'npx://pkg', profile: 'stdio', allows: [], supervisor, state: 'running', restarts: 0,
    startedAt: new Date(0).toISOString(), updatedAt: new Date(0).toISOString(),
  };
}

records('writes private files and reads them back, sorted', () => {
  writeRecord(dir, record('b'));
  writeRecord(dir, record('a'));
  assert.equal(readRecords(dir).map((r) => r.name), ['a', 'b']);
  assert.is(readRecord(dir, 'a')?.url, 'http://127.0.0.1:8080/mcp');
  assert.is(statSync(join(dir, 'servers', 'a.json')).mode & 0o777, 0o600);
});

records('says a record whose supervisor is gone is stopped (a reboot, kill -9), and one whose pid is no supervisor too', async () => {
  // A process that looks like a supervisor: node running .../supervisor/main.js.
  const fake = mkdtempSync(join(tmpdir(), 'lok-fake-supervisor-'));
  mkdirSync(join(fake, 'supervisor'));
  writeFileSync(join(fake, 'supervisor', 'main.js'), 'setTimeout(() => {}, 60_000);\n');
  const child = spawn(process.execPath, [join(fake, 'supervisor', 'main.js')], { stdio: 'ignore' });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const owner = currentOwner();
  const live = record('live', { pid: child.pid ?? 0, startTicks: `${owner.startTicks.split(':')[0]}:${readStartTicks(child.pid ?? 0)}`, host: hostname() });
  try {
    assert.ok(isSupervised(live));
    assert.is(effectiveRecord(live).state, 'running');
    assert.not.ok(isSupervised(record('test-runner', owner)), 'a live process that is not a supervisor counts as none');
  } finally {
    child.kill('SIGKILL');
    rmSync(fake, { recursive: true, force: true });
  }
  const dead = record('dead', { pid: 2 ** 22 + 1, startTicks: 'x:1', host: currentOwner().host });
  assert.not.ok(isSupervised(dead));
  assert.is(effectiveRecord(dead).state, 'stopped');
  assert.is(effectiveRecord({ ...live, supervisor: undefined }).state, 'stopped');
});

records('removes a record with its log; a missing one is no error', () => {
  writeRecord(dir, record('x'));
  mkdirSync(join(dir, 'logs'));
  writeFileSync(serverLogPath(dir, 'x'), 'line\n');
  writeFileSync(`${serverLogPath(dir, 'x')}.1`, 'older line\n');
  removeRecord(dir, 'x');
  removeRecord(dir, 'x');
  assert.is(readRecord(dir, 'x'), undefined);
  assert.not.ok(statSync(serverLogPath(dir, 'x'), { throwIfNoEntry: false }));
  assert.not.ok(statSync(`${serverLogPath(dir, 'x')}.1`, { throwIfNoEntry: false }), 'the rotated log was left');
});

records('skips unreadable files', () => {
  mkdirSync(join(dir, 'servers'), { recursive: true });
  writeFileSync(join(dir, 'servers', 'bad.json'), '{');
  assert.equal(readRecords(dir), []);
});

records.run();
