import { PassThrough, Writable } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { pipeInput } from '../../src/stdio/run-container.js';

/** A server's stdin that keeps each write pending until `release` is called: full after one chunk. */
function slowTarget(): { target: Writable; received: Buffer[]; release: () => void; ended: () => boolean } {
  const received: Buffer[] = [];
  const pending: Array<() => void> = [];
  let finished = false;
  const target = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _encoding, callback) { received.push(chunk); pending.push(callback); },
    final(callback) { finished = true; callback(); },
  });
  return { target, received, release: () => { for (const done of pending.splice(0)) done(); }, ended: () => finished };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const pipe = suite('pipeInput');

pipe('copies every byte in order, ends the server\'s stdin when the client\'s ends, then says so once', async () => {
  const source = new PassThrough();
  const target = new PassThrough();
  const out: Buffer[] = [];
  target.on('data', (c: Buffer) => out.push(c));
  let ends = 0;
  const targetEnded = new Promise((resolve) => target.once('end', resolve));
  pipeInput(source, target, () => { ends++; });
  const bytes = [Buffer.from('{"jsonrpc":"2.0"}\n'), Buffer.from([0, 0xff, 0xfe, 0x0a]), Buffer.from('no newline')];
  for (const b of bytes) source.write(b);
  source.end();
  await targetEnded;
  assert.equal(Buffer.concat(out), Buffer.concat(bytes));
  assert.is(ends, 1);
});

pipe('stops reading the client while the server\'s stdin is full, and reads on once it drains', async () => {
  const source = new PassThrough();
  const { target, received, release } = slowTarget();
  pipeInput(source, target, () => {});
  source.write('a');
  source.write('b');
  await tick();
  assert.is(received.length, 1);
  assert.ok(source.isPaused(), 'the client is not read while the server has not taken its input');
  release();
  await tick();
  assert.is(received.length, 2, 'reading goes on once the server drained');
  release();
  assert.equal(Buffer.concat(received).toString(), 'ab');
});

pipe('ends the server\'s stdin when the client\'s input fails, and says so', async () => {
  const source = new PassThrough();
  const { target, ended } = slowTarget();
  let ends = 0;
  pipeInput(source, target, () => { ends++; });
  source.destroy(new Error('client went away'));
  await tick();
  await tick();
  assert.is(ends, 1);
  assert.ok(ended() || target.writableEnded, 'the server\'s stdin was ended');
});

pipe.run();
