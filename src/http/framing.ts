// HTTP/1.1 message framing for the splicing reverse proxy: request heads are parsed strictly and
// rewritten; bodies and responses are only delimited, so their bytes can be copied unchanged.
import { METHODS, STATUS_CODES } from 'node:http';
import { formatJsonRpcError } from './json-rpc.js';

/** Bytes a message head may take, start line and closing blank line included. */
export const MAX_HEAD_BYTES = 64 * 1024;
/** Bytes a chunk-size line (size and extensions) may take. */
const MAX_CHUNK_LINE_BYTES = 4096;
/** Bytes a chunked body's trailer section may take. */
const MAX_TRAILER_BYTES = 64 * 1024;
/** The largest chunk size (256 TiB): far below where numbers lose precision or parsers overflow. */
const MAX_CHUNK_SIZE = 16 ** 12 - 1;
/** Significant digits a Content-Length may have, for the same reason. */
const MAX_LENGTH_DIGITS = 15;

const LF = 0x0a;
const CR = 0x0d;
const HT = 0x09;
const SP = 0x20;
const SEMICOLON = 0x3b;
const CRLF_CRLF = Buffer.from('\r\n\r\n', 'latin1');

const REQUEST_LINE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ [\x21-\x7e]+ HTTP\/1\.[01]\r\n/;
// Another version, or none (an HTTP/0.9 request line, which llhttp still takes).
const OTHER_VERSION = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ [\x21-\x7e]+(?: HTTP\/\d(?:\.\d)?)?\r\n/;
const LOOSE_SPACING = /^[\t ]*[!#$%&'*+.^_`|~0-9A-Za-z-]+[\t ]+[\x21-\x7e]+(?:[\t ]+HTTP\/\d(?:\.\d)?)?[\t ]*\r\n/;
// The methods Node's parser (llhttp) knows, which are the ones its HTTP server takes. CONNECT is
// left out: the proxy never opens tunnels, and a server would read what follows as one.
const KNOWN_METHODS = new Set(METHODS.filter((m) => m !== 'CONNECT'));
// Parsers disagree on whether a tab around these values is whitespace (llhttp ignores a `close`
// followed by one, and refuses a length or coding followed by one), so none may carry a tab.
const NO_TAB_FIELDS = new Set(['content-length', 'transfer-encoding', 'connection', 'proxy-connection']);
// The whole head in one match: method, target, version, then lines of `token: value` with no
// control character but tab (so no space before a colon, no folded line, no bare CR or LF).
const REQUEST_HEAD = /^(([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([\x21-\x7e]+) HTTP\/1\.([01])\r\n)(?:[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e\x80-\xff]*\r\n)*\r\n$/;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?:[ \t][^\r\n]*)?$/;
const DIGITS = /^\d{1,15}$/;
const BARE_LF = /(?:^|[^\r])\n/;
const BARE_CR = /\r(?!\n)/;
const ALL_DIGITS = /^\d+$/;

/** A message the proxy will not pass on; `status` is the response the client gets for it. */
export class HttpFramingError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'HttpFramingError';
  }
}

/**
 * Finds where a message head ends, across any number of reads. Strict mode (requests) ends a
 * head only at CRLF CRLF, and with `parseRequestHead` refuses any bare CR or LF: those are read
 * differently by different parsers, which is how requests get smuggled. Lenient mode
 * (responses) also takes a bare LF. Blank lines before the start line are skipped (RFC 9112
 * section 2.2).
 */
export class HeadScanner {
  private held = Buffer.alloc(0);
  private heldBytes = 0;
  private lineBytes = 0;
  private sawCR = false;
  private started = false;

  constructor(private readonly strict: boolean) {}

  /** True while no byte of a head is held, between messages. */
  get idle(): boolean {
    return this.heldBytes === 0 && this.lineBytes === 0 && !this.sawCR && !this.started;
  }

  /**
   * Scans `buf` from `start`. Returns the whole head (bytes held from earlier reads included)
   * and the index just after it, or undefined when all of `buf` went into a head not yet ended.
   */
  push(buf: Buffer, start: number): { head: Buffer; end: number } | undefined {
    if (this.idle && buf[start] !== CR && buf[start] !== LF) {
      const end = buf.indexOf(CRLF_CRLF, start);
      if (end >= 0 && end + 4 - start <= MAX_HEAD_BYTES && (this.strict || everyLineEndsInCrlf(buf, start, end))) {
        return { head: buf.subarray(start, end + 4), end: end + 4 };
      }
    }
    let from = start;
    for (let i = start; i < buf.length; i++) {
      const byte = buf[i]!;
      if (byte === LF) {
        if (!this.sawCR && this.strict) throw new HttpFramingError(400, 'a line of the head ends in a bare LF');
        this.sawCR = false;
      } else if (this.sawCR) {
        throw new HttpFramingError(400, 'the head has a bare CR');
      } else if (byte === CR) {
        this.sawCR = true;
        continue;
      } else {
        this.lineBytes++;
        continue;
      }
      if (this.lineBytes > 0) {
        this.started = true;
        this.lineBytes = 0;
      } else if (!this.started) {
        from = i + 1;
        this.heldBytes = 0;
      } else {
        const part = buf.subarray(from, i + 1);
        const head = this.heldBytes === 0 ? part : Buffer.concat([this.held.subarray(0, this.heldBytes), part]);
        this.reset();
        if (head.length > MAX_HEAD_BYTES) throw tooLarge();
        return { head, end: i + 1 };
      }
    }
    if (this.heldBytes + buf.length - from > MAX_HEAD_BYTES) throw tooLarge();
    this.hold(buf.subarray(from));
    return undefined;
  }

  reset(): void {
    this.held = Buffer.alloc(0);
    this.heldBytes = 0;
    this.lineBytes = 0;
    this.sawCR = false;
    this.started = false;
  }

  /** Copies into one growing buffer, so a head sent a byte at a time costs linear time. */
  private hold(part: Buffer): void {
    const need = this.heldBytes + part.length;
    if (need > this.held.length) {
      const grown = Buffer.allocUnsafe(Math.min(MAX_HEAD_BYTES, Math.max(need, 2 * this.held.length, 1024)));
      this.held.copy(grown, 0, 0, this.heldBytes);
      this.held = grown;
    }
    part.copy(this.held, this.heldBytes);
    this.heldBytes = need;
  }
}

/** True when every line before `end` ends in CRLF: a bare LF would end a lenient head sooner, a bare CR is refused. */
function everyLineEndsInCrlf(buf: Buffer, start: number, end: number): boolean {
  for (let j = buf.indexOf(LF, start); j >= 0 && j < end; j = buf.indexOf(LF, j + 1)) if (buf[j - 1] !== CR) return false;
  for (let j = buf.indexOf(CR, start); j >= 0 && j < end; j = buf.indexOf(CR, j + 1)) if (buf[j + 1] !== LF) return false;
  return true;
}

function tooLarge(): HttpFramingError {
  return new HttpFramingError(431, `the head is larger than ${MAX_HEAD_BYTES} bytes`);
}

/** A request head: field names as sent and values without surrounding whitespace, in order. */
export interface RequestHead {
  method: string;
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: number;
  /** Name, value, name, value, ... */
  fields: string[];
}

/**
 * Returns the parsed request head, or throws a 400 for anything outside RFC 9112's grammar, a
 * method Node's parser does not know, CONNECT (unless `connect`: a forward proxy's tunnels),
 * or a tab in a framing header's value.
 */
export function parseRequestHead(head: Buffer, options: { connect?: boolean } = {}): RequestHead {
  const text = head.toString('latin1');
  const match = REQUEST_HEAD.exec(text);
  if (!match) {
    const what = BARE_LF.test(text) ? 'a line of the head ends in a bare LF'
      : BARE_CR.test(text) ? 'the head has a bare CR'
      : REQUEST_LINE.test(text) ? 'malformed header line'
      : OTHER_VERSION.test(text) ? 'unsupported HTTP version'
      : LOOSE_SPACING.test(text) ? 'whitespace other than one space between request-line parts'
      : 'malformed request line';
    throw new HttpFramingError(400, what);
  }
  const method = match[2]!;
  if (!KNOWN_METHODS.has(method) && !(options.connect === true && method === 'CONNECT')) throw new HttpFramingError(400, `unsupported method ${JSON.stringify(method)}`);
  const fields: string[] = [];
  const end = text.length - 2;
  let pos = match[1]!.length;
  while (pos < end) {
    const eol = text.indexOf('\r\n', pos);
    const colon = text.indexOf(':', pos);
    const name = text.slice(pos, colon);
    const value = text.slice(colon + 1, eol);
    if (value.includes('\t') && NO_TAB_FIELDS.has(name.toLowerCase())) throw new HttpFramingError(400, `a tab in the ${name} header`);
    fields.push(name, trimWhitespace(value));
    pos = eol + 2;
  }
  return { method, target: match[3]!, minor: match[4] === '1' ? 1 : 0, fields };
}

/** How a body is delimited. */
export type BodyFraming = { kind: 'none' } | { kind: 'length'; bytes: number } | { kind: 'chunked' } | { kind: 'close' };

const NO_BODY: BodyFraming = { kind: 'none' };
const CHUNKED: BodyFraming = { kind: 'chunked' };
const UNTIL_CLOSE: BodyFraming = { kind: 'close' };

/** What the proxy needs to know about a request before forwarding it. */
export interface RequestInfo {
  host: string | undefined;
  origin: string | undefined;
  /** The request asks to switch protocols (WebSocket, h2c). */
  upgrade: boolean;
  body: BodyFraming;
  /** The connection closes after this request (HTTP/1.0 without keep-alive, or `Connection: close`). */
  close: boolean;
}

/**
 * Returns the request's Host, Origin, body framing and whether the connection closes after it.
 * Throws a 400 for every framing a parser downstream might read differently: Content-Length with
 * Transfer-Encoding, a malformed, repeated or huge Content-Length, any coding but a lone
 * `chunked`, a request target that is not a path.
 */
export function inspectRequest(head: RequestHead): RequestInfo {
  let host: string | undefined;
  let origin: string | undefined;
  let length: string | undefined;
  let coding: string | undefined;
  let connection: string | undefined;
  let upgrade = false;
  const fields = head.fields;
  for (let k = 0; k < fields.length; k += 2) {
    const value = fields[k + 1]!;
    switch (fields[k]!.toLowerCase()) {
      case 'host':
        if (host !== undefined) throw new HttpFramingError(400, 'more than one Host header');
        host = value;
        break;
      case 'origin':
        if (origin !== undefined) throw new HttpFramingError(400, 'more than one Origin header');
        origin = value;
        break;
      case 'content-length':
        if (length !== undefined) throw new HttpFramingError(400, 'more than one Content-Length header');
        length = value;
        break;
      case 'transfer-encoding':
        coding = coding === undefined ? value : `${coding}, ${value}`;
        break;
      // llhttp (like http_parser before it) reads Proxy-Connection as Connection.
      case 'connection':
      case 'proxy-connection':
        connection = connection === undefined ? value : `${connection}, ${value}`;
        break;
      case 'upgrade':
        upgrade = true;
        break;
      // Servers that map `_` to `-` (CGI-style gateways) would read these as framing headers.
      case 'content_length':
      case 'transfer_encoding':
        throw new HttpFramingError(400, `a ${fields[k]} header`);
    }
  }
  if (!head.target.startsWith('/') && !(head.target === '*' && head.method === 'OPTIONS')) {
    throw new HttpFramingError(400, 'the request target must be a path');
  }
  let body = NO_BODY;
  if (coding !== undefined) {
    if (length !== undefined) throw new HttpFramingError(400, 'both Content-Length and Transfer-Encoding');
    if (head.minor === 0) throw new HttpFramingError(400, 'Transfer-Encoding in an HTTP/1.0 request');
    if (coding.toLowerCase() !== 'chunked') throw new HttpFramingError(400, `unsupported Transfer-Encoding ${JSON.stringify(coding)}`);
    body = CHUNKED;
  } else if (length !== undefined) {
    if (!ALL_DIGITS.test(length)) throw new HttpFramingError(400, `malformed Content-Length ${JSON.stringify(length)}`);
    const bytes = Number(length);
    if (length.length > MAX_LENGTH_DIGITS && length.replace(/^0+/, '').length > MAX_LENGTH_DIGITS) throw new HttpFramingError(400, `Content-Length ${length} too large`);
    if (bytes > 0) body = { kind: 'length', bytes };
  }
  // What llhttp (and RFC 9112 section 9.3) reads: HTTP/1.1 stays open unless told to close, HTTP/1.0 the reverse.
  const close = connection === undefined ? head.minor === 0 : head.minor === 1 ? hasToken(connection, 'close') : !hasToken(connection, 'keep-alive');
  return { host, origin, upgrade, body, close };
}

/**
 * Returns the head sent upstream, as latin1 text (a socket writes that without a Buffer in
 * between). Host names the upstream and Origin (when sent) its origin, so the server's own
 * rebinding check accepts them; X-Forwarded-* say who asked; `Proxy-*` and `Proxy` are dropped
 * (the latter is how httpoxy reaches CGI-style servers). Everything else, Connection and the
 * framing headers included, goes through unchanged: the client and the server share one
 * connection, so those headers are theirs.
 */
export function formatUpstreamHead(head: RequestHead, info: RequestInfo, upstreamHost: string, clientAddress: string, dropAuthorization = false): string {
  let out = `${head.method} ${head.target} HTTP/1.${head.minor}\r\nHost: ${upstreamHost}\r\n`;
  let forwardedFor = '';
  const fields = head.fields;
  for (let k = 0; k < fields.length; k += 2) {
    const name = fields[k]!;
    const value = fields[k + 1]!;
    const lower = name.toLowerCase();
    if (lower === 'host' || lower === 'x-forwarded-host' || lower === 'x-forwarded-proto') continue;
    if (lower === 'proxy' || lower.startsWith('proxy-')) continue;
    if (dropAuthorization && lower === 'authorization') continue;
    if (lower === 'x-forwarded-for') { forwardedFor += `${value}, `; continue; }
    out += lower === 'origin' ? `${name}: http://${upstreamHost}\r\n` : `${name}: ${value}\r\n`;
  }
  return `${out}X-Forwarded-For: ${forwardedFor}${clientAddress}\r\nX-Forwarded-Host: ${info.host ?? ''}\r\nX-Forwarded-Proto: http\r\n\r\n`;
}

/** A response head, reduced to what framing and the SSE rewrite need. */
export interface ResponseHead {
  status: number;
  minor: number;
  contentLength: number | undefined;
  /** Transfer-Encoding was sent; `chunked` says whether its last coding is chunked. */
  encoded: boolean;
  chunked: boolean;
  contentType: string;
  /** The Content-Encoding header's value ('' without one). */
  contentEncoding: string;
  /** The server closes the connection after this response. */
  close: boolean;
}

/** Returns the parsed response head, or throws a 502 when it cannot be framed. */
export function parseResponseHead(head: Buffer): ResponseHead {
  const text = head.toString('latin1');
  let eol = text.indexOf('\n');
  const start = STATUS_LINE.exec(text.slice(0, lineEnd(text, eol)));
  if (!start) throw new HttpFramingError(502, 'malformed status line');
  const minor = start[1] === '1' ? 1 : 0;
  let contentLength: number | undefined;
  let coding: string | undefined;
  let contentType = '';
  let contentEncoding = '';
  let connection: string | undefined;
  for (let pos = eol + 1; ; pos = eol + 1) {
    eol = text.indexOf('\n', pos);
    const end = lineEnd(text, eol);
    if (end === pos) break;
    const colon = text.indexOf(':', pos);
    if (colon <= pos || colon > end) throw new HttpFramingError(502, 'malformed header line');
    // Only five names matter; their lengths rule out most lines before any lower-casing.
    const length = colon - pos;
    if (length !== 14 && length !== 17 && length !== 12 && length !== 10 && length !== 16) continue;
    const value = trimWhitespace(text.slice(colon + 1, end));
    switch (text.slice(pos, colon).toLowerCase()) {
      case 'content-length':
        if (!DIGITS.test(value) || (contentLength !== undefined && contentLength !== Number(value))) throw new HttpFramingError(502, 'malformed Content-Length');
        contentLength = Number(value);
        break;
      case 'transfer-encoding':
        coding = coding === undefined ? value : `${coding}, ${value}`;
        break;
      case 'content-type':
        // Repeated, it is joined as clients join it (and then names no one type: see messageBodyKind).
        contentType = contentType === '' ? value : `${contentType}, ${value}`;
        break;
      case 'content-encoding':
        contentEncoding = contentEncoding === '' ? value : `${contentEncoding}, ${value}`;
        break;
      case 'connection':
        connection = connection === undefined ? value : `${connection}, ${value}`;
        break;
    }
  }
  const close = connection === undefined ? minor === 0 : hasToken(connection, 'close') || (minor === 0 && !hasToken(connection, 'keep-alive'));
  const chunked = coding !== undefined && trimWhitespace(coding.slice(coding.lastIndexOf(',') + 1)).toLowerCase() === 'chunked';
  return { status: Number(start[2]), minor, contentLength, encoded: coding !== undefined, chunked, contentType, contentEncoding, close };
}

/** Returns where the line ending at the LF at `eol` ends, without its CR. */
function lineEnd(text: string, eol: number): number {
  return eol > 0 && text.charCodeAt(eol - 1) === CR ? eol - 1 : eol;
}

function hasToken(list: string, token: string): boolean {
  const lower = list.toLowerCase();
  return lower.includes(token) && lower.split(',').some((t) => trimWhitespace(t) === token);
}

/** Returns how a response's body is delimited (RFC 9112 section 6.3). */
export function responseBodyFraming(requestMethod: string, res: ResponseHead): BodyFraming {
  if (requestMethod === 'HEAD' || res.status < 200 || res.status === 204 || res.status === 304) return NO_BODY;
  if (res.encoded) return res.chunked ? CHUNKED : UNTIL_CLOSE;
  if (res.contentLength !== undefined) return res.contentLength > 0 ? { kind: 'length', bytes: res.contentLength } : NO_BODY;
  return UNTIL_CLOSE;
}

/** Returns a response head without Content-Length, adding `Transfer-Encoding: chunked` when asked. */
export function formatHeadWithoutLength(head: Buffer, chunked: boolean): Buffer {
  const lines = head.toString('latin1').split(/\r?\n/);
  lines.length -= 2;
  let out = '';
  for (const line of lines) if (!/^content-length[ \t]*:/i.test(line)) out += `${line}\r\n`;
  if (chunked) out += 'Transfer-Encoding: chunked\r\n';
  return Buffer.from(`${out}\r\n`, 'latin1');
}

const SIZE = 0;
const EXTENSION = 1;
const SIZE_LF = 2;
const DATA = 3;
const DATA_CR = 4;
const DATA_LF = 5;
const TRAILER = 6;
const TRAILER_LF = 7;
const DONE = 8;
// Chunk extensions in strict mode, as llhttp reads them: `;name`, `;name=token`, `;name="quoted"`.
const EXT_NAME_START = 9;
const EXT_NAME = 10;
const EXT_VALUE_START = 11;
const EXT_VALUE = 12;
const EXT_QUOTED = 13;
const EXT_QUOTED_PAIR = 14;
const EXT_QUOTED_END = 15;

const QUOTE = 0x22;
const COLON = 0x3a;
const BACKSLASH = 0x5c;
const EQUALS = 0x3d;
const TOKEN_BYTES = new Uint8Array(256);
for (const c of "!#$%&'*+.^_`|~-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TOKEN_BYTES[c.charCodeAt(0)] = 1;
/**
 * Trailer fields that would change the framing or the connection after the fact: llhttp refuses
 * the first two, and closes the connection on a `close` in the last two, which others ignore.
 */
const FRAMING_TRAILER = /^(?:content-length|transfer-encoding|connection|proxy-connection)$/i;

/**
 * Follows a chunked body to its end without changing it: chunk-size lines (extensions
 * included), data, the last chunk and the trailer section. Strict mode (requests) takes only
 * what RFC 9112 allows and llhttp takes too, so that any server reads the same chunk
 * boundaries; lenient mode (responses) also takes bare LFs, whitespace after the size and any
 * extension text.
 */
export class ChunkedDecoder {
  done = false;
  private state = SIZE;
  private size = 0;
  private digits = 0;
  private lineBytes = 0;
  private trailerBytes = 0;
  /** In strict mode, the current trailer's name while it is read, and whether its colon came. */
  private name = '';
  private inValue = false;
  private left = 0;

  constructor(private readonly strict: boolean) {}

  /** True between chunks, where a re-encoded stream can go back to copying. */
  get atChunkStart(): boolean {
    return this.state === SIZE && this.digits === 0;
  }

  reset(): void {
    this.done = false;
    this.state = SIZE;
    this.size = this.digits = this.lineBytes = this.trailerBytes = this.left = 0;
    this.name = '';
    this.inValue = false;
  }

  /**
   * Consumes `buf` from `start`; returns the index after what it took, which is the end of
   * `buf` unless the body ended first (then `done` is set). `onData` sees each run of data.
   */
  feed(buf: Buffer, start: number, onData?: (from: number, to: number) => void): number {
    let i = start;
    while (i < buf.length) {
      if (this.state === DATA) {
        const n = Math.min(this.left, buf.length - i);
        onData?.(i, i + n);
        i += n;
        this.left -= n;
        if (this.left === 0) this.state = DATA_CR;
        continue;
      }
      this.step(buf[i++]!);
      if (this.done) break;
    }
    return i;
  }

  private step(byte: number): void {
    switch (this.state) {
      case SIZE: {
        const digit = hexValue(byte);
        if (digit >= 0) {
          this.digits++;
          this.size = this.size * 16 + digit;
          if (this.size > MAX_CHUNK_SIZE) throw malformed('chunk size too large');
          return;
        }
        if (this.digits === 0) throw malformed('malformed chunk size');
        if (byte === SEMICOLON) this.state = this.strict ? EXT_NAME_START : EXTENSION;
        else if (!this.strict && (byte === SP || byte === HT)) this.state = EXTENSION;
        else if (byte === CR) this.state = SIZE_LF;
        else if (byte === LF && !this.strict) this.endSizeLine();
        else throw malformed('malformed chunk size');
        return;
      }
      case EXTENSION:
        if (byte === CR) this.state = SIZE_LF;
        else if (byte === LF && !this.strict) this.endSizeLine();
        else if (isControl(byte)) throw malformed('control character in a chunk extension');
        else if (++this.lineBytes > MAX_CHUNK_LINE_BYTES) throw malformed('chunk extension too long');
        return;
      case EXT_NAME_START:
      case EXT_NAME:
      case EXT_VALUE_START:
      case EXT_VALUE:
      case EXT_QUOTED:
      case EXT_QUOTED_PAIR:
      case EXT_QUOTED_END:
        if (++this.lineBytes > MAX_CHUNK_LINE_BYTES) throw malformed('chunk extension too long');
        this.stepExtension(byte);
        return;
      case SIZE_LF:
        if (byte !== LF) throw malformed('bare CR in a chunk-size line');
        this.endSizeLine();
        return;
      case DATA_CR:
        if (byte === CR) this.state = DATA_LF;
        else if (byte === LF && !this.strict) this.state = SIZE;
        else throw malformed('chunk data longer than its size');
        return;
      case DATA_LF:
        if (byte !== LF) throw malformed('bare CR after chunk data');
        this.state = SIZE;
        return;
      case TRAILER:
        if (byte === CR) this.state = TRAILER_LF;
        else if (byte === LF && !this.strict) this.endTrailerLine();
        else if (isControl(byte)) throw malformed('control character in a trailer');
        else if (++this.trailerBytes > MAX_TRAILER_BYTES) throw malformed('trailer section too large');
        else {
          this.lineBytes++;
          // A trailer's name is checked as it comes, as llhttp does: a token, then a colon.
          if (!this.strict || this.inValue) return;
          if (byte === COLON && this.name !== '') {
            if (FRAMING_TRAILER.test(this.name)) throw malformed(`a ${this.name} trailer`);
            this.inValue = true;
          }
          else if (TOKEN_BYTES[byte] === 1) this.name += String.fromCharCode(byte);
          else throw malformed('malformed trailer line');
        }
        return;
      case TRAILER_LF:
        if (byte !== LF) throw malformed('bare CR in a trailer');
        this.endTrailerLine();
        return;
    }
  }

  /** One byte of a strict chunk extension: `;` name [ `=` ( token / quoted-string ) ], ended by CRLF. */
  private stepExtension(byte: number): void {
    const state = this.state;
    if (state === EXT_QUOTED) {
      if (byte === QUOTE) this.state = EXT_QUOTED_END;
      else if (byte === BACKSLASH) this.state = EXT_QUOTED_PAIR;
      else if (isControl(byte)) throw malformed('malformed chunk extension');
      return;
    }
    if (state === EXT_QUOTED_PAIR) {
      if (isControl(byte)) throw malformed('malformed chunk extension');
      this.state = EXT_QUOTED;
      return;
    }
    if (TOKEN_BYTES[byte] === 1 && state !== EXT_QUOTED_END) {
      this.state = state === EXT_NAME_START ? EXT_NAME : state === EXT_VALUE_START ? EXT_VALUE : state;
      return;
    }
    if (byte === EQUALS && (state === EXT_NAME_START || state === EXT_NAME)) this.state = EXT_VALUE_START;
    // llhttp also takes a quoted string after a token (`a=b"c"`): what matters is that both end at the same CRLF.
    else if (byte === QUOTE && (state === EXT_VALUE_START || state === EXT_VALUE)) this.state = EXT_QUOTED;
    else if (byte === SEMICOLON) this.state = EXT_NAME_START;
    else if (byte === CR && state !== EXT_NAME_START) this.state = SIZE_LF;
    else throw malformed('malformed chunk extension');
  }

  private endSizeLine(): void {
    this.state = this.size === 0 ? TRAILER : DATA;
    this.left = this.size;
    this.size = this.digits = this.lineBytes = 0;
  }

  private endTrailerLine(): void {
    if (this.lineBytes === 0) {
      this.state = DONE;
      this.done = true;
      return;
    }
    if (this.strict && !this.inValue) throw malformed('malformed trailer line');
    this.state = TRAILER;
    this.name = '';
    this.inValue = false;
    this.lineBytes = 0;
  }
}

// Where a request stream is.
const IN_HEAD = 0;
const IN_LENGTH = 1;
const IN_CHUNKED = 2;
const ENDED = 3;

/** A piece of a request stream: a whole head, or a run of body bytes up to `end`. */
export type RequestPart = { kind: 'head'; head: Buffer; end: number } | { kind: 'body'; end: number; last: boolean };

/**
 * Splits a client's byte stream into request heads and bodies, strictly (RFC 9112): the one
 * place that decides where a request ends, so that the proxy and the server behind it always
 * agree on it. The caller parses and checks each head, then says how its body is framed.
 */
export class RequestReader {
  private phase = IN_HEAD;
  private left = 0;
  private closing = false;
  private readonly heads = new HeadScanner(true);
  private readonly chunks = new ChunkedDecoder(true);

  /** True between requests with no byte of the next one held. */
  get idle(): boolean {
    return this.phase === IN_HEAD && this.heads.idle;
  }

  /** True while a body is being read: a framing error there comes after its head went on. */
  get inBody(): boolean {
    return this.phase === IN_LENGTH || this.phase === IN_CHUNKED;
  }

  /** True once a request that closes the connection is complete: what follows is not read. */
  get ended(): boolean {
    return this.phase === ENDED && this.closing;
  }

  /**
   * Reads `buf` from `start`: returns the next head or run of body bytes, or undefined when the
   * rest of `buf` went into a head not yet ended or comes after the last request. `onData`
   * sees the body's data (without chunk framing). Throws an HttpFramingError for bytes that
   * break the framing; after a head, nothing more is read until `beginBody`.
   */
  read(buf: Buffer, start: number, onData?: (from: number, to: number) => void): RequestPart | undefined {
    if (start >= buf.length) return undefined;
    if (this.phase === IN_HEAD) {
      const found = this.heads.push(buf, start);
      if (!found) return undefined;
      this.phase = ENDED;
      return { kind: 'head', head: found.head, end: found.end };
    }
    if (this.phase === IN_LENGTH) {
      const end = start + Math.min(this.left, buf.length - start);
      onData?.(start, end);
      this.left -= end - start;
      return { kind: 'body', end, last: this.endBody(this.left === 0) };
    }
    if (this.phase === IN_CHUNKED) {
      const end = this.chunks.feed(buf, start, onData);
      return { kind: 'body', end, last: this.endBody(this.chunks.done) };
    }
    return undefined;
  }

  /**
   * Says how the body after the head just read is framed, and whether the connection closes
   * after this request (then nothing after it is read, as RFC 9112 section 9.6 asks and Node's
   * server does). Returns false when there is no body.
   */
  beginBody(info: Pick<RequestInfo, 'body' | 'close'>): boolean {
    this.closing = info.close;
    if (info.body.kind === 'length') {
      this.phase = IN_LENGTH;
      this.left = info.body.bytes;
      return true;
    }
    if (info.body.kind === 'chunked') {
      this.phase = IN_CHUNKED;
      this.chunks.reset();
      return true;
    }
    this.endBody(true);
    return false;
  }

  private endBody(ended: boolean): boolean {
    if (ended) this.phase = this.closing ? ENDED : IN_HEAD;
    return ended;
  }
}

function malformed(reason: string): HttpFramingError {
  return new HttpFramingError(400, reason);
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

function isControl(byte: number): boolean {
  return (byte < SP && byte !== HT) || byte === 0x7f;
}

function trimWhitespace(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && (value.charCodeAt(start) === SP || value.charCodeAt(start) === HT)) start++;
  while (end > start && (value.charCodeAt(end - 1) === SP || value.charCodeAt(end - 1) === HT)) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

/** Returns a complete response carrying a JSON-RPC error; the connection closes after it. */
export function formatErrorResponse(status: number, message: string, extra: Readonly<Record<string, string>> = {}): Buffer {
  const body = formatJsonRpcError(-32000, message);
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
  for (const name in extra) head += `${name}: ${extra[name]}\r\n`;
  head += `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
  return Buffer.from(head + body, 'utf8');
}

/** Returns a complete response with a JSON body (JSON-RPC messages mcp-lok answers itself); the connection closes after it. */
export function formatJsonResponse(status: number, body: string): Buffer {
  const head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
  return Buffer.from(head + body, 'utf8');
}

/** Returns the request target without its query, for logs (the query may carry tokens). */
export function stripQuery(target: string): string {
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}
