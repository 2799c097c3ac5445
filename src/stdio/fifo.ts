import { execFile } from 'node:child_process';
import { close, constants, open as openCallback, write } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FIFO_MOUNT } from '../sandbox/hardening.js';
import { createSandboxDir } from '../state/run-dirs.js';
import { ended, type StdioChannel } from './channel.js';
import { pollCopy, relayDone, startRelay, startTeeRelay } from './relay.js';

export interface FifoSet {
  dir: string;
  paths: { in: string; out: string; err: string };
  /**
   * A fourth pipe, for a copy of the server's stdout (`tee` writes it after the client's), in
   * a 0700 folder beside `dir` that is never mounted: the server cannot write into it.
   */
  tap?: string;
}

/**
 * Creates a private directory holding three named pipes for a server's stdin, stdout and
 * stderr. The engine bind-mounts it, so the server reads and writes the same kernel pipes
 * as the shim: no engine, attach protocol or framing between client and server.
 * The parent is 0700 so no other host user can reach the pipes.
 */
export async function createFifos(parent: string, name: string, options: { tap?: boolean } = {}): Promise<FifoSet> {
  const dir = await createSandboxDir(parent, name);
  const paths = { in: join(dir, 'in'), out: join(dir, 'out'), err: join(dir, 'err') };
  // Named after the container like `dir`, so the orphan sweep keeps it while the container lives.
  const tapDir = options.tap ? `${dir}-tap` : undefined;
  if (tapDir) await mkdir(tapDir, { mode: 0o700 });
  const tap = tapDir ? join(tapDir, 'out') : undefined;
  // The container's user is not ours: the pipes must be open to it; the 0700 parent guards them.
  await promisify(execFile)('mkfifo', ['-m', '0666', paths.in, paths.out, paths.err, ...(tap ? [tap] : [])]);
  return { dir, paths, ...(tap ? { tap } : {}) };
}

/**
 * Returns the container command that wires the server's stdio to the mounted pipes, after
 * `prefix` (shell that must run first, such as the egress forwarder's start).
 */
export function wrapWithFifos(cmd: string[], options: { prefix?: string } = {}): string[] {
  // The shell's own variables (PWD, SHLVL) are dropped: the server sees only the documented set.
  return ['/bin/sh', '-c', `unset PWD OLDPWD SHLVL; ${options.prefix ?? ''}exec "$@" <${FIFO_MOUNT}/in >${FIFO_MOUNT}/out 2>${FIFO_MOUNT}/err`, 'mcp-lok', ...cmd];
}

// Raw descriptors (not FileHandles, which close themselves when collected).
function openFd(path: string, flags: number): Promise<number> {
  return new Promise((resolve, reject) => openCallback(path, flags, (error, fd) => (error ? reject(error) : resolve(fd))));
}

export interface FifoFds {
  in: number;
  out: number;
  err: number;
}

/**
 * Opens the host ends (raw descriptors) once the container opens its own. `abandon`
 * unblocks the waiting opens, by opening the far ends, when the container died first.
 */
export function openFifos(set: FifoSet): { ready: Promise<FifoFds>; abandon: () => Promise<void> } {
  const ready = Promise.all([
    openFd(set.paths.in, constants.O_WRONLY),
    openFd(set.paths.out, constants.O_RDONLY),
    openFd(set.paths.err, constants.O_RDONLY),
  ]).then(([i, o, e]) => ({ in: i, out: o, err: e }));
  const abandon = async (): Promise<void> => {
    const far = await Promise.allSettled([
      openFd(set.paths.in, constants.O_RDONLY | constants.O_NONBLOCK),
      openFd(set.paths.out, constants.O_WRONLY | constants.O_NONBLOCK),
      openFd(set.paths.err, constants.O_WRONLY | constants.O_NONBLOCK),
    ]);
    const fds = await ready.catch(() => undefined);
    for (const r of far) if (r.status === 'fulfilled') close(r.value, () => {});
    if (fds) for (const fd of [fds.in, fds.out, fds.err]) close(fd, () => {});
  };
  return { ready, abandon };
}

/** Writes all of `data` to a descriptor (a pipe the server reads); a failure is left to the relay that follows. */
function writeAll(fd: number, data: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const next = (offset: number): void => {
      if (offset >= data.length) return resolve();
      write(fd, data, offset, data.length - offset, (error, written) => (error ? resolve() : next(offset + written)));
    };
    next(0);
  });
}

/** Returns a socket over a pipe descriptor, for the bridge's JavaScript side. */
export function socketFor(fd: number, direction: 'read' | 'write'): Socket {
  return new Socket({ fd, readable: direction === 'read', writable: direction === 'write' });
}

/** Removes the pipes' directory (and the tap's). */
export async function removeFifos(set: FifoSet): Promise<void> {
  await rm(set.dir, { recursive: true, force: true });
  if (set.tap) await rm(`${set.dir}-tap`, { recursive: true, force: true });
}

/**
 * Returns the channel over mounted named pipes: the server reads and writes kernel pipes that
 * `cat` relays to this process's own descriptors (`io.fds`, `io.stderrFd`), or sockets over
 * them feed `io`'s callbacks. No engine and no framing in the data path.
 */
export function fifoChannel(set: FifoSet): StdioChannel {
  return {
    connect: async ({ io, start, exited, track, stopLater }) => {
      const fifos = openFifos(set);
      // Opens of named pipes wait on libuv's thread pool until the far end opens, and a process
      // cannot exit while one waits: a container that never starts must not leave them waiting.
      try {
        await start();
      } catch (error) {
        await fifos.abandon();
        throw error;
      }
      const fds = await Promise.race([fifos.ready, exited.then(() => undefined)]);
      if (!fds) {
        await fifos.abandon();
        const code = await exited;
        io.onStderr(Buffer.from(`mcp-lok: the sandbox exited (code ${code}) before connecting its stdio; MCP_LOK_BRIDGE=attach shows its own output.\n`));
        return undefined;
      }
      let errorsDone: Promise<void>;
      if (io.stderrFd !== undefined) {
        const relayErr = startRelay(fds.err, io.stderrFd, fds.err);
        track(relayErr);
        errorsDone = relayDone(relayErr);
      } else {
        const errors = socketFor(fds.err, 'read');
        errors.on('data', io.onStderr);
        errors.on('error', () => {});
        errorsDone = ended(errors);
      }
      if (io.fds) {
        if (io.stdinPrefix !== undefined && io.stdinPrefix.length > 0) await writeAll(fds.in, io.stdinPrefix);
        const relayIn = startRelay(io.fds.stdin, fds.in, fds.in);
        track(relayIn);
        void relayDone(relayIn).then(stopLater);
        // Observed, the server's stdout goes to the client and then to a pipe this process reads.
        const tee = io.tapStdout && set.tap ? await startTeeRelay(fds.out, io.fds.stdout, set.tap) : undefined;
        const relayOut = tee?.relay ?? startRelay(fds.out, io.fds.stdout, fds.out);
        track(relayOut);
        if (set.tap) void rm(`${set.dir}-tap`, { recursive: true, force: true }).catch(() => {});
        let tapDone: Promise<void> = Promise.resolve();
        if (io.tapStdout && tee) {
          const tap = io.tapStdout;
          tapDone = pollCopy(tee.copyFd, tap).then(() => tap.end?.());
        } else if (io.tapStdout) {
          io.onStderr(Buffer.from('mcp-lok: could not start `tee` to watch the server\'s tools: they are not checked this run.\n'));
        }
        return { input: undefined, drained: Promise.all([relayDone(relayOut), errorsDone, tapDone]).then(() => {}) };
      }
      const input = socketFor(fds.in, 'write');
      const output = socketFor(fds.out, 'read');
      output.on('data', io.onStdout);
      io.flow?.bind(output);
      for (const s of [input, output]) s.on('error', () => {});
      if (!io.stdin) input.end();
      return { input, drained: Promise.all([ended(output), errorsDone]).then(() => {}) };
    },
  };
}
