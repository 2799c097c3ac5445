import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LokError } from '../../src/errors.js';
import type { Owner } from '../../src/sandbox/labels.js';
import {
  isHolderGone, parseLockHolder, readLockHolders, removeHolders, stageHolder, tryTakeLock, UNCHECKED_LOCK_MS, withLock, type LockHolder,
} from '../../src/state/lock.js';
import { currentOwner, readStartTicks } from '../../src/state/owner.js';

const HOST = hostname();
const NOW = 1_000_000_000;
const owner = (pid: number, startTicks = 'boot:123', host = HOST): Owner => ({ pid, startTicks, host });
const holder = (o: Owner | undefined, ageMs = 0, format: LockHolder['format'] = 'owner'): LockHolder => ({ file: 'f', owner: o, format, writtenMs: NOW - ageMs });

const parse = suite('parseLockHolder');

for (const [title, file, text, expected] of [
  ['reads an owner record', '42.ab', JSON.stringify(owner(42)), { owner: owner(42), format: 'owner' }],
  ['reads the old format, a bare pid in the file `pid`, as a pid-only holder on this machine', 'pid', '42', { owner: { pid: 42, startTicks: '', host: HOST }, format: 'pid-only' }],
  ['reads an old-format pid with a trailing newline', 'pid', '42\n', { owner: { pid: 42, startTicks: '', host: HOST }, format: 'pid-only' }],
  ['reads no holder from an old-format file without a pid', 'pid', 'nope', { owner: undefined, format: 'pid-only' }],
  ['reads no holder from pid 0 (it would name a process group)', 'pid', '0', { owner: undefined, format: 'pid-only' }],
  ['reads no holder from a torn or foreign record', '42.ab', '{"pid":4', { owner: undefined, format: 'owner' }],
  ['reads no holder from a record whose pid is not a positive whole number', '42.ab', JSON.stringify({ pid: '42', startTicks: 'b:1', host: HOST }), { owner: undefined, format: 'owner' }],
  ['reads no holder from JSON null', '42.ab', 'null', { owner: undefined, format: 'owner' }],
] as const) {
  parse(title, () => {
    const read = parseLockHolder(file, text, 7, HOST);
    assert.equal({ owner: read.owner, format: read.format }, expected);
    assert.is(read.file, file);
    assert.is(read.writtenMs, 7);
  });
}

parse.run();

const gone = suite('isHolderGone');
const OLD = UNCHECKED_LOCK_MS + 1;

for (const [title, h, alive, expected] of [
  ['keeps a live holder', holder(owner(1)), true, false],
  ['keeps a live holder however long it holds the lock (a slow install)', holder(owner(1), OLD * 10), true, false],
  ['drops a holder whose process is gone, or whose pid has another start time now', holder(owner(1)), false, true],
  ['keeps a pid-only (old-format) holder whose pid runs, for a while', holder(owner(1, ''), 0, 'pid-only'), true, false],
  ['drops a pid-only holder whose pid runs once the lock is old: that pid may be another process now', holder(owner(1, ''), OLD, 'pid-only'), true, true],
  ['drops a pid-only holder whose pid is gone', holder(owner(1, ''), 0, 'pid-only'), false, true],
  ['keeps another machine\'s holder (it cannot be checked here), for a while', holder(owner(1, 'b:1', 'elsewhere')), false, false],
  ['drops another machine\'s holder once the lock is old', holder(owner(1, 'b:1', 'elsewhere'), OLD), true, true],
  ['keeps an unreadable holder (it may be written right now), for a while', holder(undefined), true, false],
  ['drops an unreadable holder once the lock is old', holder(undefined, OLD), true, true],
] as const) {
  gone(title, () => {
    assert.is(isHolderGone(h, NOW, HOST, () => alive), expected);
  });
}

gone.run();

// Real folders, real processes.

const LOCK_JS = fileURLToPath(new URL('../../src/state/lock.js', import.meta.url));
/** A child that takes the lock: `hold` keeps it until its stdin says so; `race` waits for `go`, then holds it briefly. */
const CHILD = `
import { appendFileSync } from 'node:fs';
import { withLock } from ${JSON.stringify(`file://${LOCK_JS}`)};
const [mode, path, log] = process.argv.slice(2);
const line = (text) => appendFileSync(log, text + ' ' + process.pid + '\\n');
const stdinLine = () => new Promise((resolve) => process.stdin.once('data', resolve));
if (mode === 'race') { process.stdout.write('ready\\n'); await stdinLine(); }
await withLock(path, async () => {
  line('in');
  if (mode === 'hold') { process.stdout.write('held\\n'); await stdinLine(); }
  else await new Promise((resolve) => setTimeout(resolve, 30));
  line('out');
}, () => process.stdout.write('waiting\\n'));
process.stdin.destroy();
`;

/** The longest any step waits here: it only catches a hang, never measures speed. */
const HANG_MS = 60_000;

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`still waiting after ${HANG_MS} ms: ${what}`)), HANG_MS); });
  return Promise.race([promise, hang]).finally(() => clearTimeout(timer));
}

let dir = '';
let script = '';
const children: ChildProcess[] = [];

function startChild(mode: 'hold' | 'race', path: string, log: string): ChildProcess {
  const child = spawn(process.execPath, [script, mode, path, log], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  return child;
}

function saidLine(child: ChildProcess, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      if (out.split('\n').includes(text)) { child.stdout?.off('data', onData); resolve(); }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before saying ${text}`)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', resolve));
}

/** Starts a process that only waits, and returns it with its owner record (pid and start time). */
async function liveProcess(): Promise<{ child: ChildProcess; owner: Owner }> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  children.push(child);
  await new Promise((resolve) => child.once('spawn', resolve));
  const boot = currentOwner().startTicks.split(':')[0] ?? '';
  return { child, owner: { pid: child.pid ?? 0, startTicks: `${boot}:${readStartTicks(child.pid ?? 0)}`, host: HOST } };
}

/** Returns the owner record of a process that has exited (and been reaped). */
async function deadOwner(): Promise<Owner> {
  const { child, owner: o } = await liveProcess();
  child.kill('SIGKILL');
  await exited(child);
  return o;
}

function writeHolder(path: string, file: string, text: string): void {
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, file), text);
}

/** Runs withLock in this process; resolves with whether it had to wait. */
async function takeHere(path: string, log: string): Promise<{ waited: boolean }> {
  let waited = false;
  await withLock(path, async () => { writeFileSync(log, `${readLog(log)}in here\n`); }, () => { waited = true; });
  return { waited };
}

function readLog(log: string): string {
  return existsSync(log) ? readFileSync(log, 'utf8') : '';
}

/** Leftovers beside the lock: the lock folder itself, or a staging folder. */
function leftovers(): string[] {
  return readdirSync(dir).filter((name) => name !== 'log' && name !== 'child.mjs' && !name.startsWith('log'));
}

const lock = suite('withLock');
lock.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'lok-lock-'));
  script = join(dir, 'child.mjs');
  writeFileSync(script, CHILD);
});
lock.after.each(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited(child); }
  rmSync(dir, { recursive: true, force: true });
});

lock('blocks while another process holds the lock, and takes it once released', async () => {
  const path = join(dir, 'key');
  const log = join(dir, 'log');
  const holderChild = startChild('hold', path, log);
  await within(saidLine(holderChild, 'held'), 'the child to hold the lock');
  let waiting!: () => void;
  const waited = new Promise<void>((resolve) => { waiting = resolve; });
  const taking = withLock(path, async () => { writeFileSync(log, `${readLog(log)}in here\n`); }, () => waiting());
  await within(waited, 'this process to wait for the lock');
  assert.is(readLog(log), `in ${holderChild.pid}\n`, 'nothing entered while the child held the lock');
  holderChild.stdin?.write('release\n');
  await within(taking, 'the lock after the child released it');
  assert.is(readLog(log), `in ${holderChild.pid}\nout ${holderChild.pid}\nin here\n`);
  assert.is(await exited(holderChild), 0);
  assert.equal(leftovers(), []);
});

lock('takes over a lock whose holder has died', async () => {
  const path = join(dir, 'key');
  const dead = await deadOwner();
  writeHolder(path, `${dead.pid}.0123456789abcdef`, JSON.stringify(dead));
  const { waited } = await within(takeHere(path, join(dir, 'log')), 'a dead holder\'s lock');
  assert.not.ok(waited);
  assert.is(readLog(join(dir, 'log')), 'in here\n');
  assert.equal(leftovers(), []);
});

lock('takes over a lock whose pid now belongs to a process with another start time (a reused pid)', async () => {
  const path = join(dir, 'key');
  const { child, owner: live } = await liveProcess();
  const [boot, ticks] = live.startTicks.split(':');
  assert.ok(ticks, 'this machine has /proc start times');
  writeHolder(path, `${live.pid}.0123456789abcdef`, JSON.stringify({ ...live, startTicks: `${boot}:${Number(ticks) + 1}` }));
  const { waited } = await within(takeHere(path, join(dir, 'log')), 'a reused pid\'s lock');
  assert.not.ok(waited);
  assert.is(child.exitCode, null, 'the process that has the pid now is left alone');
  assert.equal(leftovers(), []);
});

lock('keeps a lock whose holder runs with the recorded start time, until that process dies', async () => {
  const path = join(dir, 'key');
  const { child, owner: live } = await liveProcess();
  writeHolder(path, `${live.pid}.0123456789abcdef`, JSON.stringify(live));
  let waiting!: () => void;
  const waited = new Promise<void>((resolve) => { waiting = resolve; });
  let entered = false;
  const taking = withLock(path, async () => { entered = true; }, () => waiting());
  await within(waited, 'this process to wait for a live holder');
  assert.not.ok(entered);
  child.kill('SIGKILL');
  await within(taking, 'the lock after its holder died');
  assert.ok(entered);
  assert.equal(leftovers(), []);
});

lock('reads the old format (a file `pid`): a dead pid\'s lock is taken', async () => {
  const path = join(dir, 'key');
  writeHolder(path, 'pid', String((await deadOwner()).pid));
  const { waited } = await within(takeHere(path, join(dir, 'log')), 'an old-format lock of a dead pid');
  assert.not.ok(waited);
  assert.equal(leftovers(), []);
});

lock('reads the old format: a running pid holds it, but not past the age a reused pid cannot outlast', async () => {
  const path = join(dir, 'key');
  const { child } = await liveProcess();
  writeHolder(path, 'pid', String(child.pid));
  let waiting!: () => void;
  const waited = new Promise<void>((resolve) => { waiting = resolve; });
  let entered = false;
  const taking = withLock(path, async () => { entered = true; }, () => waiting());
  await within(waited, 'this process to wait for an old-format holder');
  assert.not.ok(entered);
  const old = new Date(Date.now() - UNCHECKED_LOCK_MS - 60_000);
  utimesSync(join(path, 'pid'), old, old);
  await within(taking, 'an old-format lock past its age');
  assert.ok(entered);
  assert.is(child.exitCode, null);
  assert.equal(leftovers(), []);
});

lock('takes a lock folder an old version left empty (it died before writing its pid)', async () => {
  const path = join(dir, 'key');
  mkdirSync(path);
  const { waited } = await within(takeHere(path, join(dir, 'log')), 'an empty lock folder');
  assert.not.ok(waited);
  assert.equal(leftovers(), []);
});

lock('lets exactly one of two takers that judged the same holder stale hold the lock', async () => {
  const path = join(dir, 'key');
  const dead = await deadOwner();
  writeHolder(path, `${dead.pid}.0123456789abcdef`, JSON.stringify(dead));
  const a = await stageHolder(path, currentOwner());
  const b = await stageHolder(path, currentOwner());
  const seenByA = await readLockHolders(path);
  const seenByB = await readLockHolders(path);
  assert.equal(seenByB, seenByA);
  assert.ok(seenByA.every((h) => isHolderGone(h, Date.now(), HOST, () => false)));
  // A takes over first; B, late, acts on what it saw before.
  await removeHolders(path, seenByA);
  assert.ok(await tryTakeLock(a.staging, path));
  await removeHolders(path, seenByB);
  assert.not.ok(await tryTakeLock(b.staging, path), 'B must not take a lock A holds');
  assert.equal((await readLockHolders(path)).map((h) => h.file), [a.file]);
  rmSync(b.staging, { recursive: true, force: true });
});

lock('lets one process at a time in when several take over the same stale lock at once', async () => {
  const path = join(dir, 'key');
  const TAKERS = 5;
  for (let round = 0; round < 3; round++) {
    const log = join(dir, `log-${round}`);
    const dead = await deadOwner();
    writeHolder(path, `${dead.pid}.0123456789abcdef`, JSON.stringify(dead));
    const takers = Array.from({ length: TAKERS }, () => startChild('race', path, log));
    await within(Promise.all(takers.map((c) => saidLine(c, 'ready'))), 'the takers to start');
    for (const c of takers) c.stdin?.write('go\n');
    const codes = await within(Promise.all(takers.map(exited)), 'the takers to finish');
    assert.equal(codes, takers.map(() => 0));
    const lines = readLog(log).trim().split('\n');
    assert.is(lines.length, TAKERS * 2, `every taker got the lock once (round ${round})`);
    for (let i = 0; i < lines.length; i += 2) {
      const [inLine, outLine] = [lines[i] ?? '', lines[i + 1] ?? ''];
      assert.ok(inLine.startsWith('in ') && outLine === `out ${inLine.slice(3)}`, `one holder at a time (round ${round}):\n${lines.join('\n')}`);
    }
    assert.equal(leftovers(), [], 'no lock and no staging folder is left behind');
  }
});

lock('removes staging folders that dead takers left beside the lock', async () => {
  const path = join(dir, 'key');
  const dead = await deadOwner();
  const leftover = join(dir, `.key.${dead.pid}.0123456789abcdef`);
  writeHolder(leftover, `${dead.pid}.0123456789abcdef`, JSON.stringify(dead));
  const { child, owner: live } = await liveProcess();
  const waiting = join(dir, `.key.${live.pid}.fedcba9876543210`);
  writeHolder(waiting, `${live.pid}.fedcba9876543210`, JSON.stringify(live));
  await within(takeHere(path, join(dir, 'log')), 'the lock');
  assert.not.ok(existsSync(leftover));
  assert.ok(existsSync(waiting), 'a live waiter\'s staging folder stays');
  child.kill('SIGKILL');
});

lock('reads a holder that is a link as one it cannot check, without following it', async () => {
  const path = join(dir, 'key');
  const { child, owner: live } = await liveProcess();
  const elsewhere = join(dir, 'elsewhere.json');
  writeFileSync(elsewhere, JSON.stringify(live));
  mkdirSync(path);
  symlinkSync(elsewhere, join(path, `${live.pid}.0123456789abcdef`));
  const [read] = await readLockHolders(path);
  assert.is(read?.owner, undefined);
  child.kill('SIGKILL');
});

lock('reads a holder that is a named pipe as one it cannot check, without waiting for a writer', async () => {
  const path = join(dir, 'key');
  mkdirSync(path);
  const pipe = join(path, '42.0123456789abcdef');
  execFileSync('mkfifo', [pipe]);
  const { child, owner: live } = await liveProcess();
  let settled = false;
  const reading = readLockHolders(path).finally(() => { settled = true; });
  // A reader blocked in open() lets a writer in: write a live holder's record, as a planted pipe's owner could.
  while (!settled) {
    try {
      const fd = openSync(pipe, constants.O_WRONLY | constants.O_NONBLOCK);
      writeSync(fd, JSON.stringify(live));
      closeSync(fd);
      break;
    } catch { await new Promise((r) => setTimeout(r, 20)); }
  }
  const [read] = await within(reading, 'reading the lock');
  assert.is(read?.owner, undefined);
  child.kill('SIGKILL');
});

lock('refuses, in one line, a lock path that is not a folder, and leaves no staging folder', async () => {
  const path = join(dir, 'key');
  writeFileSync(path, 'not a lock');
  const error = await withLock(path, async () => 'ran').catch((e: unknown) => e);
  assert.instance(error, LokError);
  assert.match((error as LokError).message, /is not a folder/);
  assert.equal(leftovers(), ['key']);
});

lock.run();
