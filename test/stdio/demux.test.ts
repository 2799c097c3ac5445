import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Demuxer } from '../../src/stdio/demux.js';

function frame(type: number, payload: string | Buffer): Buffer {
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

function collect(chunks: Buffer[]): { out: string; err: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const d = new Demuxer((c) => out.push(Buffer.from(c)), (c) => err.push(Buffer.from(c)));
  for (const c of chunks) d.feed(c);
  return { out: Buffer.concat(out).toString(), err: Buffer.concat(err).toString() };
}

const demux = suite('Demuxer');

demux('splits stdout and stderr frames', () => {
  assert.equal(collect([Buffer.concat([frame(1, 'hello\n'), frame(2, 'oops\n'), frame(1, 'world\n')])]), { out: 'hello\nworld\n', err: 'oops\n' });
});

demux('reassembles frames split at every byte boundary', () => {
  const whole = Buffer.concat([frame(1, '{"a":1}\n'), frame(2, 'e'), frame(1, 'x'.repeat(300))]);
  for (let cut = 1; cut < whole.length; cut++) {
    const result = collect([whole.subarray(0, cut), whole.subarray(cut)]);
    assert.is(result.out, '{"a":1}\n' + 'x'.repeat(300), `cut at ${cut}`);
    assert.is(result.err, 'e');
  }
});

demux('passes bytes through unchanged, including invalid UTF-8 and zero-length frames', () => {
  const raw = Buffer.from([0xff, 0xfe, 0x00, 0x0a]);
  const out: Buffer[] = [];
  const d = new Demuxer((c) => out.push(Buffer.from(c)), () => {});
  d.feed(Buffer.concat([frame(1, ''), frame(1, raw)]));
  assert.ok(Buffer.concat(out).equals(raw));
});

demux('delivers a large frame byte for byte when fed one byte at a time', () => {
  const payload = Buffer.alloc(5000, 7);
  const whole = frame(1, payload);
  const out: Buffer[] = [];
  const d = new Demuxer((c) => out.push(Buffer.from(c)), () => {});
  for (let i = 0; i < whole.length; i++) d.feed(whole.subarray(i, i + 1));
  assert.ok(Buffer.concat(out).equals(payload));
});

demux.run();
