import { spawn, type ChildProcess } from 'node:child_process';
import { close, closeSync, constants, open, read } from 'node:fs';

/**
 * Starts a byte relay from one descriptor to another outside the JavaScript event loop:
 * `cat` moves data between the client's pipes and the server's named pipes with one
 * read/write per batch, so the shim adds almost no CPU to each message (a JS relay costs
 * ~20% of a core at 20k messages/s, which a 2-core machine takes from the server).
 * `handOver` is the named pipe's descriptor, which only cat keeps: its exit is then the
 * server's EOF, and the server's exit is cat's.
 */
export function startRelay(from: number, to: number, handOver: number): ChildProcess {
  const child = spawn('cat', [], { stdio: [from, to, 'ignore'] });
  closeSync(handOver);
  child.on('error', () => {});
  return child;
}

/** Resolves when the relay has exited (its input ended or its output closed). */
export function relayDone(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('close', () => resolve());
  });
}

function openFd(path: string, flags: number): Promise<number> {
  return new Promise((resolve, reject) => open(path, flags, (error, fd) => (error ? reject(error) : resolve(fd))));
}

/** How long tee may take to open its copy's pipe before a plain relay is used instead. */
const TAP_OPEN_MS = 10_000;

/**
 * Starts a relay that also copies: `tee` writes each batch to `to` (the client) and then to the
 * named pipe `tapPath`, whose read end is returned, non-blocking, for `pollCopy`. Like `cat` it
 * runs outside the event loop, so the client's bytes never wait for JavaScript; only the copy
 * does. The tap's path must be in a folder the server cannot reach (else it could feed the copy
 * lines of its own). Returns undefined when tee did not start or open its copy in time (it is
 * stopped, and `from` is still open, for a `cat` relay).
 */
export async function startTeeRelay(from: number, to: number, tapPath: string): Promise<{ relay: ChildProcess; copyFd: number } | undefined> {
  // Opening a pipe's read end waits for its writer: tee's open of the path.
  const reading = openFd(tapPath, constants.O_RDONLY);
  const child = spawn('tee', [tapPath], { stdio: [from, to, 'ignore'] });
  child.on('error', () => {});
  const exited = new Promise<void>((resolve) => { child.once('close', () => resolve()); child.once('error', () => resolve()); });
  let timer: NodeJS.Timeout | undefined;
  const failed = new Promise<undefined>((resolve) => {
    void exited.then(() => resolve(undefined));
    timer = setTimeout(() => resolve(undefined), TAP_OPEN_MS);
  });
  const fd = await Promise.race([reading.catch(() => undefined), failed]);
  clearTimeout(timer);
  const stopTee = async (): Promise<undefined> => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    return undefined;
  };
  if (fd !== undefined) {
    // Read without blocking from here on (tee, the writer, is there now), so it can be polled.
    const polled = await openFd(tapPath, constants.O_RDONLY | constants.O_NONBLOCK).catch(() => undefined);
    close(fd, () => {});
    if (polled === undefined) return stopTee();
    closeSync(from);
    return { relay: child, copyFd: polled };
  }
  // Unblock the waiting open (its thread) by opening the writer ourselves, close both, and stop tee.
  const writer = await openFd(tapPath, constants.O_WRONLY | constants.O_NONBLOCK).catch(() => undefined);
  const late = await reading.catch(() => undefined);
  if (writer !== undefined) close(writer, () => {});
  if (late !== undefined) close(late, () => {});
  return stopTee();
}

/** Polling of a copy: at once again after a full read, soon after data, less often while quiet. */
const COPY_BUSY_BYTES = 32 * 1024;
const COPY_POLL_MIN_MS = 2;
const COPY_POLL_MAX_MS = 50;
const COPY_READ_BYTES = 64 * 1024;

/**
 * Reads a copy (a non-blocking pipe descriptor) by polling, and resolves at its end (closing
 * it). Polled, not woken for each write: a process woken for every message of a quick exchange
 * takes a core from the client and the server on a small machine (measured: +30 us a round
 * trip, 0.87x the throughput); polled, this costs a few reads a second while the server is
 * quiet, and keeps up with any rate (a full read is followed by the next at once). The pipe
 * holds what comes between polls; only a burst of more than its 64 KiB right after a quiet
 * spell makes tee wait (at most one poll interval) before it writes on.
 */
export function pollCopy(fd: number, onChunk: (chunk: Buffer) => void): Promise<void> {
  const buffer = Buffer.allocUnsafe(COPY_READ_BYTES);
  let interval = COPY_POLL_MIN_MS;
  return new Promise((resolve) => {
    const finish = (): void => { close(fd, () => {}); resolve(); };
    const poll = (): void => {
      read(fd, buffer, 0, buffer.length, null, (error, bytes) => {
        if (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return finish();
          interval = Math.min(interval * 2, COPY_POLL_MAX_MS);
          return void setTimeout(poll, interval).unref();
        }
        if (bytes === 0) return finish();
        onChunk(Buffer.from(buffer.subarray(0, bytes)));
        interval = COPY_POLL_MIN_MS;
        if (bytes >= COPY_BUSY_BYTES) setImmediate(poll);
        else setTimeout(poll, interval).unref();
      });
    };
    poll();
  });
}
