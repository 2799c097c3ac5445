import type { ServerResponse } from 'node:http';

/**
 * Writes a session's messages to its clients' responses and tracks those that are not
 * draining. While any is, the session reads nothing more from its server (onMessage returns
 * false), so a client that does not read makes its own server wait instead of making the
 * supervisor buffer without limit; `onClear` reads the server again once every one of them
 * has drained, finished or closed.
 */
export class Backpressure {
  readonly #waiting = new Set<ServerResponse>();
  readonly #onClear: () => void;

  constructor(onClear: () => void) {
    this.#onClear = onClear;
  }

  /** True when no response the session wrote to is waiting to drain. */
  get clear(): boolean {
    return this.#waiting.size === 0;
  }

  /** Writes `text` to `res`, noting it when it holds more than its buffer should. */
  write(res: ServerResponse, text: string): void {
    if (!res.write(text)) this.#wait(res);
  }

  /** Ends `res` with `text`, noting it when what it still holds is more than its buffer should. */
  end(res: ServerResponse, text?: string): void {
    res.end(text);
    if (res.writableLength >= res.writableHighWaterMark) this.#wait(res);
  }

  #wait(res: ServerResponse): void {
    if (this.#waiting.has(res) || res.destroyed) return;
    this.#waiting.add(res);
    const release = (): void => {
      res.off('drain', release);
      res.off('finish', release);
      res.off('close', release);
      this.#waiting.delete(res);
      if (this.#waiting.size === 0) this.#onClear();
    };
    res.on('drain', release);
    res.on('finish', release);
    res.on('close', release);
  }
}
