import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readParentEnv } from '../../src/request/parent-env.js';

const read = suite('readParentEnv');
const children: ChildProcess[] = [];

/** Starts a process that waits, with exactly `env`, and resolves once it runs. */
async function startWaiting(command: string, args: string[], env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'ignore'] });
  children.push(child);
  // It says it is up once its own environment is in place (exec done).
  await once(child.stdout as NodeJS.ReadableStream, 'data');
  return child;
}

read.after.each(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

read('reads the environment a process started with, and its program, on Linux', async () => {
  if (process.platform !== 'linux') return;
  const child = await startWaiting(process.execPath, ['-e', 'process.env.LATER = "1"; console.log("up"); setInterval(() => {}, 1000)'], { PATH: '/usr/bin:/bin', GIVEN: 'at start' });
  const parent = readParentEnv(child.pid ?? 0, 'linux');
  assert.ok(parent.ok);
  if (!parent.ok) return;
  assert.is(parent.program, 'node');
  assert.ok(parent.has('GIVEN', 'at start'));
  assert.ok(parent.has('PATH', '/usr/bin:/bin'));
  assert.not.ok(parent.has('GIVEN', 'other'));
  // What a process sets after it started is not in what the kernel keeps: it would look added.
  assert.not.ok(parent.has('LATER', '1'));
});

read('names a shell as the program when a shell is the parent', async () => {
  if (process.platform !== 'linux') return;
  const child = await startWaiting('/bin/sh', ['-c', 'echo up; sleep 30; :'], { PATH: '/usr/bin:/bin' });
  const parent = readParentEnv(child.pid ?? 0, 'linux');
  assert.is(parent.ok && parent.program, 'sh');
});

read('names the shell when the parent is a script started by its #! line (whose comm is the script\'s name)', async () => {
  if (process.platform !== 'linux') return;
  const dir = mkdtempSync(join(tmpdir(), 'lok-parent-env-'));
  try {
    const script = join(dir, 'start-my-server');
    writeFileSync(script, '#!/bin/sh\nexport FROM_RC=secret\necho up\nsleep 30\n:\n');
    chmodSync(script, 0o755);
    const child = await startWaiting(script, [], { PATH: '/usr/bin:/bin' });
    const parent = readParentEnv(child.pid ?? 0, 'linux');
    // /bin/sh is dash, bash or busybox, whatever the system links it to.
    assert.match(parent.ok ? parent.program ?? '' : parent.reason, /^(?:dash|bash|busybox|sh)$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

read('reads nothing from a process that is no longer the parent once read (its pid may be another process\'s now)', async () => {
  if (process.platform !== 'linux') return;
  const child = await startWaiting(process.execPath, ['-e', 'console.log("up"); setInterval(() => {}, 1000)'], { PATH: '/usr/bin:/bin', OTHER: '1' });
  const asked: number[] = [];
  const parent = readParentEnv(child.pid ?? 0, 'linux', () => { asked.push(1); return false; });
  assert.is(asked.length, 1);
  assert.not.ok(parent.ok);
  assert.match(parent.ok ? '' : parent.reason, /already exited/);
  assert.ok(readParentEnv(child.pid ?? 0, 'linux', () => true).ok);
});

read('says why when the process is gone, or adopted, or on a system with no way to read it', () => {
  const gone = readParentEnv(2 ** 22 + 17, 'linux');
  assert.not.ok(gone.ok);
  assert.match(gone.ok ? '' : gone.reason, /cannot be read \(ENOENT\)/);
  const adopted = readParentEnv(1, 'linux');
  assert.match(adopted.ok ? '' : adopted.reason, /already exited/);
  const windows = readParentEnv(1234, 'win32');
  assert.match(windows.ok ? '' : windows.reason, /Windows/);
});

read.run();
