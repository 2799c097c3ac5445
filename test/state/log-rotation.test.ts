import { appendFileSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  keepLogRotated, LOG_MAX_BYTES, logFiles, removeLog, rotateBeforeAppend, rotateInPlace, rotatedLogPath,
} from '../../src/state/log-rotation.js';

let dir = '';
const read = (path: string): string => readFileSync(path, 'utf8');

const append = suite('rotateBeforeAppend');
append.before.each(() => { dir = mkdtempSync(join(tmpdir(), 'lok-rotate-')); });
append.after.each(() => { rmSync(dir, { recursive: true, force: true }); });

append('leaves a log under its cap, and a missing one, alone', () => {
  const log = join(dir, 'a.jsonl');
  assert.not.ok(rotateBeforeAppend(log, 50, 100));
  writeFileSync(log, 'x'.repeat(90));
  assert.not.ok(rotateBeforeAppend(log, 10, 100));
  assert.not.ok(existsSync(rotatedLogPath(log)));
});

append('moves a log the next append would take past its cap to NAME.1, replacing the older one', () => {
  const log = join(dir, 'a.jsonl');
  writeFileSync(rotatedLogPath(log), 'oldest\n');
  writeFileSync(log, 'older\n'.repeat(15));
  assert.ok(rotateBeforeAppend(log, 20, 100));
  assert.is(read(rotatedLogPath(log)), 'older\n'.repeat(15));
  assert.not.ok(existsSync(log));
  appendFileSync(log, 'new\n');
  assert.equal(logFiles(log), [rotatedLogPath(log), log]);
});

append('never rotates an empty log, even for one entry larger than the cap', () => {
  const log = join(dir, 'a.jsonl');
  writeFileSync(log, '');
  assert.not.ok(rotateBeforeAppend(log, 500, 100));
});

append('the default cap is 10 MiB', () => assert.is(LOG_MAX_BYTES, 10 * 1024 * 1024));
append.run();

const inPlace = suite('rotateInPlace');
inPlace.before.each(() => { dir = mkdtempSync(join(tmpdir(), 'lok-rotate-')); });
inPlace.after.each(() => { rmSync(dir, { recursive: true, force: true }); });

inPlace('copies a log past its cap to NAME.1 and empties it, while a writer keeps its descriptor', () => {
  const log = join(dir, 'server.log');
  const fd = openSync(log, 'a', 0o600);
  try {
    writeSync(fd, 'line\n'.repeat(30));
    assert.not.ok(rotateInPlace(log, 1000));
    assert.ok(rotateInPlace(log, 100));
    assert.is(read(rotatedLogPath(log)), 'line\n'.repeat(30));
    assert.is(statSync(rotatedLogPath(log)).mode & 0o777, 0o600);
    assert.is(statSync(log).size, 0);
    // The writer's next line lands at the start of the emptied file, with no hole before it.
    writeSync(fd, 'after\n');
    assert.is(read(log), 'after\n');
  } finally {
    closeSync(fd);
  }
  assert.not.ok(readFileSync(log).includes(0));
});

inPlace('keepLogRotated checks on its own until stopped', async () => {
  const log = join(dir, 'server.log');
  writeFileSync(log, 'x'.repeat(500));
  const stop = keepLogRotated(log, { maxBytes: 100, intervalMs: 10 });
  try {
    const deadline = Date.now() + 30_000;
    while (statSync(log).size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.is(statSync(log).size, 0);
    assert.is(read(rotatedLogPath(log)).length, 500);
  } finally {
    stop();
  }
});
inPlace.run();

const files = suite('logFiles and removeLog');
files.before.each(() => { dir = mkdtempSync(join(tmpdir(), 'lok-rotate-')); });
files.after.each(() => { rmSync(dir, { recursive: true, force: true }); });

files('lists the rotated file first, only files that exist, and removes both', () => {
  const log = join(dir, 'x.log');
  assert.equal(logFiles(log), []);
  writeFileSync(log, 'b');
  assert.equal(logFiles(log), [log]);
  writeFileSync(rotatedLogPath(log), 'a');
  assert.equal(logFiles(log), [rotatedLogPath(log), log]);
  removeLog(log);
  assert.equal(logFiles(log), []);
});
files.run();
