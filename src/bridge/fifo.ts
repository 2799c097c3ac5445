import { execFile } from 'node:child_process';
import { close, constants, open as openCallback } from 'node:fs';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** Where the FIFO directory is mounted inside the container (read-only). */
export const FIFO_MOUNT = '/run/mcp-lok';

export interface FifoSet {
  dir: string;
  paths: { in: string; out: string; err: string };
}

/**
 * Creates a private directory holding three named pipes for a server's stdin, stdout and
 * stderr. The engine bind-mounts it, so the server reads and writes the same kernel pipes
 * as the shim: no engine, attach protocol or framing between client and server.
 * The parent is 0700 so no other host user can reach the pipes.
 */
export async function createFifos(parent: string, name: string): Promise<FifoSet> {
  await mkdir(parent, { recursive: true, mode: 0o700 });
  await chmod(parent, 0o700);
  const dir = join(parent, name);
  await mkdir(dir, { mode: 0o711 });
  await chmod(dir, 0o711);
  const paths = { in: join(dir, 'in'), out: join(dir, 'out'), err: join(dir, 'err') };
  // The container's user is not ours: the pipes must be open to it; the 0700 parent guards them.
  await promisify(execFile)('mkfifo', ['-m', '0666', paths.in, paths.out, paths.err]);
  return { dir, paths };
}

/** Returns the container command that wires the server's stdio to the mounted pipes. */
export function wrapWithFifos(cmd: string[]): string[] {
  return ['/bin/sh', '-c', `exec "$@" <${FIFO_MOUNT}/in >${FIFO_MOUNT}/out 2>${FIFO_MOUNT}/err`, 'mcp-lok', ...cmd];
}

function openFd(path: string, flags: number): Promise<number> {
  return new Promise((resolve, reject) => openCallback(path, flags, (error, fd) => (error ? reject(error) : resolve(fd))));
}

export interface FifoStreams {
  input: Socket;
  output: Socket;
  errors: Socket;
}

/**
 * Opens the host ends once the container opens its own. `abandon` unblocks the waiting
 * opens (by opening the far ends) when the container died before reaching its pipes.
 */
export function openFifos(set: FifoSet): { ready: Promise<FifoStreams>; abandon: () => Promise<void> } {
  // Raw descriptors (not FileHandles, which close themselves when collected).
  const ready = Promise.all([
    openFd(set.paths.in, constants.O_WRONLY),
    openFd(set.paths.out, constants.O_RDONLY),
    openFd(set.paths.err, constants.O_RDONLY),
  ]).then(([i, o, e]) => ({
    input: new Socket({ fd: i, readable: false, writable: true }),
    output: new Socket({ fd: o, readable: true, writable: false }),
    errors: new Socket({ fd: e, readable: true, writable: false }),
  }));
  const abandon = async (): Promise<void> => {
    const far = await Promise.allSettled([
      openFd(set.paths.in, constants.O_RDONLY | constants.O_NONBLOCK),
      openFd(set.paths.out, constants.O_WRONLY | constants.O_NONBLOCK),
      openFd(set.paths.err, constants.O_WRONLY | constants.O_NONBLOCK),
    ]);
    const streams = await ready.catch(() => undefined);
    for (const r of far) if (r.status === 'fulfilled') close(r.value, () => {});
    if (streams) for (const s of Object.values(streams)) s.destroy();
  };
  return { ready, abandon };
}

/** Removes the pipes' directory. */
export async function removeFifos(set: FifoSet): Promise<void> {
  await rm(set.dir, { recursive: true, force: true });
}
