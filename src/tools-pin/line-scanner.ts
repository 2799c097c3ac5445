// The byte-level half of watching a JSON-lines stream for the few messages that concern tools:
// it finds whole lines that might be one (by a substring, searched in the bytes, never decoded)
// and passes every other byte through untouched and in order, so ordinary traffic costs a
// buffer search and no string.
import { MAX_MESSAGE_BYTES } from '../lines.js';

const NEWLINE = 0x0a;

/** Where a scanner sends what it found. */
export interface ScanSink {
  /** Whole lines (with their newlines) that are not interesting, byte for byte, in order. */
  plain(bytes: Buffer): void;
  /** One interesting line, decoded, without its newline (or trailing CR). */
  line(text: string): void;
  /** A line longer than the cap was dropped, unseen (called once per such line). */
  overflow?(maxLineBytes: number): void;
}

export interface LineScannerOptions {
  /**
   * What may mark an interesting line: byte strings, or patterns matched against the bytes read
   * as latin1 (one character per byte, so a position is a byte offset). A line holding none of
   * them is plain.
   */
  needles: ReadonlyArray<string | RegExp>;
  /** Decides on a line that holds a needle (bytes without the newline); true makes it `line`. */
  interesting: (line: Buffer) => boolean;
  /** Longest line kept whole; a longer one is dropped. MAX_MESSAGE_BYTES by default. */
  maxLineBytes?: number;
}

/** Splits a byte stream into plain runs and interesting lines; see ScanSink. */
export interface LineScanner {
  push(chunk: Buffer, sink: ScanSink): void;
  /** The stream ended: a last line without a newline is handled as a line. */
  end(sink: ScanSink): void;
}

/** Returns a scanner (see LineScanner). */
export function createLineScanner(options: LineScannerOptions): LineScanner {
  const needles = options.needles.map((n) => (typeof n === 'string' ? Buffer.from(n) : new RegExp(n.source, `${n.flags.replace('g', '')}g`)));
  const max = options.maxLineBytes ?? MAX_MESSAGE_BYTES;
  let parts: Buffer[] = [];
  let held = 0;
  let skipping = false;
  // Per push: the chunk as latin1 (for patterns), and each needle's next hit at or after the
  // last search (-1: none in the rest of the chunk), so every needle reads each byte once.
  let text: string | undefined;
  const next: number[] = needles.map(() => -2);

  const find = (needle: Buffer | RegExp, chunk: Buffer, from: number): number => {
    if (Buffer.isBuffer(needle)) return chunk.indexOf(needle, from);
    text ??= chunk.toString('latin1');
    needle.lastIndex = from;
    return needle.exec(text)?.index ?? -1;
  };
  const nextNeedle = (chunk: Buffer, from: number): number => {
    let best = -1;
    needles.forEach((n, i) => {
      let at = next[i] as number;
      if (at === -2 || (at !== -1 && at < from)) next[i] = at = find(n, chunk, from);
      if (at !== -1 && (best === -1 || at < best)) best = at;
    });
    return best;
  };
  const hasNeedle = (bytes: Buffer): boolean => needles.some((n) => {
    if (Buffer.isBuffer(n)) return bytes.includes(n);
    n.lastIndex = 0;
    return n.test(bytes.toString('latin1'));
  });
  const decode = (bytes: Buffer): string => bytes.toString('utf8', 0, bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length);
  const hold = (piece: Buffer, sink: ScanSink): void => {
    if (held + piece.length > max) {
      parts = [];
      held = 0;
      skipping = true;
      sink.overflow?.(max);
      return;
    }
    // A small slice of a large chunk would keep all of it alive: copy it out.
    parts.push(Buffer.from(piece));
    held += piece.length;
  };
  /** A whole line (bytes without its newline) and the bytes to pass through when it is plain (with it). */
  const finishLine = (line: Buffer, withNewline: Buffer, sink: ScanSink): void => {
    if (hasNeedle(line) && options.interesting(line)) sink.line(decode(line));
    else sink.plain(withNewline);
  };

  return {
    push(chunk, sink) {
      text = undefined;
      next.fill(-2);
      let start = 0;
      if (skipping || held > 0) {
        const nl = chunk.indexOf(NEWLINE);
        if (nl === -1) {
          if (!skipping) hold(chunk, sink);
          return;
        }
        if (skipping) {
          skipping = false;
        } else if (held + nl > max) {
          parts = [];
          held = 0;
          sink.overflow?.(max);
        } else {
          const withNewline = Buffer.concat([...parts, chunk.subarray(0, nl + 1)], held + nl + 1);
          parts = [];
          held = 0;
          finishLine(withNewline.subarray(0, withNewline.length - 1), withNewline, sink);
        }
        start = nl + 1;
      }
      let run = start;
      for (let hit = nextNeedle(chunk, start); hit !== -1;) {
        const lineStart = Math.max(run, chunk.lastIndexOf(NEWLINE, hit) + 1);
        const lineEnd = chunk.indexOf(NEWLINE, hit);
        if (lineEnd === -1) {
          if (lineStart > run) sink.plain(chunk.subarray(run, lineStart));
          hold(chunk.subarray(lineStart), sink);
          return;
        }
        const line = chunk.subarray(lineStart, lineEnd);
        if (options.interesting(line)) {
          if (lineStart > run) sink.plain(chunk.subarray(run, lineStart));
          sink.line(decode(line));
          run = lineEnd + 1;
        }
        hit = nextNeedle(chunk, lineEnd + 1);
      }
      const lastNl = chunk.lastIndexOf(NEWLINE);
      if (lastNl >= run) {
        sink.plain(chunk.subarray(run, lastNl + 1));
        run = lastNl + 1;
      }
      if (run < chunk.length) hold(chunk.subarray(run), sink);
    },
    end(sink) {
      if (held > 0) {
        const last = Buffer.concat(parts, held);
        if (hasNeedle(last) && options.interesting(last)) sink.line(decode(last));
        else sink.plain(last);
      }
      parts = [];
      held = 0;
      skipping = false;
    },
  };
}
