// A process that passes for a background server's supervisor: node running a script at
// `.../supervisor/main.js` that only waits. Records naming it count as running (isSupervised
// checks the pid's command line, so the test process itself never would), and `stop` may
// signal it. It holds no container and no listener.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Owner } from '../../src/sandbox/labels.js';
import { currentOwner, readStartTicks } from '../../src/state/owner.js';

export interface ProcessStandIn {
  /** The owner a record names for it. */
  owner: Owner;
  child: ChildProcess;
  /** Resolves with the signal that ended it (null when it exited by itself). */
  ended: Promise<NodeJS.Signals | null>;
  /** Ends it if it still runs, and removes its script. */
  kill: () => Promise<void>;
}

/** Starts node on a waiting script, under `supervisor/main.js` (a stand-in supervisor) or not. */
export async function startStandIn(options: { supervisor: boolean }): Promise<ProcessStandIn> {
  const dir = mkdtempSync(join(tmpdir(), 'lok-stand-in-'));
  const script = options.supervisor ? join(dir, 'supervisor', 'main.js') : join(dir, 'main.js');
  mkdirSync(join(script, '..'), { recursive: true });
  writeFileSync(script, 'setInterval(() => {}, 1000);\n');
  const child = spawn(process.execPath, [script], { stdio: 'ignore' });
  const ended = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  await new Promise((resolve, reject) => { child.once('spawn', resolve); child.once('error', reject); });
  const pid = child.pid ?? 0;
  const boot = currentOwner().startTicks.split(':')[0] ?? '';
  return {
    owner: { pid, startTicks: `${boot}:${readStartTicks(pid)}`, host: hostname() },
    child,
    ended,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await ended;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
