import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseRequestHead } from '../../src/egress/proxy.js';

const head = suite('parseRequestHead');

head('reads a CONNECT target, IPv6 literals included', () => {
  assert.equal(parseRequestHead('CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n'), { target: { host: 'api.example.com', port: 443 }, connect: true });
  assert.equal(parseRequestHead('CONNECT [2001:db8::1]:8443 HTTP/1.1\r\n\r\n')?.target, { host: '2001:db8::1', port: 8443 });
});

head('rewrites an absolute-form request to origin form, one request per connection', () => {
  const parsed = parseRequestHead('GET http://api.example.com:8080/v1/x?y=1 HTTP/1.1\r\nHost: api.example.com:8080\r\nProxy-Connection: keep-alive\r\nConnection: keep-alive\r\n\r\n');
  assert.equal(parsed?.target, { host: 'api.example.com', port: 8080 });
  assert.is(parsed?.connect, false);
  assert.is(parsed?.rewritten, 'GET /v1/x?y=1 HTTP/1.1\r\nHost: api.example.com:8080\r\nConnection: close\r\n\r\n');
});

for (const bad of [
  'GET / HTTP/1.1\r\n\r\n',
  'GET https://api.example.com/ HTTP/1.1\r\n\r\n',
  'CONNECT api.example.com HTTP/1.1\r\n\r\n',
  'CONNECT api.example.com:443 HTTP/2\r\n\r\n',
  'CONNECT a b:443 HTTP/1.1\r\n\r\n',
  'garbage',
]) {
  head(`refuses ${JSON.stringify(bad.split('\r\n')[0])}`, () => {
    assert.is(parseRequestHead(bad), undefined);
  });
}

head.run();
