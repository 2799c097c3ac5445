import { spawn } from 'node:child_process';
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


const CLIENT_INPUT = new URL('../../src/stdio/client-input.js', import.meta.url).href;

/** Runs `body` in a node process whose stdin is a pipe from this one; returns its exit code and stdout. */
function child(body: string, feed: (stdin: NodeJS.WritableStream) => void): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const script = `import { readClientInput } from ${JSON.stringify(CLIENT_INPUT)};\n${body}`;
    const proc = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    proc.on('exit', (code) => { clearTimeout(timer); resolve({ code, out }); });
    feed(proc.stdin);
  });
}

input('from a pipe the client holds open and never writes to: the process can still exit (no read left on the thread pool)', async () => {
  let held: NodeJS.WritableStream | undefined;
  const { code } = await child(`readClientInput({ fd: 0, rest: () => process.stdin });
setTimeout(() => process.exit(7), 200);`, (stdin) => { held = stdin; });
  (held as unknown as { destroy?: () => void })?.destroy?.();
  assert.is(code, 7, 'the process hung at exit (killed after 15 s)');
});

input('from a pipe: handed over, the descriptor is blocking again and a relay (cat) reads what comes after the bytes read', async () => {
  const { code, out } = await child(`import { spawn } from 'node:child_process';
const read = readClientInput({ fd: 0, rest: () => process.stdin });
process.stdout.write('first=' + (await read.first).toString() + '\\n');
const head = read.handOver();
process.stdout.write('head=' + JSON.stringify(head?.toString()) + '\\n');
const cat = spawn('cat', [], { stdio: [0, 'pipe', 'inherit'] });
cat.stdout.on('data', (c) => process.stdout.write('cat=' + JSON.stringify(c.toString()) + '\\n'));
cat.on('exit', (c) => process.exit(c ?? 9));`, (stdin) => {
    stdin.write('{"first":true}\n{"sec');
    setTimeout(() => stdin.end('ond":true}\n'), 500);
  });
  assert.is(code, 0, out);
  const head = JSON.parse(/^head=(.*)$/m.exec(out)?.[1] ?? 'null') as string;
  const cat = [...out.matchAll(/^cat=(.*)$/gm)].map((m) => JSON.parse(m[1] ?? '""') as string).join('');
  assert.match(out, /^first=\{"first":true\}$/m);
  assert.is(head + cat, '{"first":true}\n{"second":true}\n', 'bytes lost or doubled between this process and cat');
  assert.ok(cat.length > 0, 'cat read nothing: the descriptor was not handed over');
});

input.run();
