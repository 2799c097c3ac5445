// mcp-lok's one line splitter: every newline-delimited stream it reads (a bridged server's
// stdout, the egress sidecar's reports, the supervisor's progress, the engine's build and pull
// events, the reaper's orders) goes through splitLines, and every whole text it reads line by
// line (logs, mountinfo, npmrc, ldd output) through textLines, with the same idea of a line.

/**
 * The longest message (one line, without its newline) mcp-lok holds from a stream: 16 MiB.
 * A bridged server's session ends when it sends more than this without a newline (a server
 * that never sends one would otherwise grow the supervisor's memory without limit). MCP
 * messages carry images and resources as base64 inline, so a legitimate one can be several
 * MB: 16 MiB fits a 12 MB file after base64, four times what a client may post to the bridge
 * (MAX_BODY_BYTES) and the SDK's own HTTP message limit. Each bridged session can hold one
 * such line, so the bridge's session cap (32) bounds what a server can make the supervisor hold.
 */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

const NEWLINE = 0x0a;
const CR = 0x0d;

export interface SplitOptions {
  /** Longest line in bytes (its CR counts, its newline does not); MAX_MESSAGE_BYTES by default. */
  maxLineBytes?: number;
  /**
   * Called once for each line longer than maxLineBytes, before any of it is turned into a
   * string; the rest of that line, up to its newline, is skipped. Without it the line is dropped.
   */
  onOverflow?: (maxLineBytes: number) => void;
}

/** A chunk handler that splits a byte stream into lines. */
export interface LineSplitter {
  (chunk: Buffer): void;
  /** Delivers the last line when the stream ends without a newline. */
  end(): void;
  /** Bytes held for a line whose newline has not come yet (never more than maxLineBytes). */
  bufferedBytes(): number;
}

/**
 * Returns a chunk handler that calls `onLine` with each complete, non-blank line (without its
 * newline or CR), decoded as UTF-8 once the whole line is there, so a character split across
 * chunks stays whole. It works in time linear in the input: only each new chunk is scanned for
 * a newline, and a line's pieces are joined once, when its newline arrives. A line longer than
 * `maxLineBytes` is never held or built: see SplitOptions.onOverflow.
 */
export function splitLines(onLine: (line: string) => void, options: SplitOptions = {}): LineSplitter {
  const max = options.maxLineBytes ?? MAX_MESSAGE_BYTES;
  let parts: Buffer[] = [];
  let held = 0;
  let skipping = false;
  const emit = (bytes: Buffer): void => {
    const end = bytes.length > 0 && bytes[bytes.length - 1] === CR ? bytes.length - 1 : bytes.length;
    const line = bytes.toString('utf8', 0, end);
    if (line.trim() !== '') onLine(line);
  };
  const overflow = (): void => {
    parts = [];
    held = 0;
    options.onOverflow?.(max);
  };
  const take = (piece: Buffer): void => {
    // A small slice of a large buffer would keep all of it alive: copy it out.
    if (piece.length * 2 < piece.buffer.byteLength) {
      const copy = Buffer.allocUnsafeSlow(piece.length);
      piece.copy(copy);
      piece = copy;
    }
    parts.push(piece);
    held += piece.length;
  };
  const push = (chunk: Buffer): void => {
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
      if (skipping) {
        skipping = false;
      } else if (held + nl - start > max) {
        overflow();
      } else if (held === 0) {
        emit(chunk.subarray(start, nl));
      } else {
        parts.push(chunk.subarray(start, nl));
        const line = Buffer.concat(parts, held + nl - start);
        parts = [];
        held = 0;
        emit(line);
      }
      start = nl + 1;
    }
    if (start === chunk.length || skipping) return;
    if (held + chunk.length - start > max) {
      overflow();
      skipping = true;
    } else {
      take(chunk.subarray(start));
    }
  };
  return Object.assign(push, {
    end(): void {
      if (held > 0) emit(Buffer.concat(parts, held));
      parts = [];
      held = 0;
      skipping = false;
    },
    bufferedBytes: (): number => held,
  });
}

/** Returns the non-blank lines of a whole text, without newline or trailing CR: what splitLines gives for it. */
export function textLines(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() !== '') out.push(line);
  }
  return out;
}
