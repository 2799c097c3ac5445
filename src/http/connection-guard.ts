// Bounds on the connections a listener holds, so that no client can take the supervisor's file
// descriptors: a connection costs one, and idle ones are otherwise closed only after a minute.

/** Connections that have not yet sent a request that passed the listener's checks, held at once. */
export const MAX_UNCHECKED_CONNECTIONS = 64;
/** Connections a listener holds at once; past this, a new one is closed as it is accepted. */
export const MAX_CONNECTIONS = 1024;

/** What the guard needs of a socket. */
export interface Closable {
  destroy(): void;
  once(event: 'close', listener: () => void): unknown;
}

/**
 * Keeps at most `max` connections that have not yet passed the listener's checks (Host, Origin,
 * the bearer token): one more closes the oldest of them. Stops a local process without the
 * token (or, beyond loopback, any machine) from holding thousands of idle connections until
 * the supervisor can open no file, socket or pipe, while a client that sends its request at
 * once passes its checks within milliseconds and is never closed by this.
 */
export class UncheckedConnections {
  private readonly waiting = new Set<Closable>();

  constructor(private readonly max = MAX_UNCHECKED_CONNECTIONS) {}

  /** Takes a new connection; closes the oldest unchecked one when there are too many. */
  add(socket: Closable): void {
    this.waiting.add(socket);
    socket.once('close', () => this.waiting.delete(socket));
    if (this.waiting.size <= this.max) return;
    const oldest = this.waiting.values().next().value as Closable;
    this.waiting.delete(oldest);
    oldest.destroy();
  }

  /** Marks a connection whose request passed the checks: it is no longer counted. */
  passed(socket: Closable): void {
    this.waiting.delete(socket);
  }

  /** How many connections wait for their first checked request. */
  get size(): number {
    return this.waiting.size;
  }
}
