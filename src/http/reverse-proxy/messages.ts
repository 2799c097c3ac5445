// The JSON-RPC messages inside MCP's HTTP bodies, for the reverse proxy's tool pinning: a JSON
// body is one message (or a batch), an SSE body a stream of events whose data is one each.
// Observing only reads a copy of the bytes; enforcing holds each message until it is whole,
// so that a changed tool can be taken out of a tools/list result before the client sees it.

/** What the proxy does with the JSON-RPC messages it carries, when tool pinning is on. */
export interface MessageHooks {
  /** Server messages may be replaced (enforcing): bodies that can carry them are held and re-framed, client requests checked first. */
  readonly rewrites: boolean;
  /** A cheap test on a server message's text before it is parsed (most messages cannot matter). */
  serverMayMatter(text: string): boolean;
  /** Sees a parsed server message; returns its replacement, or undefined to keep it. */
  fromServer(message: unknown): unknown;
  /** A cheap test on a client body's text before it is parsed. */
  clientMayMatter(text: string): boolean;
  /** Sees a parsed client message (only when `rewrites`); returns the error to answer instead of forwarding it. */
  fromClient(message: unknown): JsonRpcErrorBody | undefined;
}

export interface JsonRpcErrorBody {
  code: number;
  message: string;
}

/** A request body held for checking may not be larger (a tool call's arguments can be big; more is refused under enforcing). */
export const HELD_REQUEST_LIMIT_BYTES = 16 * 1024 * 1024;
/** A JSON response body held for filtering may not be larger (the connection is broken off: never passed unchecked). */
export const HELD_RESPONSE_LIMIT_BYTES = 64 * 1024 * 1024;
/** A JSON response body larger than this is not observed (a tools/list result never is). */
export const OBSERVED_BODY_LIMIT_BYTES = 8 * 1024 * 1024;

/** A body's bytes in, the bytes to send out; `end` returns what was still held. */
export interface BodyTransform {
  push(chunk: Buffer): Buffer;
  end(): Buffer;
  /** True once chunks pass through untouched. */
  readonly done: boolean;
}

/** A copy of a body's bytes in; nothing out. */
export interface BodyTap {
  push(chunk: Buffer): void;
  end(): void;
}

const EMPTY = Buffer.alloc(0);
const LF = 0x0a;
const CR = 0x0d;

/** Returns the messages of a JSON-RPC text: one, or a batch's; none when it is not JSON. */
export function parseMessages(text: string): unknown[] {
  let value: unknown;
  try { value = JSON.parse(withoutBom(text)); } catch { return []; }
  return Array.isArray(value) ? value : [value];
}

/**
 * Returns a body's text without a leading byte order mark. Clients decode bodies as UTF-8 the
 * WHATWG way (fetch's `json()`, `TextDecoderStream`), which drops it: read with it, a tools
 * result would fail to parse here and reach the client unchecked.
 */
export function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Thrown under enforcing for a body or event that may carry a tools result and cannot be read: it is never passed unchecked. */
export class UncheckableMessage extends Error {}

/** Splits an SSE byte stream into whole events (each with the blank line that ends it). */
export class SseEvents {
  private pending: Buffer | undefined;
  private lineStart = 0;

  /** Returns the events completed by `chunk`, in order. */
  push(chunk: Buffer): Buffer[] {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    const events: Buffer[] = [];
    let eventStart = 0;
    let i = this.lineStart;
    while (i < buf.length) {
      const byte = buf[i];
      if (byte !== LF && byte !== CR) { i++; continue; }
      if (byte === CR && i + 1 === buf.length) break;
      const next = byte === CR && buf[i + 1] === LF ? i + 2 : i + 1;
      if (i === this.lineStart) {
        events.push(buf.subarray(eventStart, next));
        eventStart = next;
      }
      this.lineStart = next;
      i = next;
    }
    this.pending = eventStart < buf.length ? buf.subarray(eventStart) : undefined;
    this.lineStart -= eventStart;
    return events;
  }

  /** Returns what is held at the end of the stream (an event never ended). */
  end(): Buffer {
    const rest = this.pending ?? EMPTY;
    this.pending = undefined;
    this.lineStart = 0;
    return rest;
  }
}

/** Returns an SSE line's field name (the whole line when it has no colon). */
export function fieldName(line: string): string {
  const colon = line.indexOf(':');
  return colon < 0 ? line : line.slice(0, colon);
}

/** Returns an SSE line's value: after the colon and one optional space ('' without a colon). */
export function fieldValue(line: string): string {
  const colon = line.indexOf(':');
  if (colon < 0) return '';
  return line.charCodeAt(colon + 1) === 0x20 ? line.slice(colon + 2) : line.slice(colon + 1);
}

/** Returns an event's data (its `data:` lines joined by newlines), or undefined when it has none. */
export function eventData(event: string): string | undefined {
  const values = event.split(/\r\n|\r|\n/).filter((line) => fieldName(line) === 'data').map(fieldValue);
  return values.length === 0 ? undefined : values.join('\n');
}

/** Returns the event with its data replaced by `data` (one line of JSON), its other fields kept. */
function replaceEventData(event: string, data: string): string {
  const kept = event.split(/\r\n|\r|\n/).filter((line) => line !== '' && fieldName(line) !== 'data');
  return `${[...kept, `data: ${data}`].join('\n')}\n\n`;
}

/**
 * Passes a body's messages to the hooks; returns the text to send instead, or undefined to keep
 * it. Text that may matter and is not JSON throws UncheckableMessage: a client with another
 * parser (one that takes `NaN`, say) could still read a tools result in it.
 */
function filterText(raw: string, hooks: MessageHooks): string | undefined {
  const text = withoutBom(raw);
  if (!hooks.serverMayMatter(text)) return undefined;
  let value: unknown;
  try { value = JSON.parse(text); } catch { throw new UncheckableMessage('a message that may list tools and is not JSON'); }
  const batch = Array.isArray(value);
  const messages = batch ? value as unknown[] : [value];
  let changed = false;
  const out = messages.map((m) => {
    const replaced = hooks.fromServer(m);
    if (replaced === undefined) return m;
    changed = true;
    return replaced;
  });
  if (!changed) return undefined;
  return JSON.stringify(batch ? out : out[0]);
}

/** Returns a transform that holds an SSE body's events until whole and passes each one's message to the hooks. */
export function createSseFilter(hooks: MessageHooks): BodyTransform {
  const events = new SseEvents();
  let first = true;
  return {
    done: false,
    push(chunk) {
      const out: Buffer[] = [];
      for (const event of events.push(chunk)) {
        // Only the stream's first bytes can be a byte order mark (the client's decoder drops it there).
        const text = first ? withoutBom(event.toString('utf8')) : event.toString('utf8');
        first = false;
        const data = hooks.serverMayMatter(text) ? eventData(text) : undefined;
        const replaced = data === undefined ? undefined : filterText(data, hooks);
        out.push(replaced === undefined ? event : Buffer.from(replaceEventData(text, replaced), 'utf8'));
      }
      return out.length === 1 ? out[0]! : Buffer.concat(out);
    },
    end() { return events.end(); },
  };
}

/** Returns a tap that shows an SSE body's messages to the hooks. */
export function createSseTap(hooks: MessageHooks): BodyTap {
  const events = new SseEvents();
  let first = true;
  return {
    push(chunk) {
      for (const event of events.push(chunk)) {
        const text = first ? withoutBom(event.toString('utf8')) : event.toString('utf8');
        first = false;
        if (!hooks.serverMayMatter(text)) continue;
        const data = eventData(text);
        if (data !== undefined) for (const m of parseMessages(data)) hooks.fromServer(m);
      }
    },
    end() { events.end(); },
  };
}

/** Thrown when a held body outgrows its limit: the response is broken off, never passed unchecked. */
export class HeldBodyTooLarge extends Error {}

/** Returns a transform that holds a JSON body whole and passes its messages to the hooks. */
export function createJsonFilter(hooks: MessageHooks, limit = HELD_RESPONSE_LIMIT_BYTES): BodyTransform {
  const parts: Buffer[] = [];
  let size = 0;
  return {
    done: false,
    push(chunk) {
      size += chunk.length;
      if (size > limit) throw new HeldBodyTooLarge(`a JSON response over ${limit} bytes`);
      parts.push(chunk);
      return EMPTY;
    },
    end() {
      const body = Buffer.concat(parts);
      parts.length = 0;
      const replaced = filterText(body.toString('utf8'), hooks);
      return replaced === undefined ? body : Buffer.from(replaced, 'utf8');
    },
  };
}

/** Returns a tap that shows a JSON body's messages to the hooks (bodies over `limit` are not looked at). */
export function createJsonTap(hooks: MessageHooks, limit = OBSERVED_BODY_LIMIT_BYTES): BodyTap {
  const parts: Buffer[] = [];
  let size = 0;
  return {
    push(chunk) {
      size += chunk.length;
      if (size <= limit) parts.push(chunk);
    },
    end() {
      if (size > limit) return;
      const text = withoutBom(Buffer.concat(parts).toString('utf8'));
      parts.length = 0;
      if (hooks.serverMayMatter(text)) for (const m of parseMessages(text)) hooks.fromServer(m);
    },
  };
}

/** Returns the body's media type without parameters, lower-cased. */
function mediaType(contentType: string): string {
  const semi = contentType.indexOf(';');
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/** Returns how a body of this content type carries messages: `json`, `sse`, or undefined for neither. */
export function messageBodyKind(contentType: string): 'json' | 'sse' | undefined {
  const type = mediaType(contentType);
  if (type === 'text/event-stream') return 'sse';
  if (type === 'application/json' || type.endsWith('+json')) return 'json';
  return undefined;
}

/**
 * Returns how a client might still read a body that messageBodyKind places as neither: clients
 * test the header loosely (the `eventsource` package by prefix, so `text/event-streamx` is SSE;
 * older MCP SDKs by substring, so `text/plain; a=application/json` is JSON; others by prefix,
 * and joined duplicate headers), so such a body is not passed unchecked.
 */
export function looseMessageBodyKind(contentType: string): 'json' | 'sse' | undefined {
  const lower = contentType.toLowerCase();
  if (lower.includes('event-stream')) return 'sse';
  if (lower.includes('json')) return 'json';
  return undefined;
}

/**
 * Returns the JSON-RPC error responses to send instead of a client's body when the hooks refuse
 * one of its messages (a batch is refused whole: each request in it gets an error), or
 * undefined to forward it.
 */
export function checkClientBody(body: Buffer, hooks: MessageHooks): string | undefined {
  const text = body.toString('utf8');
  if (!hooks.clientMayMatter(text)) return undefined;
  let value: unknown;
  // Servers read a body after a byte order mark (the SDKs decode it the WHATWG way): so does this check.
  try { value = JSON.parse(withoutBom(text)); } catch { return undefined; }
  const batch = Array.isArray(value);
  const messages = batch ? value as unknown[] : [value];
  const refusals = messages.map((m) => hooks.fromClient(m));
  const first = refusals.find((r) => r !== undefined);
  if (!first) return undefined;
  const responses = messages.flatMap((m, k) => {
    const id = (m as { id?: unknown } | null)?.id;
    if (id === undefined || id === null) return [];
    const error = refusals[k] ?? { code: first.code, message: `Not sent: this batch holds a call that was refused (${first.message})` };
    return [{ jsonrpc: '2.0', id, error }];
  });
  return JSON.stringify(batch ? responses : responses[0] ?? { jsonrpc: '2.0', id: null, error: first });
}

/** A request's 2026-07-28 routing headers: `Mcp-Method` and `Mcp-Name`, undefined when absent (repeated ones joined by `, `). */
export interface RoutingHeaders {
  method: string | undefined;
  name: string | undefined;
}

/** The JSON-RPC error code of MCP 2026-07-28's HeaderMismatch: the routing headers and the body disagree (sent with HTTP 400). */
export const HEADER_MISMATCH_CODE = -32020;

/** A header value without the blanks (space, tab) HTTP allows around it. */
function withoutBlanks(value: string): string {
  return value.replace(/^[ \t]+|[ \t]+$/g, '');
}

const BASE64_CANONICAL = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Returns an Mcp-Name value as a 2026-07-28 server reads it: `=?base64?...?=` decoded (UTF-8),
 * anything else as it is; undefined for a malformed encoded one (which servers refuse).
 */
function decodeHeaderName(raw: string): string | undefined {
  const value = withoutBlanks(raw);
  if (!value.startsWith('=?base64?') || !value.endsWith('?=')) return value;
  const b64 = value.slice(9, value.length - 2);
  if (!BASE64_CANONICAL.test(b64)) return undefined;
  try { return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(b64, 'base64')); } catch { return undefined; }
}

/**
 * Returns the HeaderMismatch error response to send (with HTTP 400) instead of a tool call whose
 * `Mcp-Method` or `Mcp-Name` header disagrees with its body, else undefined. Under enforcing the
 * pin is checked against the body's tool name; a server or gateway that routed on the header
 * would run the tool the header names, one the pin may hold back. A conforming server refuses
 * the same request with the same error, so its clients see no difference. Requests that are
 * not about tools are left to the server.
 */
export function checkRoutingHeaders(body: Buffer, headers: RoutingHeaders): string | undefined {
  if (headers.method === undefined && headers.name === undefined) return undefined;
  let value: unknown;
  try { value = JSON.parse(withoutBom(body.toString('utf8'))); } catch { value = undefined; }
  const message = typeof value === 'object' && value !== null && !Array.isArray(value) ? value as { id?: unknown; method?: unknown; params?: { name?: unknown } } : undefined;
  const method = message?.method;
  if (method !== 'tools/call' && headers.method !== 'tools/call') return undefined;
  const name = method === 'tools/call' && typeof message?.params?.name === 'string' ? message.params.name : undefined;
  const headerMethod = headers.method === undefined ? undefined : withoutBlanks(headers.method);
  // A malformed encoded name (undefined) never agrees with the body.
  const headerName = headers.name === undefined ? undefined : decodeHeaderName(headers.name);
  const nameWrong = headers.name !== undefined && (headerName === undefined || headerName !== name);
  const wrong = headerMethod !== undefined && headerMethod !== method ? 'Mcp-Method' : nameWrong ? 'Mcp-Name' : undefined;
  if (wrong === undefined) return undefined;
  const id = typeof message?.id === 'string' || typeof message?.id === 'number' ? message.id : null;
  const text = `Bad Request: the request's ${wrong} header does not match its body (mcp-lok checks tool calls against their pin, --pin-tools enforce)`;
  return JSON.stringify({ jsonrpc: '2.0', id, error: { code: HEADER_MISMATCH_CODE, message: text } });
}

/**
 * Returns why a client body held under enforcing cannot be checked as the server would read it,
 * else undefined: a Content-Encoding (a server may inflate it), a charset other than UTF-8 (the
 * SDKs' SSE transport decodes by it), or NUL bytes in a body that may be JSON (UTF-16 or UTF-32,
 * which Python's json detects by itself). Read as UTF-8 here, such a tool call would pass unchecked.
 */
export function checkClientEncoding(contentType: string | undefined, contentEncoding: string | undefined, body: Buffer): string | undefined {
  const coding = (contentEncoding ?? '').trim().toLowerCase();
  if (coding !== '' && coding !== 'identity') return `a request body with Content-Encoding ${JSON.stringify(coding.slice(0, 40))}`;
  const type = contentType ?? '';
  for (const m of type.matchAll(/charset\s*=\s*"?([^";,\s]*)/gi)) {
    const charset = (m[1] ?? '').toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8') return `a request body in charset ${JSON.stringify(charset.slice(0, 40))}`;
  }
  if ((type === '' || looseMessageBodyKind(type) === 'json') && body.includes(0)) return 'a request body with NUL bytes (UTF-16 or UTF-32)';
  return undefined;
}

/** Returns the JSON-RPC error to send (with HTTP 415) for a client body checkClientEncoding refused. */
export function encodingRefusal(why: string): string {
  return JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32600, message: `Unsupported Media Type: ${why}, which mcp-lok cannot check under --pin-tools enforce; send JSON in UTF-8` } });
}
