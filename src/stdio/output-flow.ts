import type { Readable } from 'node:stream';

/**
 * A switch on the stream a server's output arrives on: whoever consumes the output pauses it
 * while its own client is not reading, and runContainer binds it to that stream once it
 * exists. Paused, mcp-lok reads nothing more, the pipe fills and the server waits on its own
 * writes, instead of mcp-lok holding what the client has not taken.
 */
export class OutputFlow {
  #stream: Readable | undefined;
  #paused = false;

  get paused(): boolean {
    return this.#paused;
  }

  /** Attaches the stream (the engine's attach stream or the stdout pipe); a pause already asked for holds. */
  bind(stream: Readable): void {
    this.#stream = stream;
    if (this.#paused) stream.pause();
  }

  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#stream?.pause();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#stream?.resume();
  }
}
