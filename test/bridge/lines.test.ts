import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { splitLines } from '../../src/bridge/lines.js';

const lines = suite('splitLines');

function feed(chunks: Buffer[], max?: number): string[] {
  const out: string[] = [];
  const push = splitLines((line) => out.push(line), max);
  for (const c of chunks) push(c);
  return out;
}

lines('gives complete lines across chunks, without CR, skipping blank ones', () => {
  assert.equal(feed([Buffer.from('{"a":1}\r\n\n{"b"'), Buffer.from(':2}\n{"c"')]), ['{"a":1}', '{"b":2}']);
});

lines('keeps a character split across chunks whole', () => {
  const bytes = Buffer.from('{"text":"é✓"}\n');
  const out = feed([...bytes].map((b) => Buffer.from([b])));
  assert.equal(out, ['{"text":"é✓"}']);
});

lines('drops a line longer than the cap instead of holding it', () => {
  assert.equal(feed([Buffer.from('x'.repeat(50)), Buffer.from('y\nok\n')], 10), ['y', 'ok']);
});

lines.run();
