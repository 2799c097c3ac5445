import { read } from 'node:fs';
import { isatty } from 'node:tty';
import { PassThrough, Readable } from 'node:stream';

/** A first line longer than this is no MCP era probe: the client is served as today. */
const MAX_FIRST_LINE_BYTES = 1024 * 1024;
const READ_BYTES = 64 * 1024;
const AGAIN_MS = 5;

/**
 * The client's input with its first line read ahead (to choose the MCP era), and the rest
 * still where it was: on the descriptor for a relay, or in the stream.
 */
export interface ClientInput {
  /** The first line without its newline; undefined at end of input, for a terminal, or for a line too long to be a probe. */
  readonly first: Promise<Buffer | undefined>;
  /** The bytes read so far (the first line and what came with it); for a relay that takes the descriptor after them. */
  prefix(): Buffer;
  /** True when no read is under way, so the descriptor can go to a relay (after `prefix()`). */
  idle(): boolean;
  /** Everything the client sends, `prefix()` first; reading goes on in this process. */
  stream(): Readable;
}

/**
 * Starts reading a client's first line: from a descriptor (with `fs.read`, which reads only what
 * has arrived, so the rest stays for a relay) or from a stream (paused after the line). `rest`
 * gives the stream to continue with once the descriptor is no longer read here.
 */
export function readClientInput(source: { fd: number; rest: () => Readable } | { stream: Readable }): ClientInput {
  const chunks: Buffer[] = [];
  let size = 0;
  let pending: Promise<number> | undefined;
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
  if ('fd' in source) {
    const fd = source.fd;
    const buffer = Buffer.allocUnsafe(READ_BYTES);
    const readOnce = (): Promise<number> => new Promise((resolve) => {
      const attempt = (): void => read(fd, buffer, 0, buffer.length, null, (error, bytes) => {
        if (error && (error as NodeJS.ErrnoException).code === 'EAGAIN') return void setTimeout(attempt, AGAIN_MS);
        resolve(error ? 0 : bytes);
      });
      attempt();
    });
    const loop = (): void => {
      pending = readOnce();
      void pending.then((bytes) => {
        pending = undefined;
        if (bytes === 0) {
          eof = true;
          return resolveFirst(undefined);
        }
        if (!take(Buffer.from(buffer.subarray(0, bytes)))) loop();
      });
    };
    if (isatty(fd)) resolveFirst(undefined);
    else loop();
    const stream = (): Readable => {
      const head = Buffer.concat(chunks, size);
      if (pending === undefined && !eof) {
        const rest = source.rest();
        const out = new PassThrough();
        if (head.length > 0) out.write(head);
        rest.once('error', () => out.end());
        return rest.pipe(out);
      }
      // A read is under way (or the input ended): go on reading the descriptor here.
      return Readable.from((async function* () {
        if (head.length > 0) yield head;
        if (eof) return;
        let bytes = await pending!;
        while (bytes > 0) {
          yield Buffer.from(buffer.subarray(0, bytes));
          bytes = await readOnce();
        }
      })(), { objectMode: false });
    };
    return { first, prefix: () => Buffer.concat(chunks, size), idle: () => pending === undefined && !eof, stream };
  }
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
    prefix: () => Buffer.concat(chunks, size),
    idle: () => false,
    stream: () => {
      input.off('data', onData);
      const out = new PassThrough();
      const head = Buffer.concat(chunks, size);
      if (head.length > 0) out.write(head);
      if (eof) out.end();
      else input.pipe(out);
      return out;
    },
  };
}
