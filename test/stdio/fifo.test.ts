import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const FIFO = new URL('../../src/stdio/fifo.js', import.meta.url).href;
const fifo = suite('fifoChannel');

fifo('a container that fails to start leaves no open of its pipes waiting: the process can exit', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lok-fifo-'));
  try {
    // The engine refuses the start: the host ends' opens would wait on the thread pool forever.
    const script = `import { createFifos, fifoChannel } from ${JSON.stringify(FIFO)};
const set = await createFifos(${JSON.stringify(dir)}, 'x');
const io = { onStdout() {}, onStderr() {} };
try {
  await fifoChannel(set).connect({ io, start: async () => { throw new Error('no start'); }, exited: new Promise(() => {}), track() {}, stopLater() {}, endpoint: undefined, id: 'x' });
} catch (error) { process.stdout.write(String(error.message)); }
process.exit(5);`;
    const code = await new Promise<number | null>((resolve) => {
      const proc = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      proc.stdout.on('data', (c: Buffer) => { out += c.toString(); });
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      proc.on('exit', (c) => { clearTimeout(timer); resolve(out === 'no start' ? c : -1); });
    });
    assert.is(code, 5, 'the process hung at exit (killed after 15 s), or the start error was lost');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

fifo.run();
