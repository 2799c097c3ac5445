import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isSupervisorProcess } from '../../src/state/owner.js';

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
