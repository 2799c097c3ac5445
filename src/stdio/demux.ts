const HEADER_BYTES = 8;

/**
 * Splits the engine's multiplexed attach stream (8-byte frame headers:
 * stream id, 3 zero bytes, big-endian length) into stdout and stderr, byte for byte.
 * Payload bytes are passed on as they arrive; only headers are ever buffered.
 */
export class Demuxer {
  #header = Buffer.alloc(HEADER_BYTES);
  #headerFill = 0;
  #remaining = 0;
  #toErr = false;
  readonly #out: (chunk: Buffer) => void;
  readonly #err: (chunk: Buffer) => void;

  constructor(out: (chunk: Buffer) => void, err: (chunk: Buffer) => void) {
    this.#out = out;
    this.#err = err;
  }

  /** Feeds raw attach bytes in. */
  feed(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#remaining > 0) {
        const end = Math.min(chunk.length, offset + this.#remaining);
        const payload = chunk.subarray(offset, end);
        this.#remaining -= payload.length;
        offset = end;
        (this.#toErr ? this.#err : this.#out)(payload);
        continue;
      }
      const take = Math.min(HEADER_BYTES - this.#headerFill, chunk.length - offset);
      chunk.copy(this.#header, this.#headerFill, offset, offset + take);
      this.#headerFill += take;
      offset += take;
      if (this.#headerFill === HEADER_BYTES) {
        this.#headerFill = 0;
        this.#toErr = this.#header[0] === 2;
        this.#remaining = this.#header.readUInt32BE(4);
      }
    }
  }
}
