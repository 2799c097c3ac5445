// A watch on byte streams: a tap on a copy of the server's stdout (observe: nothing it does can
// delay or change what the client gets), and, under enforce, filters on both directions that
// pass every other byte through unchanged and in order.
import { Transform } from 'node:stream';
import { createLineScanner, type ScanSink } from './line-scanner.js';
import { mayConcernTools, mayHoldToolsListBytes, TOOLS_KEY_NEEDLE, type ToolsWatch } from './watch.js';

/** A chunk handler for a byte stream. */
export interface ChunkSink {
  (chunk: Buffer): void;
  /** The stream ended. */
  end(): void;
}

const MIB = 1024 * 1024;

function serverScanner(): ReturnType<typeof createLineScanner> {
  // A tools key in any case (a case-insensitive client reads `"Tools"`), or one spelled with escapes.
  return createLineScanner({ needles: [TOOLS_KEY_NEEDLE, '\\u'], interesting: mayHoldToolsListBytes });
}

/** Returns a handler for a copy of the server's stdout: lines that may list tools go to the watch, the rest is dropped. */
export function createToolsTap(watch: ToolsWatch, log: (line: string) => void): ChunkSink {
  const scanner = serverScanner();
  let failed = false;
  let overflowSaid = false;
  const sink: ScanSink = {
    plain: () => {},
    line: (text) => { watch.serverLine(text); },
    // The client got it whole (JSON's whitespace pads a tools list past any limit), so it is said, once.
    overflow: (max) => {
      if (overflowSaid) return;
      overflowSaid = true;
      log(`mcp-lok: the server sent a message over ${max / MIB} MiB, which was not checked for changed tools (--pin-tools observe reads messages up to that size; enforce drops larger ones).`);
    },
  };
  // A fault in watching must never take the relay down with it: it ends the watching, said once.
  const guard = (work: () => void): void => {
    if (failed) return;
    try { work(); } catch (error) {
      failed = true;
      log(`mcp-lok: stopped checking the server's tools after an internal error: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  return Object.assign((chunk: Buffer) => guard(() => scanner.push(chunk, sink)), { end: () => guard(() => scanner.end(sink)) });
}

/**
 * Returns the enforce filter of the server's stdout: `write` gets every byte, except that a
 * tools list is rewritten without the tools the pin does not allow, whole lines only; `reply`
 * puts mcp-lok's own answer to the client between two lines. A line longer than 16 MiB is
 * dropped (it cannot be checked without holding it), said on stderr.
 */
export function createOutputFilter(watch: ToolsWatch, write: (bytes: Buffer) => void, log: (line: string) => void): ChunkSink & { reply(line: string): void } {
  const scanner = serverScanner();
  const sink: ScanSink = {
    plain: write,
    line: (text) => {
      const out = watch.serverLine(text);
      if (out !== undefined) write(Buffer.from(`${out}\n`));
    },
    overflow: (max) => log(`mcp-lok: dropped a message from the server over ${max / MIB} MiB without a newline: --pin-tools enforce checks every message whole.`),
  };
  return Object.assign((chunk: Buffer) => scanner.push(chunk, sink), {
    end: () => scanner.end(sink),
    // The scanner writes whole lines only, so between two writes the client's stream is at a line's start.
    reply: (line: string) => write(Buffer.from(`${line}\n`)),
  });
}

/**
 * Returns the enforce filter of the client's input, as a stream: every byte passes, except a
 * call of a tool the pin does not allow, which `reply` answers with an error and the server
 * never sees. Backpressure is the stream's own.
 */
export function createInputFilter(watch: ToolsWatch, reply: (line: string) => void, log: (line: string) => void): Transform {
  const scanner = createLineScanner({ needles: ['tools', '\\u'], interesting: mayConcernTools });
  let transform: Transform;
  const sink: ScanSink = {
    plain: (bytes) => { transform.push(bytes); },
    line: (text) => {
      const verdict = watch.clientLine(text);
      if (!verdict) { transform.push(`${text}\n`); return; }
      for (const line of verdict.reply) reply(line);
      if (verdict.forward !== undefined) transform.push(`${verdict.forward}\n`);
    },
    overflow: (max) => log(`mcp-lok: dropped a message from the client over ${max / MIB} MiB without a newline: --pin-tools enforce checks every message whole.`),
  };
  transform = new Transform({
    transform(chunk: Buffer, _encoding, done) { scanner.push(chunk, sink); done(); },
    flush(done) { scanner.end(sink); done(); },
  });
  return transform;
}
