import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readClientInput } from '../../src/stdio/client-input.js';

async function all(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString();
}

const input = suite('readClientInput');

input('from a stream: the first line, and then every byte in order, the first line included', async () => {
  const source = new PassThrough();
  const read = readClientInput({ stream: source });
  source.write('{"a":1}\n{"b"');
  assert.is((await read.first)?.toString(), '{"a":1}');
  source.end(':2}\n');
  assert.is(await all(read.stream()), '{"a":1}\n{"b":2}\n');
});

input('from a stream that ends without a line: no first line, and what came is kept', async () => {
  const source = new PassThrough();
  const read = readClientInput({ stream: source });
  source.end('partial');
  assert.is(await read.first, undefined);
  assert.is(await all(read.stream()), 'partial');
});

input('from a terminal stream: no first line is waited for', async () => {
  const source = Object.assign(new PassThrough(), { isTTY: true });
  assert.is(await readClientInput({ stream: source }).first, undefined);
});

input('from a descriptor: reads up to the first line, leaves the rest for whoever reads next, and is idle', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lok-input-'));
  try {
    const path = join(dir, 'in');
    writeFileSync(path, '{"first":true}\n{"second":true}\n');
    const fd = openSync(path, 'r');
    const read = readClientInput({ fd, rest: () => { throw new Error('not used'); } });
    assert.is((await read.first)?.toString(), '{"first":true}');
    // A file gives all it has at once: what is handed over is everything read, the first line and more.
    assert.is(read.handOver()?.toString(), '{"first":true}\n{"second":true}\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

input('from a descriptor, as a stream: what was read, then the rest from the stream that goes on', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lok-input-'));
  try {
    const path = join(dir, 'in');
    writeFileSync(path, '{"first":true}\n');
    const fd = openSync(path, 'r');
    const read = readClientInput({ fd, rest: () => { const more = new PassThrough(); more.end('{"second":true}\n'); return more; } });
    assert.is((await read.first)?.toString(), '{"first":true}');
    assert.is(await all(read.stream()), '{"first":true}\n{"second":true}\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

input.run();
