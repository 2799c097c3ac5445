import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_MESSAGE_BYTES, splitLines, textLines, type SplitOptions } from '../src/lines.js';

const lines = suite('splitLines');

function feed(chunks: Buffer[], options?: SplitOptions): string[] {
  const out: string[] = [];
  const push = splitLines((line) => out.push(line), options);
  for (const c of chunks) push(c);
  return out;
}

const bytesOf = (text: string): Buffer[] => [...Buffer.from(text)].map((b) => Buffer.from([b]));

lines('gives complete lines across chunks, without CR, skipping blank ones', () => {
  assert.equal(feed([Buffer.from('{"a":1}\r\n\n{"b"'), Buffer.from(':2}\n{"c"')]), ['{"a":1}', '{"b":2}']);
});

lines('keeps a character split across chunks whole', () => {
  assert.equal(feed(bytesOf('{"text":"é✓😀"}\n')), ['{"text":"é✓😀"}']);
});

lines('gives the same lines whatever the chunk boundaries (one byte, CRLF split between chunks, many lines a chunk)', () => {
  const text = '{"id":1,"s":"ü"}\r\n{"id":2}\n\r\n  \n{"id":3,"s":"✓"}\r\n{"id":4}\n';
  const expected = ['{"id":1,"s":"ü"}', '{"id":2}', '{"id":3,"s":"✓"}', '{"id":4}'];
  assert.equal(feed([Buffer.from(text)]), expected);
  assert.equal(feed(bytesOf(text)), expected);
  for (let cut = 1; cut < Buffer.byteLength(text); cut++) {
    const whole = Buffer.from(text);
    assert.equal(feed([whole.subarray(0, cut), whole.subarray(cut)]), expected, `cut at byte ${cut}`);
  }
});

lines('joins a line of many small chunks once, and holds only what its newline has not ended', () => {
  const out: string[] = [];
  const push = splitLines((line) => out.push(line));
  const piece = Buffer.from('abcdefgh');
  for (let i = 0; i < 10_000; i++) push(piece);
  assert.is(push.bufferedBytes(), 80_000);
  push(Buffer.from('!\nnext'));
  assert.is(out.length, 1);
  assert.is(out[0], `${'abcdefgh'.repeat(10_000)}!`);
  assert.is(push.bufferedBytes(), 4);
});

lines('delivers a last line without a newline at end()', () => {
  const out: string[] = [];
  const push = splitLines((line) => out.push(line));
  push(Buffer.from('{"a":1}\n{"b":'));
  push(Buffer.from('2}\r'));
  push.end();
  assert.equal(out, ['{"a":1}', '{"b":2}']);
  assert.is(push.bufferedBytes(), 0);
});

lines('drops a line longer than the cap, up to its newline, and goes on with the next', () => {
  assert.equal(feed([Buffer.from('x'.repeat(50)), Buffer.from('y\nok\n')], { maxLineBytes: 10 }), ['ok']);
  assert.equal(feed([Buffer.from(`${'x'.repeat(50)}\nok\n`)], { maxLineBytes: 10 }), ['ok']);
  assert.equal(feed([Buffer.from('0123456789\n0123456789A\n')], { maxLineBytes: 10 }), ['0123456789']);
});

lines('counts the cap in bytes, not characters', () => {
  assert.equal(feed([Buffer.from('ééééé\néééééé\n')], { maxLineBytes: 10 }), ['ééééé']);
});

lines('calls onOverflow once per over-long line, at the byte that crosses the cap', () => {
  const seen: string[] = [];
  const push = splitLines((line) => seen.push(line), { maxLineBytes: 10, onOverflow: (max) => seen.push(`overflow ${max}`) });
  push(Buffer.from('0123456789'));
  assert.equal(seen, []);
  push(Buffer.from('A'));
  assert.equal(seen, ['overflow 10']);
  push(Buffer.from('B'.repeat(100)));
  push(Buffer.from('C\nfine\nDDDDDDDDDDDDDDDDDDDDD\nlast\n'));
  assert.equal(seen, ['overflow 10', 'fine', 'overflow 10', 'last']);
});

lines('reads a 64 MiB line without a newline holding at most the cap, builds no string, and reports it once', () => {
  const calls: string[] = [];
  let overflows = 0;
  const push = splitLines((line) => calls.push(line), { onOverflow: () => { overflows++; } });
  // One 64 KiB chunk fed 1024 times: the test itself holds almost nothing.
  const chunk = Buffer.alloc(64 * 1024, 0x78);
  let most = 0;
  for (let i = 0; i < 1024; i++) {
    push(chunk);
    most = Math.max(most, push.bufferedBytes());
  }
  assert.is(overflows, 1);
  assert.equal(calls, []);
  assert.ok(most <= MAX_MESSAGE_BYTES, `held ${most} bytes`);
  assert.is(push.bufferedBytes(), 0);
  push(Buffer.from('tail of the long line\n{"after":true}\n'));
  assert.equal(calls, ['{"after":true}']);
  assert.is(overflows, 1);
});

lines('passes a line of exactly the cap, and a line of several MiB in 64 KiB chunks', () => {
  assert.equal(feed([Buffer.from(`${'a'.repeat(16)}\n`)], { maxLineBytes: 16 }), ['a'.repeat(16)]);
  const big = Buffer.from(`{"data":"${'Q'.repeat(5 * 1024 * 1024)}"}\n`);
  const chunks: Buffer[] = [];
  for (let at = 0; at < big.length; at += 65_536) chunks.push(big.subarray(at, at + 65_536));
  const out = feed(chunks);
  assert.is(out.length, 1);
  assert.is(out[0]?.length, big.length - 1);
});

lines.run();

const text = suite('textLines');

for (const [input, expected] of [
  ['', []],
  ['\n\n', []],
  ['one', ['one']],
  ['one\ntwo\n', ['one', 'two']],
  ['one\r\ntwo\r\n', ['one', 'two']],
  ['one\n\n  \n\t\r\ntwo', ['one', 'two']],
  ['  indented \n', ['  indented ']],
  ['a\rb\n', ['a\rb']],
  ['last\r', ['last']],
  ['{"s":"é✓😀"}\n', ['{"s":"é✓😀"}']],
] as const) {
  text(`splits ${JSON.stringify(input)}`, () => assert.equal(textLines(input), [...expected]));
}

text('gives the lines splitLines gives for the same text, the last one without its newline too', () => {
  for (const input of ['{"id":1}\r\n\n  \n{"id":2}\r\n{"id":3}', 'x\r\r\ny\n', ' \r\n', 'tail']) {
    const streamed: string[] = [];
    const push = splitLines((line) => streamed.push(line));
    push(Buffer.from(input));
    push.end();
    assert.equal(textLines(input), streamed, JSON.stringify(input));
  }
});

text.run();
