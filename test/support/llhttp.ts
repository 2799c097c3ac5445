// llhttp, the parser inside Node's HTTP server, driven directly as an oracle for the proxy's own
// request framing. `_http_common`'s HTTPParser is the very class `node:http` allocates for each
// server connection; initialized as below (request mode, the default header size limit, no
// lenient flags) it is configured as `http.createServer()` configures it. Called directly it is
// synchronous and deterministic (no sockets, timers or event-loop order), fast enough for tens of
// thousands of inputs, and fed a byte at a time it tells at which byte each head and message
// ends. It is an internal module, so `test/http/framing-fuzz.test.ts` also checks it
// against a real `node:http` server, and anything missing here throws instead of passing.
import { METHODS } from 'node:http';
import { createRequire } from 'node:module';

interface ParserError extends Error {
  code: string;
  reason: string;
  bytesParsed: number;
}

interface Parser {
  [callback: number]: (...args: never[]) => unknown;
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | ParserError;
  close(): void;
}

interface ParserClass {
  new (): Parser;
  REQUEST: number;
  kLenientNone: number;
  kOnMessageBegin: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kOnExecute: number;
}

const HTTPParser = (createRequire(import.meta.url)('_http_common') as { HTTPParser?: ParserClass }).HTTPParser;
if (typeof HTTPParser !== 'function' || typeof HTTPParser.kOnHeadersComplete !== 'number' || typeof HTTPParser.kLenientNone !== 'number') {
  throw new Error(`node ${process.version} has no usable _http_common.HTTPParser: the llhttp oracle needs updating`);
}

/** llhttp reports a method as its index in a table Node does not export; each name's index is found by parsing it. */
const METHOD_NAMES = new Map<number, string>();

/** One message llhttp read; `headEnd` and `end` are offsets just past the head and the message. */
export interface LlhttpMessage {
  method: string;
  url: string;
  minor: number;
  headEnd: number | undefined;
  end: number | undefined;
  /** Body data bytes (chunk framing excluded). */
  body: number;
  keepAlive: boolean;
  upgrade: boolean;
}

/** What llhttp made of a byte stream: its messages (the last may be unfinished) and its error, if any. */
export interface LlhttpResult {
  messages: LlhttpMessage[];
  error: { code: string; reason: string; at: number } | undefined;
}

/** Returns how Node's own HTTP server parser frames `input` as a stream of requests. */
export function parseWithLlhttp(input: Buffer): LlhttpResult {
  const P = HTTPParser!;
  const parser = new P();
  const messages: LlhttpMessage[] = [];
  let current: LlhttpMessage | undefined;
  let url = '';
  let at = 0;
  const on = (key: number, callback: (...args: never[]) => unknown): void => { parser[key] = callback; };
  on(P.kOnMessageBegin, () => {
    current = { method: '', url: '', minor: -1, headEnd: undefined, end: undefined, body: 0, keepAlive: false, upgrade: false };
    url = '';
    messages.push(current);
  });
  // Headers and URL arrive here when a head spans several `execute` calls (always, a byte at a time).
  on(P.kOnHeaders, (_headers: never, part: never) => { url += String(part ?? ''); });
  on(P.kOnHeadersComplete, (_major: never, minor: never, _headers: never, method: never, fullUrl: never, _status: never, _text: never, upgrade: never, keepAlive: never) => {
    const m = current!;
    m.method = METHOD_NAMES.get(method as number) ?? `#${String(method)}`;
    m.url = fullUrl === undefined ? url : String(fullUrl);
    m.minor = minor as number;
    m.upgrade = Boolean(upgrade);
    m.keepAlive = Boolean(keepAlive);
    m.headEnd = at + 1;
    return 0;
  });
  on(P.kOnBody, (data: never) => { current!.body += (data as Buffer).length; });
  on(P.kOnMessageComplete, () => { current!.end = at + 1; current = undefined; });
  on(P.kOnExecute, () => {});
  parser.initialize(P.REQUEST, {}, 0, P.kLenientNone);
  let error: LlhttpResult['error'];
  try {
    for (at = 0; at < input.length; at++) {
      const result = parser.execute(input.subarray(at, at + 1));
      if (typeof result !== 'number') {
        error = { code: result.code, reason: result.reason, at };
        break;
      }
      // An upgrade (or CONNECT) hands the rest of the connection to someone else: no more HTTP.
      if (messages.at(-1)?.upgrade) break;
    }
  } finally {
    parser.close();
  }
  return { messages, error };
}

for (const name of METHODS) {
  const index = Number(parseWithLlhttp(Buffer.from(`${name} / HTTP/1.1\r\n\r\n`)).messages[0]?.method.slice(1));
  if (!Number.isInteger(index)) throw new Error(`llhttp did not parse a ${name} request: the llhttp oracle needs updating`);
  METHOD_NAMES.set(index, name);
}
