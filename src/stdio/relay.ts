import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';

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
