import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { createContainer, removeContainer, startContainer, stopContainer, waitContainer } from '../engine/containers.js';
import type { EngineEndpoint } from '../engine/endpoint.js';
import type { ContainerCreateBody } from '../sandbox/build-spec.js';
import { STOP_GRACE_S } from '../sandbox/hardening.js';
import { attachChannel } from './attach.js';
import type { RunIo, StdioChannel } from './channel.js';
import { fifoChannel, type FifoSet } from './fifo.js';
import { STOP_SIGNALS } from './interrupt.js';
import { PACKAGE_ROOT } from '../package-root.js';

export type { RunIo } from './channel.js';

/** How long a server may take to exit by itself after its stdin closes. */
export const EOF_GRACE_MS = 2000;
/** How long to wait for the last output bytes after the container exited. */
const DRAIN_MS = 1000;

/** How the server's stdio reaches us: the engine's attach stream, or mounted named pipes. */
export type ChannelChoice = { kind: 'attach' } | { kind: 'fifo'; fifos: FifoSet };

export interface RunOptions {
  channel: ChannelChoice;
  /** Spawn a reaper that removes the container if this process dies. */
  reaper: boolean;
  /** Stop the container on SIGINT/SIGTERM/SIGHUP. */
  handleSignals: boolean;
  /** A host directory the reaper removes too if this process dies. */
  cleanupDir?: string | undefined;
  /** A volume the reaper removes too, after the container, if this process dies (the engine keeps one still in use). */
  cleanupVolume?: string | undefined;
  /** Aborting stops the container (SIGTERM, then SIGKILL after the grace period). */
  signal?: AbortSignal | undefined;
  /** Aborting removes the container at once instead (nothing in it needs a grace period: an install). */
  removeOnAbort?: boolean | undefined;
  /** Called with the container's id once it has started. */
  onStarted?: ((id: string) => void) | undefined;
}

function spawnReaper(endpoint: EngineEndpoint, name: string, dir: string | undefined): ChildProcess {
  const script = join(PACKAGE_ROOT, 'dist', 'src', 'stdio', 'reaper.js');
  const child = spawn(process.execPath, [script, JSON.stringify(endpoint), name, dir ?? ''], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  child.unref();
  // It idles until the shim ends: keep its start-up from competing with the server's.
  try { if (child.pid) setPriority(child.pid, 10); } catch { /* not permitted: fine */ }
  child.stdin?.on('error', () => {});
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return child;
}

/** Copies the client's bytes to the server's stdin, pausing while it is full; ends it, then calls `onEnd`, when the client's input ends or fails. */
export function pipeInput(source: Readable, target: Writable, onEnd: () => void): void {
  source.on('data', (chunk: Buffer) => {
    if (!target.write(chunk)) { source.pause(); target.once('drain', () => source.resume()); }
  });
  source.once('end', () => { target.end(); onEnd(); });
  source.once('error', () => { target.end(); onEnd(); });
}

/**
 * Resolves when the output has drained, or DRAIN_MS after the call. The timer holds the event
 * loop: what `drained` waits for may not (the tap's copy is polled on unref'd timers), and a
 * process whose loop empties exits with 0 before the server's exit code is returned.
 */
async function drainedOrLate(drained: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([drained, new Promise((resolve) => { timer = setTimeout(resolve, DRAIN_MS); })]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Creates and starts a container, bridges its stdio byte for byte, and resolves with its exit
 * code. Stdin EOF closes the server's stdin, then after a grace period stops it; signals stop
 * it (a second one kills it). The container is removed however this ends.
 */
export async function runContainer(
  endpoint: EngineEndpoint,
  name: string,
  body: ContainerCreateBody,
  io: RunIo,
  options: RunOptions,
): Promise<number> {
  const reaper = options.reaper ? spawnReaper(endpoint, name, options.cleanupDir) : undefined;
  if (options.cleanupVolume) reaper?.stdin?.write(`volume ${options.cleanupVolume}\n`);
  const timers: NodeJS.Timeout[] = [];
  const relays: ChildProcess[] = [];
  let id: string | undefined;
  let stopping = false;
  const remove = (): void => { if (id) void removeContainer(endpoint, id).catch(() => {}); };
  const stop = (): void => {
    if (!id) return;
    if (stopping) { remove(); return; }
    stopping = true;
    void stopContainer(endpoint, id, STOP_GRACE_S).catch(() => {});
  };
  const stopLater = (): void => {
    const t = setTimeout(stop, EOF_GRACE_MS);
    t.unref();
    timers.push(t);
  };
  try {
    id = await createContainer(endpoint, name, body);
    reaper?.stdin?.write(`id ${id}\n`);
    const cid = id;
    const exited = waitContainer(endpoint, cid, body.HostConfig.AutoRemove);
    exited.catch(() => {});
    const channel: StdioChannel = options.channel.kind === 'attach' ? attachChannel() : fifoChannel(options.channel.fifos);
    const connected = await channel.connect({
      endpoint, id: cid, io, exited, start: () => startContainer(endpoint, cid), stopLater,
      track: (relay) => { reaper?.stdin?.write(`pid ${relay.pid}\n`); relays.push(relay); },
    });
    if (!connected) return await exited;
    options.onStarted?.(cid);
    if (options.handleSignals) for (const s of STOP_SIGNALS) process.on(s, stop);
    const onAbort = options.removeOnAbort ? remove : stop;
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort);
    if (io.stdin && connected.input) pipeInput(io.stdin, connected.input, stopLater);
    const exitCode = await exited;
    await drainedOrLate(connected.drained);
    return exitCode;
  } catch (error) {
    if (id) await removeContainer(endpoint, id).catch(() => {});
    throw error;
  } finally {
    for (const t of timers) clearTimeout(t);
    for (const r of relays) if (r.exitCode === null) r.kill();
    if (options.handleSignals) for (const s of STOP_SIGNALS) process.off(s, stop);
    options.signal?.removeEventListener('abort', options.removeOnAbort ? remove : stop);
    if (reaper?.stdin) { reaper.stdin.write('done\n'); reaper.stdin.end(); }
  }
}
