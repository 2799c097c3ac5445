// The legacy SSE transport's `endpoint` event names where to POST; behind the proxy that must be
// the proxy's own origin, not the server's unreachable address.

/** Bytes of an SSE stream scanned for the `endpoint` event before passing the rest through untouched. */
export const ENDPOINT_SCAN_LIMIT_BYTES = 64 * 1024;

const LF = 0x0a;
const CR = 0x0d;

export interface EndpointRewriter {
  /** Returns the bytes ready to send: complete events, rewritten where needed. */
  push(chunk: Buffer): Buffer;
  /** Returns what is still held, at the end of the stream. */
  end(): Buffer;
  /** True once chunks pass through untouched. */
  readonly done: boolean;
}

/**
 * Returns a rewriter for an SSE byte stream: the legacy SSE transport's first `endpoint` event
 * may carry an absolute URL naming the server's own (unreachable) address, so its origin is
 * replaced with `publicOrigin`. Events are held only until complete, which a client needs
 * anyway before it can dispatch them; after the endpoint event, or after
 * `ENDPOINT_SCAN_LIMIT_BYTES` without one, chunks pass through untouched.
 */
export function createEndpointRewriter(publicOrigin: string): EndpointRewriter {
  let pending: Buffer | undefined;
  let lineStart = 0;
  let scanned = 0;
  let done = false;

  return {
    get done() { return done; },
    push(chunk) {
      if (done) return chunk;
      scanned += chunk.length;
      const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      const out: Buffer[] = [];
      let eventStart = 0;
      let i = lineStart;
      while (i < buf.length) {
        const byte = buf[i];
        if (byte !== LF && byte !== CR) { i++; continue; }
        if (byte === CR && i + 1 === buf.length) break;
        const next = byte === CR && buf[i + 1] === LF ? i + 2 : i + 1;
        if (i === lineStart) {
          const event = buf.subarray(eventStart, next);
          const endpoint = rewriteEndpointEvent(event, publicOrigin);
          out.push(endpoint ?? event);
          eventStart = next;
          if (endpoint) {
            done = true;
            out.push(buf.subarray(next));
            pending = undefined;
            return Buffer.concat(out);
          }
        }
        lineStart = next;
        i = next;
      }
      if (scanned >= ENDPOINT_SCAN_LIMIT_BYTES) {
        done = true;
        pending = undefined;
        out.push(buf.subarray(eventStart));
        return Buffer.concat(out);
      }
      pending = eventStart < buf.length ? buf.subarray(eventStart) : undefined;
      lineStart -= eventStart;
      return out.length === 1 ? out[0]! : Buffer.concat(out);
    },
    end() {
      done = true;
      const rest = pending ?? Buffer.alloc(0);
      pending = undefined;
      return rest;
    },
  };
}

/** Returns the event with its endpoint URL's origin replaced, the event unchanged when relative, or undefined when not an endpoint event. */
function rewriteEndpointEvent(event: Buffer, publicOrigin: string): Buffer | undefined {
  const pieces = event.toString('utf8').split(/(\r\n|\n|\r)/);
  let isEndpoint = false;
  let dataIndex = -1;
  let dataLines = 0;
  for (let k = 0; k < pieces.length; k += 2) {
    const line = pieces[k]!;
    const field = fieldName(line);
    if (field === 'event') isEndpoint = fieldValue(line) === 'endpoint';
    else if (field === 'data') { dataIndex = k; dataLines++; }
  }
  if (!isEndpoint) return undefined;
  if (dataLines !== 1) return event;
  const line = pieces[dataIndex]!;
  const value = fieldValue(line);
  const origin = /^https?:\/\/[^/?#]*/i.exec(value);
  if (!origin || !URL.canParse(value)) return event;
  const prefix = line.startsWith('data: ') ? 'data: ' : 'data:';
  pieces[dataIndex] = `${prefix}${publicOrigin}${value.slice(origin[0].length)}`;
  return Buffer.from(pieces.join(''), 'utf8');
}

function fieldName(line: string): string {
  const colon = line.indexOf(':');
  return colon < 0 ? line : line.slice(0, colon);
}

function fieldValue(line: string): string {
  const colon = line.indexOf(':');
  if (colon < 0) return '';
  return line.charCodeAt(colon + 1) === 0x20 ? line.slice(colon + 2) : line.slice(colon + 1);
}
