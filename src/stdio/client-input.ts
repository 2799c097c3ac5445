import { fstatSync, readSync } from 'node:fs';
import { Socket } from 'node:net';
import { isatty } from 'node:tty';
import { PassThrough, type Readable } from 'node:stream';

/** A first line longer than this is no MCP era probe: the client is served as today. */
const MAX_FIRST_LINE_BYTES = 1024 * 1024;
const READ_BYTES = 64 * 1024;

/**
 * The client's input with its first line read ahead (to choose the MCP era), and the rest
 * still where it was: on the descriptor for a relay, or in the stream.
 */
export interface ClientInput {
  /** The first line without its newline; undefined at end of input, for a terminal, or for a line too long to be a probe. */
  readonly first: Promise<Buffer | undefined>;
  /**
   * Stops reading here and returns the bytes read so far (the first line and what came with
   * it), for a relay that takes the descriptor after them; undefined when the input is a
   * stream or its descriptor cannot be made blocking again: then use `stream()`.
   */
  handOver(): Buffer | undefined;
  /** Everything the client sends, the bytes read so far first; reading goes on in this process. */
  stream(): Readable;
}

/**
 * Starts reading a client's first line: from a descriptor (a pipe or socket through the event
 * loop, a file at once; the rest stays on the descriptor for a relay) or from a stream (paused
 * after the line). `rest` is the stream to go on with once a file is not read here.
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
  const collected = { take, head, first, resolveFirst, ended: () => { eof = true; }, isEof: () => eof };
  if ('fd' in source) {
    const terminal = isatty(source.fd);
    // A file (or a device other than a terminal) is read at once: its reads never wait for a client.
    if (!terminal && isReadableFile(source.fd)) return readFile(source.fd, source.rest, collected);
    // A pipe or socket is watched by the event loop: a read of it on libuv's thread pool would
    // block there until the client writes, and a process cannot exit while one does.
    const socket = terminal ? undefined : openSocket(source.fd);
    if (socket) return readSocket(socket, collected);
    // A terminal (or a descriptor Node cannot watch): no first line is waited for.
    resolveFirst(undefined);
    return { first, handOver: head, stream: () => source.rest() };
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

/** Returns whether the descriptor is a file or a device, whose reads never wait for a client. */
function isReadableFile(fd: number): boolean {
  try {
    const st = fstatSync(fd);
    return st.isFile() || st.isCharacterDevice() || st.isBlockDevice();
  } catch {
    return false;
  }
}

/** Sockets on a client's descriptor, kept for the life of the process: closing one would close the descriptor. */
const held: Socket[] = [];

function openSocket(fd: number): Socket | undefined {
  try {
    const socket = new Socket({ fd, readable: true, writable: false });
    held.push(socket);
    return socket;
  } catch {
    return undefined;
  }
}

/** The handle under a net.Socket, for what Node does not expose: stop reading, and blocking mode back. */
interface StreamHandle { reading?: boolean; readStop?: () => number; setBlocking?: (blocking: boolean) => number }

/**
 * Reads a pipe or socket through the event loop up to its first line. Handing it over stops
 * reading and gives the descriptor back its blocking mode (libuv made it non-blocking), so a
 * relay such as cat reads it as it was; the bytes read meanwhile are returned to go first.
 */
function readSocket(socket: Socket, c: Collected): ClientInput {
  const stopReading = (): void => {
    socket.off('data', onData);
    socket.pause();
    const handle = (socket as unknown as { _handle?: StreamHandle })._handle;
    if (handle) { handle.reading = false; handle.readStop?.(); }
  };
  const onData = (chunk: Buffer): void => { if (c.take(chunk)) socket.pause(); };
  socket.on('data', onData);
  socket.once('end', () => { c.ended(); c.resolveFirst(undefined); });
  socket.on('error', () => { c.ended(); c.resolveFirst(undefined); });
  return {
    first: c.first,
    handOver: () => {
      stopReading();
      // What the stream read from the kernel but has not given out yet goes first too.
      for (let more = socket.read() as Buffer | null; more !== null; more = socket.read() as Buffer | null) c.take(more);
      // read() may have asked the handle to read again: nothing is read before the loop polls, so stopping again suffices.
      stopReading();
      const handle = (socket as unknown as { _handle?: StreamHandle })._handle;
      if (!handle?.setBlocking || handle.setBlocking(true) !== 0) return undefined;
      return c.head();
    },
    stream: () => {
      socket.off('data', onData);
      const out = new PassThrough();
      const head = c.head();
      if (head.length > 0) out.write(head);
      if (c.isEof()) out.end();
      else socket.pipe(out);
      socket.resume();
      return out;
    },
  };
}

/** Reads a file up to its first line at once; what follows stays in the file, at its offset. */
function readFile(fd: number, rest: () => Readable, c: Collected): ClientInput {
  const buffer = Buffer.allocUnsafe(READ_BYTES);
  for (;;) {
    let bytes = 0;
    try { bytes = readSync(fd, buffer, 0, buffer.length, null); } catch { /* unreadable: as at its end */ }
    if (bytes === 0) {
      c.ended();
      c.resolveFirst(undefined);
      break;
    }
    if (c.take(Buffer.from(buffer.subarray(0, bytes)))) break;
  }
  return {
    first: c.first,
    handOver: c.head,
    stream: () => {
      const out = new PassThrough();
      const head = c.head();
      if (head.length > 0) out.write(head);
      if (c.isEof()) return out.end();
      const next = rest();
      next.once('error', () => out.end());
      return next.pipe(out);
    },
  };
}
