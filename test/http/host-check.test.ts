import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkBearerToken, checkRequestOrigin, isLoopbackHost } from '../../src/http/host-check.js';

const check = suite('checkRequestOrigin');
const loopback = { host: '127.0.0.1', port: 8080 };

for (const [host, origin] of [
  ['127.0.0.1:8080', undefined],
  ['localhost:8080', undefined],
  ['LOCALHOST:8080', 'http://localhost:8080'],
  ['[::1]:8080', 'http://[::1]:8080'],
  ['127.0.0.1:8080', 'https://127.0.0.1:8080'],
] as const) {
  check(`accepts Host ${host}${origin ? ` with Origin ${origin}` : ''}`, () => {
    assert.is(checkRequestOrigin(loopback, host, origin), undefined);
  });
}

for (const [host, origin, reason] of [
  [undefined, undefined, /missing Host/],
  ['evil.example:8080', undefined, /Host "evil.example:8080"/],
  ['127.0.0.1:9090', undefined, /is not this server/],
  ['127.0.0.1', undefined, /is not this server/],
  ['localhost:8080', 'http://evil.example', /Origin "http:\/\/evil.example" is not allowed/],
  ['localhost:8080', 'http://localhost:9999', /not allowed/],
  ['localhost:8080', 'null', /not a URL/],
  ['localhost:8080', 'file://localhost/x', /not allowed/],
  ['a:b:c', undefined, /is not this server/],
] as const) {
  check(`refuses Host ${String(host)} Origin ${String(origin)} (DNS rebinding)`, () => {
    assert.match(checkRequestOrigin(loopback, host, origin) ?? '', reason);
  });
}

check('accepts the bound address and the names given when bound beyond loopback', () => {
  const wide = { host: '0.0.0.0', port: 80, extraNames: ['myhost', '192.168.1.5'] };
  assert.is(checkRequestOrigin(wide, 'myhost', undefined), undefined);
  assert.is(checkRequestOrigin(wide, '192.168.1.5:80', 'http://MyHost'), undefined);
  assert.match(checkRequestOrigin(wide, '0.0.0.0', undefined) ?? '', /not this server/);
  assert.match(checkRequestOrigin(wide, 'other:80', undefined) ?? '', /not this server/);
});

check('with anyPort, checks the name only: a Service or port-forward maps its own port to the pod\'s', () => {
  const pod = { host: '0.0.0.0', port: 8080, extraNames: ['memory', 'memory.team.svc'], anyPort: true };
  assert.is(checkRequestOrigin(pod, 'memory', undefined), undefined);
  assert.is(checkRequestOrigin(pod, 'memory.team.svc:80', 'http://memory.team.svc'), undefined);
  assert.is(checkRequestOrigin(pod, 'localhost:18080', 'http://localhost:18080'), undefined);
  assert.match(checkRequestOrigin(pod, 'evil.example:8080', undefined) ?? '', /is not this server/);
  assert.match(checkRequestOrigin(pod, 'memory:80', 'http://evil.example:80') ?? '', /not allowed/);
  assert.match(checkRequestOrigin({ ...pod, anyPort: false }, 'memory:80', undefined) ?? '', /is not this server/);
});

check.run();

const loop = suite('isLoopbackHost');
loop('knows loopback addresses from the others', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1']) assert.ok(isLoopbackHost(h), h);
  for (const h of ['0.0.0.0', '::', '192.168.1.1', '10.0.0.1']) assert.not.ok(isLoopbackHost(h), h);
});
loop.run();

const bearer = suite('checkBearerToken');

bearer('lets every request through when the listener has no token', () => {
  assert.is(checkBearerToken({ host: '127.0.0.1', port: 1 }, undefined), undefined);
});

for (const [header, expected] of [
  ['Bearer t0k3n', undefined],
  ['bearer   t0k3n ', undefined],
  [undefined, /needs a bearer token/],
  ['Basic dDBrM246', /not a bearer token/],
  ['Bearer', /not a bearer token/],
  ['Bearer t0k3n2', /wrong bearer token/],
  ['Bearer T0K3N', /wrong bearer token/],
  ['Bearer t0k3n t0k3n', /not a bearer token/],
] as const) {
  bearer(`${JSON.stringify(header)} -> ${expected === undefined ? 'allowed' : 'refused'}`, () => {
    const refusal = checkBearerToken({ host: '127.0.0.1', port: 1, token: 't0k3n' }, header);
    if (expected === undefined) assert.is(refusal, undefined);
    else assert.match(refusal ?? '', expected);
  });
}

bearer.run();
