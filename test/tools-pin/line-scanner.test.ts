import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createLineScanner, type ScanSink } from '../../src/tools-pin/line-scanner.js';

/** Feeds `chunks` and returns what came out, in order: plain bytes as text, lines marked. */
function scan(chunks: string[], options: { maxLineBytes?: number; needles?: Array<string | RegExp>; interesting?: (line: Buffer) => boolean } = {}): { out: string[]; overflows: number } {
  const scanner = createLineScanner({ needles: ['"tools"', '\\u'], interesting: (line) => line.includes('"tools"'), ...options });
  const out: string[] = [];
  let overflows = 0;
  const sink: ScanSink = { plain: (b) => out.push(`P:${b.toString()}`), line: (t) => out.push(`L:${t}`), overflow: () => { overflows++; } };
  for (const c of chunks) scanner.push(Buffer.from(c), sink);
  scanner.end(sink);
  return { out, overflows };
}

/** Returns every way to cut `text` into two or three chunks. */
function splits(text: string): string[][] {
  const ways: string[][] = [[text]];
  for (let i = 1; i < text.length; i++) {
    ways.push([text.slice(0, i), text.slice(i)]);
    for (let j = i + 1; j < text.length; j += 3) ways.push([text.slice(0, i), text.slice(i, j), text.slice(j)]);
  }
  return ways;
}

const scanner = suite('createLineScanner');

scanner('passes plain lines through as they came, in one piece per chunk', () => {
  assert.equal(scan(['{"a":1}\n{"b":2}\n']).out, ['P:{"a":1}\n{"b":2}\n']);
});

scanner('takes out a line holding a needle, keeping the plain bytes around it in order', () => {
  assert.equal(scan(['{"a":1}\n{"result":{"tools":[]}}\r\n{"b":2}\n']).out, ['P:{"a":1}\n', 'L:{"result":{"tools":[]}}', 'P:{"b":2}\n']);
});

scanner('passes a line holding a needle that is not interesting as plain bytes', () => {
  assert.equal(scan(['{"text":"\\u00e9"}\n']).out, ['P:{"text":"\\u00e9"}\n']);
});

const STREAM = '{"id":1,"result":{}}\n{"id":2,"result":{"tools":[{"name":"a"}]}}\n{"id":3}\n';
scanner('gives the same lines and bytes however the stream is cut into chunks, a needle split included', () => {
  const whole = scan([STREAM]).out;
  const lines = whole.filter((o) => o.startsWith('L:'));
  const plain = whole.filter((o) => o.startsWith('P:')).map((o) => o.slice(2)).join('');
  assert.equal(lines, ['L:{"id":2,"result":{"tools":[{"name":"a"}]}}']);
  for (const chunks of splits(STREAM)) {
    const out = scan(chunks).out;
    assert.equal(out.filter((o) => o.startsWith('L:')), lines, JSON.stringify(chunks));
    assert.is(out.filter((o) => o.startsWith('P:')).map((o) => o.slice(2)).join(''), plain, JSON.stringify(chunks));
  }
});

scanner('gives a last line without a newline at the end', () => {
  assert.equal(scan(['{"a":1}\n{"tools":', '[]}']).out, ['P:{"a":1}\n', 'L:{"tools":[]}']);
  assert.equal(scan(['{"a":1}\n{"b"']).out, ['P:{"a":1}\n', 'P:{"b"']);
});

scanner('drops a line longer than the cap, says so once, and goes on after its newline', () => {
  const { out, overflows } = scan(['{"x":"', 'y'.repeat(40), '"}', ' more\n{"tools":[]}\n'], { maxLineBytes: 16 });
  assert.equal(out, ['L:{"tools":[]}']);
  assert.is(overflows, 1);
});

scanner('finds lines by a pattern on the bytes read as latin1 (a character in UTF-8 included), cut anywhere, beside a byte needle', () => {
  const text = '{"a":"tools"}\n{"b":"\\u00e9"}\n{"Tools":[1]}\n{"c":1}\n{"toolſ":[2]}\n';
  const options = { needles: [/"[tT]ool(?:s|\xc5\xbf)"/, '\\u'], interesting: (line: Buffer) => /"(?:Tools|tool\xc5\xbf)"/.test(line.toString('latin1')) };
  const whole = scan([text], options).out;
  assert.equal(whole.filter((o) => o.startsWith('L:')), ['L:{"Tools":[1]}', 'L:{"toolſ":[2]}']);
  for (const chunks of splits(text)) {
    const out = scan(chunks, options).out;
    assert.equal(out.filter((o) => o.startsWith('L:')), ['L:{"Tools":[1]}', 'L:{"toolſ":[2]}'], JSON.stringify(chunks));
    assert.is(out.filter((o) => o.startsWith('P:')).map((o) => o.slice(2)).join(''), '{"a":"tools"}\n{"b":"\\u00e9"}\n{"c":1}\n', JSON.stringify(chunks));
  }
});

scanner.run();
