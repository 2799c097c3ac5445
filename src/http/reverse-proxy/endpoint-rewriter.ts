// The legacy SSE transport's `endpoint` event names where to POST; behind the proxy that must be
// the proxy's own origin, not the server's unreachable address.

import { fieldName, fieldValue, SseEvents } from './messages.js';

/** Bytes of an SSE stream scanned for the `endpoint` event before passing the rest through untouched. */
export const ENDPOINT_SCAN_LIMIT_BYTES = 64 * 1024;

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
  const events = new SseEvents();
  let scanned = 0;
  let done = false;

  return {
    get done() { return done; },
    push(chunk) {
      if (done) return chunk;
      scanned += chunk.length;
      const out: Buffer[] = [];
      for (const event of events.push(chunk)) {
        if (done) { out.push(event); continue; }
        const endpoint = rewriteEndpointEvent(event, publicOrigin);
        out.push(endpoint ?? event);
        if (endpoint) done = true;
      }
      // After the endpoint event, or past the scan limit, what is held goes out as it is.
      if (done || scanned >= ENDPOINT_SCAN_LIMIT_BYTES) {
        done = true;
        out.push(events.end());
      }
      return out.length === 1 ? out[0]! : Buffer.concat(out);
    },
    end() {
      done = true;
      return events.end();
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
