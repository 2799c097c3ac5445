import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import {
  attachContainer, createContainer, removeContainer, startContainer, stopContainer, waitContainer,
} from '../engine/containers.js';
import type { EngineEndpoint } from '../engine/endpoint.js';
import type { ContainerCreateBody } from '../sandbox/build-spec.js';
import { Demuxer } from './demux.js';

/** How long a server may take to exit by itself after its stdin closes. */
export const EOF_GRACE_MS = 2000;
/** How long the engine waits after SIGTERM before SIGKILL. */
export const STOP_GRACE_S = 3;

export interface RunIo {
  /** Bytes for the server's stdin; its end closes the server's stdin. Omit for no stdin. */
  stdin?: Readable;
  onStdout: (chunk: Buffer) => void;
  onStderr: (chunk: Buffer) => void;
}

export interface RunOptions {
  /** Spawn a reaper that removes the container if this process dies. */
  reaper: boolean;
  /** Stop the container on SIGINT/SIGTERM/SIGHUP. */
  handleSignals: boolean;
  debug?: (line: string) => void;
}

function spawnReaper(endpoint: EngineEndpoint, name: string): ChildProcess {
  const script = fileURLToPath(new URL('./reaper.js', import.meta.url));
  const child = spawn(process.execPath, [script, JSON.stringify(endpoint), name], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  child.unref();
  child.stdin?.on('error', () => {});
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return child;
}

/**
 * Creates, attaches and starts a container, bridges its stdio byte for byte, and resolves
 * with its exit code. Stdin EOF closes the server's stdin, then after a grace period stops
 * it; signals stop it (a second signal kills it). The container is always removed.
 */
export async function runContainer(
  endpoint: EngineEndpoint,
  name: string,
  body: ContainerCreateBody,
  io: RunIo,
  options: RunOptions,
): Promise<number> {
  const reaper = options.reaper ? spawnReaper(endpoint, name) : undefined;
  const id = await createContainer(endpoint, name, body);
  reaper?.stdin?.write(`id ${id}\n`);
  let stopping = false;
  const timers: NodeJS.Timeout[] = [];
  const stop = (now: boolean): void => {
    if (now) { void removeContainer(endpoint, id).catch(() => {}); return; }
    if (stopping) return;
    stopping = true;
    void stopContainer(endpoint, id, STOP_GRACE_S).catch(() => {});
  };
  const onSignal = (): void => stop(stopping);
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  try {
    const [stream, exited] = await Promise.all([
      attachContainer(endpoint, id, io.stdin !== undefined),
      Promise.resolve(waitContainer(endpoint, id)),
    ]).catch(async (error: unknown) => {
      await removeContainer(endpoint, id).catch(() => {});
      throw error;
    });
    const demux = new Demuxer(io.onStdout, io.onStderr);
    stream.on('data', (chunk: Buffer) => demux.feed(chunk));
    stream.on('error', () => {});
    const drained = new Promise<void>((resolve) => { stream.once('end', resolve); stream.once('close', resolve); });
    if (options.handleSignals) for (const s of signals) process.on(s, onSignal);
    await startContainer(endpoint, id);
    if (io.stdin) {
      const input = io.stdin;
      input.on('data', (chunk: Buffer) => { if (!stream.write(chunk)) { input.pause(); stream.once('drain', () => input.resume()); } });
      input.once('end', () => {
        stream.end();
        const t = setTimeout(() => stop(false), EOF_GRACE_MS);
        t.unref();
        timers.push(t);
      });
      input.once('error', () => stop(false));
    }
    const exitCode = await exited;
    // The attach stream ends after the last byte the server wrote; wait for it, briefly.
    await Promise.race([drained, new Promise((r) => setTimeout(r, 1000).unref())]);
    return exitCode;
  } catch (error) {
    await removeContainer(endpoint, id).catch(() => {});
    throw error;
  } finally {
    for (const t of timers) clearTimeout(t);
    if (options.handleSignals) for (const s of signals) process.off(s, onSignal);
    if (reaper?.stdin) { reaper.stdin.write('done\n'); reaper.stdin.end(); }
    if (!body.HostConfig.AutoRemove) await removeContainer(endpoint, id).catch(() => {});
  }
}
