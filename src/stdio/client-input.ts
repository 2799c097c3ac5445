import { read } from 'node:fs';
import { isatty } from 'node:tty';
import { PassThrough, type Readable } from 'node:stream';

/** A first line longer than this is no MCP era probe: the client is served as today. */
const MAX_FIRST_LINE_BYTES = 1024 * 1024;
const READ_BYTES = 64 * 1024;
/** Waits between reads of a non-blocking descriptor that had nothing: short at first, longer while the client is quiet. */
const AGAIN_MIN_MS = 1;
const AGAIN_MAX_MS = 16;

/**
 * The client's input with its first line read ahead (to choose the MCP era), and the rest
 * still where it was: on the descriptor for a relay, or in the stream.
 */
export interface ClientInput {
  /** The first line without its newline; undefined at end of input, for a terminal, or for a line too long to be a probe. */
  readonly first: Promise<Buffer | undefined>;
  /**
   * Stops reading here and returns the bytes read so far (the first line and what came with
   * it), for a relay that takes the descriptor after them; undefined when a read is under way
   * (a blocking descriptor) or the input is a stream: then use `stream()`.
   */
  handOver(): Buffer | undefined;
  /** Everything the client sends, the bytes read so far first; reading goes on in this process. */
  stream(): Readable;
}

/**
 * Starts reading a client's first line: from a descriptor (with `fs.read`, which takes only
 * what has arrived, so the rest stays for a relay; a non-blocking descriptor, as Node leaves
 * fd 0 once `process.stdin` exists, is read again after a short wait) or from a stream (paused
 * after the line). `rest` is the stream to go on with once the descriptor is not read here.
 */
export function readClientInput(source: { fd: number; rest: () => Readable } | { stream: Readable }): ClientInput {
  const chunks: Buffer[] = [];
  let size = 0;
  let eof = false;
  let resolveFirst!: (line: Buffer | undefined) => void;
  const first = new Promise<Buffer | undefined>((resolve) => { resolveFirst = resolve; });
  const take = (chunk: Buffer): boolean => {
    chunks.push(chunk);
    size += chunk.length;
    const all = chunks.length === 1 ? chunk : Buffer.concat(chunks, size);
    const nl = all.indexOf(0x0a);
    if (nl !== -1) {
      resolveFirst(all.subarray(0, nl));
      return true;
    }
    if (size > MAX_FIRST_LINE_BYTES) {
      resolveFirst(undefined);
      return true;
    }
    return false;
  };
  const head = (): Buffer => Buffer.concat(chunks, size);
  if ('fd' in source) return readDescriptor(source.fd, source.rest, { take, head, first, resolveFirst, ended: () => { eof = true; }, isEof: () => eof });
  const input = source.stream;
  const onData = (chunk: Buffer): void => {
    if (!take(chunk)) return;
    input.off('data', onData);
    input.pause();
  };
  if ((input as { isTTY?: boolean }).isTTY) resolveFirst(undefined);
  else {
    input.on('data', onData);
    input.once('end', () => { eof = true; resolveFirst(undefined); });
  }
  return {
    first,
    handOver: () => undefined,
    stream: () => {
      input.off('data', onData);
      const out = new PassThrough();
      if (size > 0) out.write(head());
      if (eof) out.end();
      else input.pipe(out);
      return out;
    },
  };
}

interface Collected {
  take: (chunk: Buffer) => boolean;
  head: () => Buffer;
  first: Promise<Buffer | undefined>;
  resolveFirst: (line: Buffer | undefined) => void;
  ended: () => void;
  isEof: () => boolean;
}

function readDescriptor(fd: number, rest: () => Readable, c: Collected): ClientInput {
  const buffer = Buffer.allocUnsafe(READ_BYTES);
  /** A read is in the kernel (a blocking descriptor): its bytes must be taken before anyone else reads. */
  let inKernel: Promise<number> | undefined;
  let waiting: NodeJS.Timeout | undefined;
  let stopped = false;
  let againMs = AGAIN_MIN_MS;
  const loop = (): void => {
    if (stopped) return;
    inKernel = new Promise<number>((resolve) => read(fd, buffer, 0, buffer.length, null, (error, bytes) => resolve(error ? ((error as NodeJS.ErrnoException).code === 'EAGAIN' ? -1 : 0) : bytes)));
    void inKernel.then((bytes) => {
      inKernel = undefined;
      if (stopped) return;
      if (bytes === -1) {
        waiting = setTimeout(loop, againMs);
        againMs = Math.min(againMs * 2, AGAIN_MAX_MS);
        return;
      }
      againMs = AGAIN_MIN_MS;
      if (bytes === 0) {
        c.ended();
        return c.resolveFirst(undefined);
      }
      if (!c.take(Buffer.from(buffer.subarray(0, bytes)))) loop();
    });
  };
  if (isatty(fd)) c.resolveFirst(undefined);
  else loop();
  const stop = (): void => {
    stopped = true;
    clearTimeout(waiting);
  };
  return {
    first: c.first,
    handOver: () => {
      if (inKernel !== undefined) return undefined;
      stop();
      return c.head();
    },
    stream: () => {
      const pending = inKernel;
      stop();
      const out = new PassThrough();
      const head = c.head();
      if (head.length > 0) out.write(head);
      const goOn = (): void => {
        if (c.isEof()) return void out.end();
        const next = rest();
        next.once('error', () => out.end());
        next.pipe(out);
      };
      if (pending === undefined) goOn();
      // The read under way gets the client's next bytes: they come first, then the stream.
      else void pending.then((bytes) => {
        if (bytes > 0) out.write(Buffer.from(buffer.subarray(0, bytes)));
        if (bytes === 0) c.ended();
        goOn();
      });
      return out;
    },
  };
}
