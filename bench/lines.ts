// `npm run bench:lines`: the line splitter every bridged session's output goes through, alone
// (no engine, no I/O): typical small messages, large ones (a base64 image), and a line that
// never ends (past MAX_MESSAGE_BYTES it is skipped, never held). Prints a table and a JSON
// line. Figures are reported, never asserted.
import { MAX_MESSAGE_BYTES, splitLines } from '../src/lines.js';

const CHUNK_BYTES = 64 * 1024;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const MIB = 1024 * 1024;

/** Returns the input cut into 64 KiB chunks, as a pipe or socket delivers it. */
function chunked(data: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < data.length; at += CHUNK_BYTES) chunks.push(data.subarray(at, at + CHUNK_BYTES));
  return chunks;
}

function messages(count: number, size: number): Buffer {
  const filler = 'x'.repeat(size);
  const one = (i: number): string => `{"jsonrpc":"2.0","id":${i},"result":{"content":[{"type":"text","text":"${filler}"}]}}\n`;
  return Buffer.from(Array.from({ length: count }, (_, i) => one(i)).join(''));
}

interface Row { what: string; mib: number; lines: number; mibPerS: number; linesPerS: number; overflows: number }

/** Feeds the chunks ROUNDS times and keeps the median round. */
function measure(what: string, chunks: Buffer[]): Row {
  const bytes = chunks.reduce((n, c) => n + c.length, 0);
  const times: number[] = [];
  let lines = 0;
  let overflows = 0;
  for (let r = 0; r < ROUNDS; r++) {
    lines = 0;
    overflows = 0;
    const push = splitLines(() => { lines++; }, { onOverflow: () => { overflows++; } });
    const t0 = performance.now();
    for (const c of chunks) push(c);
    times.push(performance.now() - t0);
  }
  const ms = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)] ?? NaN;
  return { what, mib: bytes / MIB, lines, mibPerS: bytes / MIB / (ms / 1000), linesPerS: lines / (ms / 1000), overflows };
}

const neverEnds = Buffer.alloc(CHUNK_BYTES, 0x78);
const rows = [
  measure('small messages (200 B text)', chunked(messages(200_000, 200))),
  measure('large messages (4 MiB text)', chunked(messages(16, 4 * MIB))),
  measure(`a 64 MiB line without a newline (cap ${MAX_MESSAGE_BYTES / MIB} MiB)`, Array.from({ length: 64 * MIB / CHUNK_BYTES }, () => neverEnds)),
];

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
console.log('| input | MiB | lines | MiB/s | lines/s |');
console.log('| --- | --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.what} | ${fmt(r.mib, 1)} | ${fmt(r.lines)}${r.overflows ? ` (${r.overflows} over the cap)` : ''} | ${fmt(r.mibPerS)} | ${fmt(r.linesPerS)} |`);
console.log(JSON.stringify({ splitter: rows }));
