import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { currentOwner, isOwnerAlive, isSupervisorProcess, splitStartTicks } from '../../src/state/owner.js';

const owner = suite('isSupervisorProcess');

/** Spawns node running `script` (which waits), and resolves once it runs. */
async function running(script: string): Promise<ReturnType<typeof spawn>> {
  writeFileSync(script, 'setInterval(() => {}, 1000);\n');
  const child = spawn(process.execPath, [script], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('spawn', resolve));
  return child;
}

owner('is true only for node running a supervisor/main.js script', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lok-owner-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'supervisor'));
  const supervisor = await running(join(dir, 'supervisor', 'main.js'));
  const other = await running(join(dir, 'main.js'));
  try {
    assert.ok(isSupervisorProcess(supervisor.pid));
    assert.not.ok(isSupervisorProcess(other.pid));
    assert.not.ok(isSupervisorProcess(process.pid));
  } finally {
    supervisor.kill('SIGKILL');
    other.kill('SIGKILL');
  }
});

for (const pid of [0, 1, -1, -42, 1.5, '123', undefined, 2 ** 31]) {
  owner(`is false for ${String(pid)}: a record never makes mcp-lok signal a group, every process, or init`, () => {
    assert.not.ok(isSupervisorProcess(pid));
  });
}

owner.run();

const ticks = suite('splitStartTicks and isOwnerAlive');

ticks('splits at the first colon only: a start time from ps holds colons', () => {
  assert.equal(splitStartTicks('ab12cd34:123456'), { boot: 'ab12cd34', ticks: '123456' });
  assert.equal(splitStartTicks(':Mon Nov 30 08:00:01 2026'), { boot: '', ticks: 'Mon Nov 30 08:00:01 2026' });
  assert.equal(splitStartTicks('123456'), { boot: '', ticks: '123456' });
});

ticks('this process is alive as itself, and not with another start time', () => {
  const me = currentOwner();
  assert.ok(isOwnerAlive(me));
  assert.not.ok(isOwnerAlive({ ...me, startTicks: `${splitStartTicks(me.startTicks).boot}:Mon Nov 30 08:00:01 2026` }));
});

ticks.run();
