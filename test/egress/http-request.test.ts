import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkHostHeader, parseAuthority, readProxyRequest } from '../../src/egress/http-request.js';

const read = (text: string, tunnel?: { host: string; port: number }) => readProxyRequest(Buffer.from(text, 'latin1'), tunnel);

const request = suite('readProxyRequest');

request('reads a CONNECT target, IPv6 literals included', () => {
  assert.equal(read('CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n'), { kind: 'connect', target: { host: 'api.example.com', port: 443 } });
  assert.equal(read('CONNECT [2001:db8::1]:8443 HTTP/1.1\r\n\r\n'), { kind: 'connect', target: { host: '2001:db8::1', port: 8443 } });
});

request('rewrites an absolute-form request to origin form, dropping only the proxy\'s own headers', () => {
  const parsed = read('GET http://api.example.com:8080/v1/x?y=1 HTTP/1.1\r\nHost: api.example.com:8080\r\nProxy-Connection: keep-alive\r\nProxy-Authorization: Basic eDp5\r\nConnection: keep-alive\r\nAccept: */*\r\n\r\n');
  assert.equal(parsed, {
    kind: 'http', target: { host: 'api.example.com', port: 8080 }, method: 'GET',
    upstreamHead: 'GET /v1/x?y=1 HTTP/1.1\r\nHost: api.example.com:8080\r\nConnection: keep-alive\r\nAccept: */*\r\n\r\n',
    body: { kind: 'none' }, upgrade: false,
  });
});

request('keeps the path as sent (no normalisation a server would read differently)', () => {
  const parsed = read('GET http://a.example.com/x/../%2e%2e/y?q HTTP/1.1\r\nHost: a.example.com\r\n\r\n');
  assert.match(parsed.kind === 'http' ? parsed.upstreamHead : '', /^GET \/x\/\.\.\/%2e%2e\/y\?q HTTP\/1\.1\r\n/);
});

request('gives a URL without a path the root, and one with only a query a leading slash', () => {
  assert.match((read('GET http://a.example.com HTTP/1.1\r\nHost: a.example.com\r\n\r\n') as { upstreamHead: string }).upstreamHead, /^GET \/ HTTP/);
  assert.match((read('GET http://a.example.com?x=1 HTTP/1.1\r\nHost: a.example.com\r\n\r\n') as { upstreamHead: string }).upstreamHead, /^GET \/\?x=1 HTTP/);
});

request('adds the Host of an HTTP/1.0 request that sent none', () => {
  assert.match((read('GET http://a.example.com/ HTTP/1.0\r\n\r\n') as { upstreamHead: string }).upstreamHead, /^GET \/ HTTP\/1\.0\r\nHost: a\.example\.com\r\n\r\n$/);
  assert.match((read('GET http://a.example.com:8080/ HTTP/1.0\r\n\r\n') as { upstreamHead: string }).upstreamHead, /\r\nHost: a\.example\.com:8080\r\n/);
});

request('follows the body framing of a request', () => {
  assert.equal((read('POST http://a.example.com/ HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: 5\r\n\r\n') as { body: unknown }).body, { kind: 'length', bytes: 5 });
  assert.equal((read('POST http://a.example.com/ HTTP/1.1\r\nHost: a.example.com\r\nTransfer-Encoding: chunked\r\n\r\n') as { body: unknown }).body, { kind: 'chunked' });
  assert.is((read('GET http://a.example.com/ws HTTP/1.1\r\nHost: a.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n') as { upgrade: boolean }).upgrade, true);
});

request('reads plain HTTP inside a tunnel against the tunnel\'s own target', () => {
  const tunnel = { host: 'api.example.com', port: 8080 };
  const parsed = read('GET /v1 HTTP/1.1\r\nHost: api.example.com:8080\r\n\r\n', tunnel);
  assert.equal(parsed.kind === 'http' && parsed.target, tunnel);
  assert.is(read('OPTIONS * HTTP/1.1\r\nHost: api.example.com:8080\r\n\r\n', tunnel).kind, 'http');
  assert.is(read('GET http://api.example.com:8080/v1 HTTP/1.1\r\nHost: api.example.com:8080\r\n\r\n', tunnel).kind, 'http');
});

// Domain fronting over plain HTTP: the URL names an allowed host, the Host header another site
// on the same address. Refused before anything is sent.
for (const [title, text, tunnel, status, reason] of [
  ['a Host header naming another host than the URL', 'GET http://allowed.example.com/ HTTP/1.1\r\nHost: blocked.example.org\r\n\r\n', undefined, 403, /the Host header names "blocked\.example\.org", not allowed\.example\.com:80/],
  ['a Host header naming another port than the URL', 'GET http://allowed.example.com/ HTTP/1.1\r\nHost: allowed.example.com:8080\r\n\r\n', undefined, 403, /not allowed\.example\.com:80/],
  ['an HTTP/1.1 request without Host', 'GET http://allowed.example.com/ HTTP/1.1\r\n\r\n', undefined, 403, /no Host header/],
  ['two Host headers', 'GET http://allowed.example.com/ HTTP/1.1\r\nHost: allowed.example.com\r\nHost: blocked.example.org\r\n\r\n', undefined, 400, /more than one Host header/],
  ['a Host header that is not a host', 'GET http://allowed.example.com/ HTTP/1.1\r\nHost: allowed.example.com@blocked.example.org\r\n\r\n', undefined, 403, /is not a host/],
  ['a Host naming another site inside a tunnel', 'GET / HTTP/1.1\r\nHost: blocked.example.org\r\n\r\n', { host: 'allowed.example.com', port: 80 }, 403, /names "blocked\.example\.org", not allowed\.example\.com:80/],
  ['a URL naming another site inside a tunnel', 'GET http://blocked.example.org/ HTTP/1.1\r\nHost: blocked.example.org\r\n\r\n', { host: 'allowed.example.com', port: 80 }, 403, /tunnel to allowed\.example\.com:80 names blocked\.example\.org:80/],
  ['a CONNECT inside a tunnel', 'CONNECT blocked.example.org:443 HTTP/1.1\r\n\r\n', { host: 'allowed.example.com', port: 443 }, 400, /CONNECT inside a tunnel/],
  ['an origin-form request outside a tunnel', 'GET / HTTP/1.1\r\nHost: allowed.example.com\r\n\r\n', undefined, 400, /is not an http:\/\/ URL/],
  ['an https:// URL (TLS goes through CONNECT)', 'GET https://allowed.example.com/ HTTP/1.1\r\nHost: allowed.example.com\r\n\r\n', undefined, 400, /is not an http:\/\/ URL/],
  ['a URL with credentials', 'GET http://user@allowed.example.com/ HTTP/1.1\r\nHost: allowed.example.com\r\n\r\n', undefined, 400, /has no usable host/],
  ['Content-Length with Transfer-Encoding (smuggling)', 'POST http://allowed.example.com/ HTTP/1.1\r\nHost: allowed.example.com\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n', undefined, 400, /both Content-Length and Transfer-Encoding/],
  ['a bare LF in the head', 'GET http://allowed.example.com/ HTTP/1.1\nHost: allowed.example.com\r\n\r\n', undefined, 400, /not an HTTP request/],
  ['a CONNECT without a port', 'CONNECT api.example.com HTTP/1.1\r\n\r\n', undefined, 400, /CONNECT needs host:port/],
  ['HTTP/2', 'CONNECT api.example.com:443 HTTP/2\r\n\r\n', undefined, 400, /not an HTTP request/],
  ['garbage', 'garbage\r\n\r\n', undefined, 400, /not an HTTP request/],
] as const) {
  request(`refuses ${title}`, () => {
    const parsed = read(text, tunnel);
    assert.is(parsed.kind, 'refused', JSON.stringify(parsed));
    assert.is((parsed as { status: number }).status, status);
    assert.match((parsed as { reason: string }).reason, reason);
  });
}

request.run();

const host = suite('checkHostHeader');

for (const [value, minor, allowed] of [
  ['api.example.com', 1, true],
  ['API.Example.com.', 1, true],
  ['api.example.com:443', 1, true],
  ['api.example.com:444', 1, false],
  ['other.example.com', 1, false],
  ['api.example.com.evil.net', 1, false],
  [undefined, 1, false],
  [undefined, 0, true],
  ['', 1, false],
] as const) {
  host(`${allowed ? 'accepts' : 'refuses'} Host ${JSON.stringify(value)} (HTTP/1.${minor}) for api.example.com:443`, () => {
    assert.is(checkHostHeader({ host: 'api.example.com', port: 443 }, value, minor).allowed, allowed);
  });
}

for (const [value, allowed] of [['[2001:db8::1]:8443', true], ['[2001:DB8:0::1]', true], ['[2001:db8::2]:8443', false], ['2001:db8::1', false]] as const) {
  host(`${allowed ? 'accepts' : 'refuses'} Host ${value} for [2001:db8::1]:8443`, () => {
    assert.is(checkHostHeader({ host: '2001:db8::1', port: 8443 }, value, 1).allowed, allowed);
  });
}

host.run();

const authority = suite('parseAuthority');

for (const [text, expected] of [
  ['a.example.com', { host: 'a.example.com', port: undefined }],
  ['A.example.com:8080', { host: 'a.example.com', port: 8080 }],
  ['[::1]:443', { host: '::1', port: 443 }],
  ['10.0.0.5:80', { host: '10.0.0.5', port: 80 }],
  ['a.example.com:0', undefined],
  ['a.example.com:65536', undefined],
  ['user@a.example.com', undefined],
  ['[not-ip]:80', undefined],
  ['a b:80', undefined],
] as const) {
  authority(`reads ${JSON.stringify(text)}`, () => {
    assert.equal(parseAuthority(text), expected);
  });
}

authority.run();
