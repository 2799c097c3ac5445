import { constants } from 'node:os';

/** The signals that end a foreground mcp-lok: Ctrl-C, a client stopping its server, a closed terminal. */
export const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Returns the exit code a shell reports for a process ended by this signal (128 + its number). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

/** A window in which the stop signals ask the running work to clean up instead of killing the process. */
export interface SignalTrap {
  /** Aborted by the first signal. */
  signal: AbortSignal;
  /** The first signal caught, if any. */
  caught: () => NodeJS.Signals | undefined;
  /** Gives the signals back their previous handling. */
  release: () => void;
}

/**
 * Catches the stop signals until released: the first aborts `signal`, so the work removes
 * what it started and returns; a second one is handled as if no trap were set (by default the
 * process ends at once, and the reapers remove what is left).
 */
export function trapStopSignals(): SignalTrap {
  const abort = new AbortController();
  let caught: NodeJS.Signals | undefined;
  const release = (): void => { for (const s of STOP_SIGNALS) process.off(s, onSignal); };
  function onSignal(signal: NodeJS.Signals): void {
    if (caught) {
      release();
      // With no other listener left, the default action ends the process.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
      return;
    }
    caught = signal;
    abort.abort();
  }
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  return { signal: abort.signal, caught: () => caught, release };
}
