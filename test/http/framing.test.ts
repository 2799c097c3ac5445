import { METHODS } from 'node:http';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ChunkedDecoder, formatErrorResponse, formatHeadWithoutLength, formatUpstreamHead, HeadScanner, HttpFramingError, inspectRequest,
  MAX_HEAD_BYTES, parseRequestHead, parseResponseHead, RequestReader, responseBodyFraming, stripQuery, type BodyFraming,
} from '../../src/http/framing.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');

function statusOf(run: () => unknown): number | undefined {
  try { run(); } catch (error) { if (error instanceof HttpFramingError) return error.status; throw error; }
  return undefined;
}

/** Feeds `text` to a scanner in pieces of `size` bytes; returns the head and where it ended in the last piece. */
function scan(scanner: HeadScanner, text: string, size: number): { head: string; rest: string } | undefined {
  const buf = bytes(text);
  for (let k = 0; k < buf.length; k += size) {
    const piece = buf.subarray(k, k + size);
    const found = scanner.push(piece, 0);
    if (found) return { head: found.head.toString('latin1'), rest: buf.subarray(k + found.end).toString('latin1') };
  }
  return undefined;
}

const scanner = suite('HeadScanner');

scanner('finds the end of a head whole, in pieces and a byte at a time, leaving what follows', () => {
  const text = 'GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY';
  for (const size of [text.length, 7, 3, 1]) {
    assert.equal(scan(new HeadScanner(true), text, size), { head: 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', rest: 'BODY' }, `pieces of ${size}`);
  }
});

scanner('skips blank lines before the start line', () => {
  for (const size of [100, 1]) assert.equal(scan(new HeadScanner(true), '\r\n\r\nGET / HTTP/1.1\r\n\r\n', size)?.head, 'GET / HTTP/1.1\r\n\r\n');
});

scanner('scans on from a start offset and is idle again after a head', () => {
  const s = new HeadScanner(true);
  const buf = bytes('xxGET / HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n');
  const found = s.push(buf, 2)!;
  assert.is(found.head.toString('latin1'), 'GET / HTTP/1.1\r\n\r\n');
  assert.ok(s.idle);
  assert.is(s.push(buf, found.end), undefined);
  assert.not.ok(s.idle);
});

scanner('takes only CRLF line ends in strict mode (with parseRequestHead), and a bare LF in lenient mode', () => {
  const scanAndParse = (text: string, size: number) => {
    const found = scan(new HeadScanner(true), text, size);
    if (found) parseRequestHead(bytes(found.head));
  };
  for (const size of [100, 1]) {
    assert.is(statusOf(() => scanAndParse('GET / HTTP/1.1\nHost: a\r\n\r\n', size)), 400, `bare LF, pieces of ${size}`);
    assert.is(statusOf(() => scanAndParse('GET / HTTP/1.1\rHost: a\r\n\r\n', size)), 400, `bare CR, pieces of ${size}`);
    assert.is(statusOf(() => scanAndParse('GET / HTTP/1.1\r\nX: a\n\r\n\r\n', size)), 400, `a head ended by LF CRLF, pieces of ${size}`);
    assert.is(statusOf(() => scan(new HeadScanner(false), 'HTTP/1.1 200 OK\rX: a\r\n\r\n', size)), 400, `lenient bare CR, pieces of ${size}`);
    assert.is(scan(new HeadScanner(false), 'HTTP/1.1 200 OK\nX: a\n\nrest', size)?.rest, 'rest');
  }
});

scanner(`refuses a head over ${MAX_HEAD_BYTES} bytes with 431, ended or not`, () => {
  const big = `GET / HTTP/1.1\r\nX: ${'a'.repeat(MAX_HEAD_BYTES)}\r\n\r\n`;
  assert.is(statusOf(() => scan(new HeadScanner(true), big, big.length)), 431);
  assert.is(statusOf(() => scan(new HeadScanner(true), big.slice(0, -4), 1000)), 431);
  const fits = `GET / HTTP/1.1\r\nX: ${'a'.repeat(MAX_HEAD_BYTES - 40)}\r\n\r\n`;
  assert.is(scan(new HeadScanner(true), fits, 1000)?.head.length, fits.length);
});

scanner.run();

const parseRequest = suite('parseRequestHead');

parseRequest('returns method, target, version and fields with whitespace trimmed, names as sent', () => {
  const head = parseRequestHead(bytes('POST /mcp?x=1 HTTP/1.0\r\nHost: a:1\r\nX-Tab:\t v \t\r\nEmpty:\r\nObs: caf\xe9\r\n\r\n'));
  assert.equal(head, { method: 'POST', target: '/mcp?x=1', minor: 0, fields: ['Host', 'a:1', 'X-Tab', 'v', 'Empty', '', 'Obs', 'caf\xe9'] });
});

parseRequest('refuses with 400 what RFC 9112 does not allow', () => {
  const cases: Array<[string, string]> = [
    ['a lower-case version', 'GET / http/1.1\r\n\r\n'],
    ['HTTP/2', 'GET / HTTP/2.0\r\n\r\n'],
    ['two spaces', 'GET  / HTTP/1.1\r\n\r\n'],
    ['a space in the target', 'GET /a b HTTP/1.1\r\n\r\n'],
    ['a non-ASCII target', 'GET /caf\xe9 HTTP/1.1\r\n\r\n'],
    ['no colon', 'GET / HTTP/1.1\r\nHost\r\n\r\n'],
    ['whitespace before the colon', 'GET / HTTP/1.1\r\nHost : a\r\n\r\n'],
    ['a folded line', 'GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n'],
    ['an empty name', 'GET / HTTP/1.1\r\n: a\r\n\r\n'],
    ['a NUL in a value', 'GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n'],
    ['a bare LF in a value', 'GET / HTTP/1.1\r\nX: a\nb\r\n\r\n'],
  ];
  for (const [what, text] of cases) assert.is(statusOf(() => parseRequestHead(bytes(text))), 400, what);
});

// Found by the differential fuzz test against llhttp (http-framing-fuzz.test.ts).
parseRequest('takes only the methods Node\'s parser knows, and never CONNECT (which a server reads as a tunnel)', () => {
  for (const method of METHODS) {
    const status = statusOf(() => parseRequestHead(bytes(`${method} / HTTP/1.1\r\n\r\n`)));
    assert.is(status, method === 'CONNECT' ? 400 : undefined, method);
  }
  for (const method of ['FOO', 'get', 'PRI', 'DESCRIBE', 'GET_PARAMETER', 'POSTX']) {
    assert.throws(() => parseRequestHead(bytes(`${method} / HTTP/1.1\r\n\r\n`)), (e: Error) => e instanceof HttpFramingError && e.message === `unsupported method "${method}"`, method);
  }
});

parseRequest('refuses a tab in the value of Content-Length, Transfer-Encoding or Connection, which parsers read differently', () => {
  for (const field of ['Content-Length: 5\t', 'content-length:\t5', 'Transfer-Encoding: chunked\t', 'Transfer-Encoding:\tchunked', 'Connection: close\t', 'CONNECTION: keep-alive,\tclose', 'Proxy-Connection: close\t']) {
    assert.is(statusOf(() => parseRequestHead(bytes(`POST / HTTP/1.1\r\n${field}\r\n\r\n`))), 400, JSON.stringify(field));
  }
  assert.equal(parseRequestHead(bytes('GET / HTTP/1.1\r\nX-Tab:\ta\tb\t\r\n\r\n')).fields, ['X-Tab', 'a\tb']);
});

parseRequest('says why a request line is refused', () => {
  const cases: Array<[string, string]> = [
    ['GET /\r\n\r\n', 'unsupported HTTP version'],
    ['GET / HTTP/0.9\r\n\r\n', 'unsupported HTTP version'],
    ['GET / HTTP/2.0\r\n\r\n', 'unsupported HTTP version'],
    ['GET  / HTTP/1.1\r\n\r\n', 'whitespace other than one space between request-line parts'],
    ['GET / \tHTTP/1.1\r\n\r\n', 'whitespace other than one space between request-line parts'],
    ['GET /\r\nX: a\n\r\n', 'a line of the head ends in a bare LF'],
    ['GET / HTTP/1.1\r\nX: a\rb\r\n\r\n', 'the head has a bare CR'],
    ['GET / HTTP/1.1\r\nX : a\r\n\r\n', 'malformed header line'],
  ];
  for (const [text, reason] of cases) assert.throws(() => parseRequestHead(bytes(text)), (e: Error) => e.message === reason, JSON.stringify(text));
});

parseRequest.run();

const inspect = suite('inspectRequest');

function inspectFields(fields: string[], line = 'POST / HTTP/1.1'): BodyFraming | number {
  try {
    return inspectRequest(parseRequestHead(bytes(`${line}\r\n${fields.map((f) => `${f}\r\n`).join('')}\r\n`))).body;
  } catch (error) {
    if (error instanceof HttpFramingError) return error.status;
    throw error;
  }
}

inspect('works out the body framing, refusing every ambiguous one with 400', () => {
  const cases: Array<[string[], BodyFraming | number, string?]> = [
    [[], { kind: 'none' }],
    [['Content-Length: 0'], { kind: 'none' }],
    [['Content-Length: 12'], { kind: 'length', bytes: 12 }],
    [['Content-Length: 007'], { kind: 'length', bytes: 7 }],
    [['Transfer-Encoding: chunked'], { kind: 'chunked' }],
    [['transfer-encoding: Chunked'], { kind: 'chunked' }],
    [['Content-Length: 5', 'Transfer-Encoding: chunked'], 400],
    [['Transfer-Encoding: chunked', 'Content-Length: 5'], 400],
    [['Content-Length: -1'], 400],
    [['Content-Length: 1e3'], 400],
    [['Content-Length: 5, 5'], 400],
    [['Content-Length: 5', 'Content-Length: 5'], 400],
    [['Content-Length: 1234567890123456'], 400],
    [['Content-Length: 000000000000000000007'], { kind: 'length', bytes: 7 }],
    [['Content-Length: 999999999999999'], { kind: 'length', bytes: 999999999999999 }],
    [['Content-Length:'], 400],
    [['Transfer-Encoding: gzip'], 400],
    [['Transfer-Encoding: gzip, chunked'], 400],
    [['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'], 400],
    [['Transfer-Encoding: chunked'], 400, 'POST / HTTP/1.0'],
    [['Transfer_Encoding: chunked'], 400],
    [['content_length: 5'], 400],
    [[], 400, 'GET http://evil.example/ HTTP/1.1'],
    [[], 400, 'CONNECT evil.example:443 HTTP/1.1'],
    [[], { kind: 'none' }, 'OPTIONS * HTTP/1.1'],
    [[], 400, 'GET * HTTP/1.1'],
  ];
  for (const [fields, expected, line] of cases) assert.equal(inspectFields(fields, line), expected, `${line ?? ''} ${fields.join(' | ')}`);
});

inspect('says whether the connection closes after the request, as llhttp and RFC 9112 section 9.3 read it', () => {
  const cases: Array<[string, string[], boolean]> = [
    ['1.1', [], false],
    ['1.1', ['Connection: close'], true],
    ['1.1', ['Connection: Keep-Alive, CLOSE'], true],
    ['1.1', ['Connection: x', 'Connection: close'], true],
    ['1.1', ['Connection: closed, xclose, close x'], false],
    ['1.1', ['Connection: keep-alive'], false],
    ['1.0', [], true],
    ['1.0', ['Connection: keep-alive'], false],
    ['1.0', ['Connection: keep-alive, close'], false],
    ['1.0', ['Connection: keep-alivex'], true],
    ['1.0', ['Connection: close'], true],
    ['1.1', ['Proxy-Connection: close'], true],
    ['1.0', ['Proxy-Connection: keep-alive'], false],
  ];
  for (const [version, fields, close] of cases) {
    const head = parseRequestHead(bytes(`GET / HTTP/${version}\r\n${fields.map((f) => `${f}\r\n`).join('')}\r\n`));
    assert.is(inspectRequest(head).close, close, `HTTP/${version} ${fields.join(' | ')}`);
  }
});

inspect('returns Host, Origin and whether the request asks to upgrade; refuses a second Host or Origin', () => {
  const info = inspectRequest(parseRequestHead(bytes('GET / HTTP/1.1\r\nhost: a:1\r\nORIGIN: http://a:1\r\nUpgrade: websocket\r\n\r\n')));
  assert.equal([info.host, info.origin, info.upgrade], ['a:1', 'http://a:1', true]);
  assert.equal(inspectRequest(parseRequestHead(bytes('GET / HTTP/1.1\r\n\r\n'))), { host: undefined, origin: undefined, upgrade: false, body: { kind: 'none' }, close: false });
  assert.is(inspectFields(['Host: a', 'Host: b']), 400);
  assert.is(inspectFields(['Origin: http://a', 'Origin: http://b']), 400);
});

inspect.run();

const upstreamHead = suite('formatUpstreamHead');

upstreamHead('names the upstream in Host and Origin, adds X-Forwarded-*, drops Proxy headers, keeps the rest in order', () => {
  const head = parseRequestHead(bytes([
    'POST /mcp?x=1 HTTP/1.1', 'Host: 127.0.0.1:9000', 'Origin: http://localhost:9000', 'Connection: keep-alive, x-hop', 'X-Hop: 1',
    'Transfer-Encoding: chunked', 'X-Forwarded-For: 10.0.0.1', 'x-forwarded-for: 10.0.0.2', 'X-Forwarded-Host: spoofed', 'X-Forwarded-Proto: https',
    'Proxy-Authorization: Basic x', 'Proxy: http://evil', 'Proxy-Connection: keep-alive', 'Expect: 100-continue', '', '',
  ].join('\r\n')));
  const out = formatUpstreamHead(head, inspectRequest(head), 'localhost:8080', '127.0.0.1');
  assert.is(out, [
    'POST /mcp?x=1 HTTP/1.1', 'Host: localhost:8080', 'Origin: http://localhost:8080', 'Connection: keep-alive, x-hop', 'X-Hop: 1',
    'Transfer-Encoding: chunked', 'Expect: 100-continue',
    'X-Forwarded-For: 10.0.0.1, 10.0.0.2, 127.0.0.1', 'X-Forwarded-Host: 127.0.0.1:9000', 'X-Forwarded-Proto: http', '', '',
  ].join('\r\n'));
});

upstreamHead('keeps the HTTP version and adds no Origin the client did not send', () => {
  const head = parseRequestHead(bytes('GET / HTTP/1.0\r\nHost: a\r\n\r\n'));
  assert.is(formatUpstreamHead(head, inspectRequest(head), 'up', '::1'), 'GET / HTTP/1.0\r\nHost: up\r\nX-Forwarded-For: ::1\r\nX-Forwarded-Host: a\r\nX-Forwarded-Proto: http\r\n\r\n');
});

upstreamHead.run();

const responses = suite('parseResponseHead and responseBodyFraming');

function framingOf(text: string, method = 'GET'): BodyFraming {
  return responseBodyFraming(method, parseResponseHead(bytes(text)));
}

responses('frames a response by method, status, Transfer-Encoding, Content-Length or the connection closing', () => {
  const cases: Array<[string, string, BodyFraming]> = [
    ['GET', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', { kind: 'length', bytes: 5 }],
    ['GET', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', { kind: 'none' }],
    ['GET', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', { kind: 'chunked' }],
    ['GET', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 5\r\n\r\n', { kind: 'chunked' }],
    ['GET', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n', { kind: 'close' }],
    ['GET', 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n', { kind: 'close' }],
    ['GET', 'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n', { kind: 'none' }],
    ['GET', 'HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n', { kind: 'none' }],
    ['GET', 'HTTP/1.1 100 Continue\r\n\r\n', { kind: 'none' }],
    ['HEAD', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', { kind: 'none' }],
    ['HEAD', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', { kind: 'none' }],
    ['GET', 'HTTP/1.0 200\nContent-Length: 5\n\n', { kind: 'length', bytes: 5 }],
  ];
  for (const [method, text, expected] of cases) assert.equal(framingOf(text, method), expected, `${method} ${JSON.stringify(text)}`);
});

responses('says when the server closes after the response, and reads the content type', () => {
  const cases: Array<[string, boolean]> = [
    ['HTTP/1.1 200 OK\r\n\r\n', false],
    ['HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\n\r\n', true],
    ['HTTP/1.0 200 OK\r\n\r\n', true],
    ['HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n', false],
  ];
  for (const [text, close] of cases) assert.is(parseResponseHead(bytes(text)).close, close, text);
  assert.is(parseResponseHead(bytes('HTTP/1.1 200 OK\r\ncontent-type:  text/event-stream; charset=utf-8 \r\n\r\n')).contentType, 'text/event-stream; charset=utf-8');
});

responses('refuses with 502 a head it cannot frame', () => {
  for (const text of ['HTTP/1.1 2000 OK\r\n\r\n', 'HTTP/2 200\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n', 'HTTP/1.1 200 OK\r\nno colon\r\n\r\n']) {
    assert.is(statusOf(() => parseResponseHead(bytes(text))), 502, text);
  }
  assert.equal(framingOf('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n'), { kind: 'length', bytes: 5 });
});

responses('formatHeadWithoutLength drops Content-Length and can switch to chunks', () => {
  const head = bytes('HTTP/1.1 200 OK\nContent-Type: text/event-stream\ncontent-length : 9\n\n');
  assert.is(formatHeadWithoutLength(head, true).toString('latin1'), 'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n');
  assert.is(formatHeadWithoutLength(head, false).toString('latin1'), 'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n');
});

responses.run();

const chunked = suite('ChunkedDecoder');

/** Feeds `text` in pieces of `size`; returns the data seen, what followed the body, and whether it ended. */
function decode(text: string, size: number, strict = true): { data: string; rest: string; done: boolean } {
  const decoder = new ChunkedDecoder(strict);
  const buf = bytes(text);
  let data = '';
  for (let k = 0; k < buf.length; k += size) {
    const piece = buf.subarray(k, k + size);
    const end = decoder.feed(piece, 0, (from, to) => { data += piece.subarray(from, to).toString('latin1'); });
    if (decoder.done) return { data, rest: buf.subarray(k + end).toString('latin1'), done: true };
  }
  return { data, rest: '', done: false };
}

chunked('follows sizes, extensions and trailers to the end of the body, split anywhere', () => {
  const body = '5;a=1;b="x y"\r\nhello\r\nA\r\n0\r\n\r\n12345\r\nff\r\n' + 'z'.repeat(255) + '\r\n0;last\r\nX-T: 1\r\nY: \t2\r\n\r\nNEXT';
  for (const size of [body.length, 13, 2, 1]) {
    assert.equal(decode(body, size), { data: `hello0\r\n\r\n12345${'z'.repeat(255)}`, rest: 'NEXT', done: true }, `pieces of ${size}`);
  }
});

chunked('stops exactly at the end of the body and is reusable after reset', () => {
  const decoder = new ChunkedDecoder(true);
  const buf = bytes('0\r\n\r\n0\r\n\r\n');
  assert.is(decoder.feed(buf, 0), 5);
  assert.ok(decoder.done);
  decoder.reset();
  assert.not.ok(decoder.done);
  assert.ok(decoder.atChunkStart);
  assert.is(decoder.feed(buf, 5), 10);
  assert.ok(decoder.done);
});

chunked('is at a chunk start only between chunks', () => {
  const decoder = new ChunkedDecoder(true);
  const seen: boolean[] = [];
  for (const byte of bytes('2\r\nab\r\n0\r\n\r\n')) { decoder.feed(Buffer.from([byte]), 0); seen.push(decoder.atChunkStart); }
  assert.equal(seen.map((b) => (b ? 1 : 0)).join(''), '000000100000');
});

chunked('refuses in strict mode what servers may read differently', () => {
  const cases: Array<[string, string]> = [
    ['no size', '\r\n'],
    ['a 0x prefix', '0x5\r\nhello\r\n0\r\n\r\n'],
    ['a negative size', '-5\r\nhello\r\n0\r\n\r\n'],
    ['whitespace after the size', '5 \r\nhello\r\n0\r\n\r\n'],
    ['whitespace before the size', ' 5\r\nhello\r\n0\r\n\r\n'],
    ['a size too large', '1000000000000\r\n'],
    ['a bare LF after the size', '5\nhello\r\n0\r\n\r\n'],
    ['a bare CR after the size', '5\rhello\r\n0\r\n\r\n'],
    ['data longer than its size', '5\r\nhello!\r\n0\r\n\r\n'],
    ['a bare LF after data', '5\r\nhello\n0\r\n\r\n'],
    ['a control character in an extension', '5;a\x01\r\nhello\r\n0\r\n\r\n'],
    ['an extension too long', `5;${'a'.repeat(5000)}\r\nhello\r\n0\r\n\r\n`],
    ['a trailer without a colon', '0\r\nX\r\n\r\n'],
    ['a trailer with a space before the colon', '0\r\nX : 1\r\n\r\n'],
    ['a folded trailer', '0\r\nX: 1\r\n 2\r\n\r\n'],
    ['a bare LF ending the trailers', '0\r\n\n'],
    ['a chunk size past 12 hex digits', '1000000000000\r\n'],
    ['a space after the semicolon', '5; a\r\nhello\r\n0\r\n\r\n'],
    ['a space before the semicolon', '5 ;a\r\nhello\r\n0\r\n\r\n'],
    ['a semicolon ending the line', '5;a;\r\nhello\r\n0\r\n\r\n'],
    ['a space after an extension', '5;a=b \r\nhello\r\n0\r\n\r\n'],
    ['a comma in an extension', '5;a,b\r\nhello\r\n0\r\n\r\n'],
    ['two equals signs', '5;a==b\r\nhello\r\n0\r\n\r\n'],
    ['an unterminated quoted value', '5;a="b\r\nhello\r\n0\r\n\r\n'],
    ['text after a quoted value', '5;a="b"c\r\nhello\r\n0\r\n\r\n'],
    ['a quoted name', '5;"a"\r\nhello\r\n0\r\n\r\n'],
    ['an escaped DEL in a quoted value', '5;a="\\\x7f"\r\nhello\r\n0\r\n\r\n'],
    ['a Content-Length trailer', '0\r\nContent-Length: 5\r\n\r\n'],
    ['a Transfer-Encoding trailer', '0\r\ntransfer-encoding: chunked\r\n\r\n'],
    ['a Connection trailer (llhttp closes the connection on it)', '0\r\nConnection: close\r\n\r\n'],
    ['a Proxy-Connection trailer', '0\r\nProxy-Connection: close\r\n\r\n'],
  ];
  for (const [what, text] of cases) {
    assert.is(statusOf(() => decode(text, text.length)), 400, what);
    assert.is(statusOf(() => decode(text, 1)), 400, `${what}, a byte at a time`);
  }
});

chunked('takes in strict mode the extensions llhttp takes, and sizes with leading zeros', () => {
  for (const ext of [';a', ';a=b', ';a=', ';=b', ';a="b c"', ';a="\t\x80"', ';a="x\\"y"', ';a="\\\x80"', ';a=1;b="2";c', ';;a', ';a=b"c"', ";!#$%&'*+-.^_`|~=1"]) {
    const text = `5${ext}\r\nhello\r\n0${ext}\r\n\r\nNEXT`;
    for (const size of [text.length, 1]) assert.equal(decode(text, size), { data: 'hello', rest: 'NEXT', done: true }, `${JSON.stringify(ext)}, pieces of ${size}`);
  }
  assert.equal(decode('0000000000000000000005\r\nhello\r\n000\r\n\r\n', 3), { data: 'hello', rest: '', done: true });
  assert.equal(decode('fffffffffff\r\n', 100), { data: '', rest: '', done: false });
});

chunked('refuses a trailer name as soon as a byte of it is wrong, as llhttp does', () => {
  assert.is(statusOf(() => decode('0\r\nX-\\', 100)), 400);
  assert.is(statusOf(() => decode('0\r\nContent-Length:', 100)), 400);
  assert.equal(decode('0\r\nX-Ok: a\\b\r\n\r\n', 1), { data: '', rest: '', done: true });
});

chunked('takes bare LFs and whitespace after the size in lenient mode', () => {
  assert.equal(decode('5 ; x\nhello\n0\n\nNEXT', 1, false), { data: 'hello', rest: 'NEXT', done: true });
});

chunked.run();

const reader = suite('RequestReader');

/** Reads `text` in pieces of `size` as the proxy does: each head is parsed and inspected, then its body followed. */
function readRequests(text: string, size: number): { parts: string[]; data: string; ended: boolean; idle: boolean } {
  const r = new RequestReader();
  const buf = bytes(text);
  const parts: string[] = [];
  let data = '';
  for (let k = 0; k < buf.length; k += size) {
    const piece = buf.subarray(k, k + size);
    const onData = (from: number, to: number): void => { data += piece.subarray(from, to).toString('latin1'); };
    for (let part = r.read(piece, 0, onData); part; part = r.read(piece, part.end, onData)) {
      if (part.kind === 'head') {
        const head = parseRequestHead(part.head);
        parts.push(`${head.method} ${head.target}`);
        if (!r.beginBody(inspectRequest(head))) parts.push('end');
      } else if (part.last) {
        parts.push('end');
      }
    }
  }
  return { parts, data, ended: r.ended, idle: r.idle };
}

reader('splits pipelined requests into heads and bodies, whole or in pieces', () => {
  const text = 'GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcPOST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2;x\r\nde\r\n0\r\n\r\nGET /d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n';
  for (const size of [text.length, 7, 1]) {
    assert.equal(readRequests(text, size), { parts: ['GET /a', 'end', 'POST /b', 'end', 'POST /c', 'end', 'GET /d', 'end'], data: 'abcde', ended: false, idle: true }, `pieces of ${size}`);
  }
  assert.equal(readRequests('GET /a HTTP/1.1\r\n\r\nGET', 5).idle, false);
});

reader('reads nothing after a request that closes the connection (RFC 9112 section 9.6), as Node\'s server does', () => {
  const after = 'GET /smuggled HTTP/1.1\r\n\r\n';
  const cases: Array<[string, string[]]> = [
    ['GET /a HTTP/1.0\r\n\r\n', ['GET /a', 'end']],
    ['GET /a HTTP/1.1\r\nConnection: close\r\n\r\n', ['GET /a', 'end']],
    ['POST /a HTTP/1.1\r\nConnection: close\r\nContent-Length: 2\r\n\r\nab', ['POST /a', 'end']],
    ['POST /a HTTP/1.1\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', ['POST /a', 'end']],
  ];
  for (const [first, parts] of cases) {
    for (const size of [1000, 1]) assert.equal(readRequests(first + after, size), { parts, data: first.includes('ab') ? 'ab' : '', ended: true, idle: false }, JSON.stringify(first));
  }
});

reader('says when a framing error comes in a body, after its head went on', () => {
  const r = new RequestReader();
  const buf = bytes('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\n');
  const part = r.read(buf, 0)!;
  assert.is(part.kind, 'head');
  assert.not.ok(r.inBody);
  r.beginBody(inspectRequest(parseRequestHead(part.kind === 'head' ? part.head : Buffer.alloc(0))));
  assert.ok(r.inBody);
  assert.is(statusOf(() => r.read(buf, part.end)), 400);
});

reader.run();

const errors = suite('formatErrorResponse and stripQuery');

errors('formats a closing JSON-RPC error response with its length', () => {
  const text = formatErrorResponse(503, 'Service unavailable: ü', { 'Retry-After': '1' }).toString('utf8');
  const body = '{"jsonrpc":"2.0","error":{"code":-32000,"message":"Service unavailable: ü"},"id":null}';
  assert.is(text, `HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
});

errors('strips the query from a target', () => {
  assert.equal(['/mcp?token=x', '/mcp', '/?', '*'].map(stripQuery), ['/mcp', '/mcp', '/', '*']);
});

errors.run();
