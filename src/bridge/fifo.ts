import { execFile } from 'node:child_process';
import { close, constants, open as openCallback } from 'node:fs';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** Where the FIFO directory (or the egress sidecar's volume) is mounted inside the container (read-only). */
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
  const dir = await createSandboxDir(parent, name);
  const paths = { in: join(dir, 'in'), out: join(dir, 'out'), err: join(dir, 'err') };
  // The container's user is not ours: the pipes must be open to it; the 0700 parent guards them.
  await promisify(execFile)('mkfifo', ['-m', '0666', paths.in, paths.out, paths.err]);
  return { dir, paths };
}

/** The egress proxy's socket, beside the pipes. */
export const EGRESS_SOCKET = 'egress.sock';
/** Where the in-sandbox forwarder listens (HTTP_PROXY points here). */
export const EGRESS_FORWARD_PORT = 3128;

/**
 * Creates a directory to bind-mount into one sandbox (pipes, the egress socket): 0711 inside a
 * 0700 parent, so the sandbox user can reach what is in it and no other host user can.
 */
export async function createSandboxDir(parent: string, name: string): Promise<string> {
  await mkdir(parent, { recursive: true, mode: 0o700 });
  await chmod(parent, 0o700);
  const dir = join(parent, name);
  await mkdir(dir, { mode: 0o711 });
  await chmod(dir, 0o711);
  return dir;
}

/** Returns the shell prefix that starts the egress forwarder and waits until it listens. */
export function egressForwarderPrefix(): string {
  const ready = '/tmp/.mcp-lok-egress-ready';
  return `node /opt/mcp-lok/egress-forward.mjs ${FIFO_MOUNT}/${EGRESS_SOCKET} ${EGRESS_FORWARD_PORT} ${ready} </dev/null >/dev/null 2>&1 & `
    + `i=0; while [ ! -e ${ready} ] && [ $i -lt 200 ]; do sleep 0.01; i=$((i+1)); done; `;
}

/**
 * Returns the container command that wires the server's stdio to the mounted pipes, first
 * starting the egress forwarder when the profile allows outbound hosts.
 */
export function wrapWithFifos(cmd: string[], options: { egress?: boolean } = {}): string[] {
  const forwarder = options.egress ? egressForwarderPrefix() : '';
  // The shell's own variables (PWD, SHLVL) are dropped: the server sees only the documented set.
  return ['/bin/sh', '-c', `unset PWD OLDPWD SHLVL; ${forwarder}exec "$@" <${FIFO_MOUNT}/in >${FIFO_MOUNT}/out 2>${FIFO_MOUNT}/err`, 'mcp-lok', ...cmd];
}

/**
 * Returns the container command that starts the egress forwarder, then the server on the
 * engine's own stdio (the attach bridge): the egress proxy is in a sidecar whose socket is in
 * a volume mounted at the same place as the pipes' directory would be.
 */
export function wrapWithEgressForwarder(cmd: string[]): string[] {
  return ['/bin/sh', '-c', `unset PWD OLDPWD SHLVL; ${egressForwarderPrefix()}exec "$@"`, 'mcp-lok', ...cmd];
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

/** Returns a socket over a pipe descriptor, for the bridge's JavaScript side. */
export function socketFor(fd: number, direction: 'read' | 'write'): Socket {
  return new Socket({ fd, readable: direction === 'read', writable: direction === 'write' });
}

/** Removes the pipes' directory. */
export async function removeFifos(set: FifoSet): Promise<void> {
  await rm(set.dir, { recursive: true, force: true });
}
