// lok-offline-data: api.example.com, mixed.example.com, me.example.com, 2001:db8::1, 192.0.2.77, 93.184.216.34, 10.0.0.5, 169.254.169.254; parsed, or refused by the egress proxy under test before it connects (its resolver is the test's own)
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

// The proxy against real sockets: a local echo server stands in for the outside world, and a
// resolver passed in decides what names mean.
import { connect as netConnect, createServer as netCreateServer, type Server as NetServer } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEgressProxy, type EgressEntry } from '../../src/egress/proxy.js';
import type { OutboundRules } from '../../src/sandbox/profile-validate.js';

interface Harness { socket: string; entries: EgressEntry[]; echoPort: number; close: () => void }

async function startHarness(rules: (echoPort: number) => OutboundRules, names: Record<string, string[]>): Promise<Harness> {
  const echo: NetServer = netCreateServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  const echoPort = (echo.address() as { port: number }).port;
  const socket = join(mkdtempSync(join(tmpdir(), 'lok-egress-')), 'egress.sock');
  const entries: EgressEntry[] = [];
  const proxy = await startEgressProxy({
    socketPath: socket, rules: rules(echoPort), hostAddresses: ['192.0.2.77'], record: (e) => entries.push({ ...e }),
    resolve: async (host) => { const found = names[host]; if (!found) throw new Error('ENOTFOUND'); return found; },
  });
  return { socket, entries, echoPort, close: () => { proxy.close(); echo.close(); } };
}

/** Sends a request head through the proxy and returns the status line and, if tunnelled, the echo of `payload`. */
function request(socket: string, head: string, payload = ''): Promise<{ status: string; echoed: string }> {
  return new Promise((resolve) => {
    const c = netConnect(socket);
    let data = '';
    c.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      const end = data.indexOf('\r\n\r\n');
      if (end >= 0 && data.startsWith('HTTP/1.1 200') && payload && data.length >= end + 4 + payload.length) c.end();
    });
    c.on('close', () => {
      const end = data.indexOf('\r\n\r\n');
      resolve({ status: data.split('\r\n')[0] ?? '', echoed: end >= 0 ? data.slice(end + 4) : '' });
    });
    c.on('error', () => resolve({ status: 'error', echoed: '' }));
    c.write(head);
    if (payload) setTimeout(() => c.write(Buffer.from(payload, 'latin1')), 50);
    else setTimeout(() => c.end(), 300);
  });
}

const live = suite('startEgressProxy');
const rules = (hosts: string[], ports: number[]): OutboundRules => ({ insecureAllowAll: false, transports: ['tcp'], hosts, ports });

live('tunnels to an allowed IP and port, byte for byte, and logs the bytes', async () => {
  const h = await startHarness((p) => rules(['127.0.0.1'], [p]), {});
  try {
    const r = await request(h.socket, `CONNECT 127.0.0.1:${h.echoPort} HTTP/1.1\r\n\r\n`, 'ping\x00\xff');
    assert.is(r.status, 'HTTP/1.1 200 Connection Established');
    assert.is(r.echoed, 'ping\x00\xff');
    await new Promise((res) => setTimeout(res, 50));
    assert.ok(h.entries.some((e) => e.allowed && e.address === '127.0.0.1' && e.bytesIn >= 6 && e.bytesOut >= 6), JSON.stringify(h.entries));
  } finally { h.close(); }
});

live('refuses a port the profile does not list, naming the fix', async () => {
  const h = await startHarness((p) => rules(['127.0.0.1'], [p]), {});
  try {
    const r = await request(h.socket, `CONNECT 127.0.0.1:${h.echoPort + 1} HTTP/1.1\r\n\r\n`);
    assert.is(r.status, 'HTTP/1.1 403 Forbidden');
    assert.match(h.entries[0]?.fix ?? '', /add \d+ to network\.outbound\.allow_port/);
  } finally { h.close(); }
});

live('refuses an allowed name that resolves to a loopback or private address', async () => {
  const h = await startHarness((p) => rules(['api.example.com', 'mixed.example.com'], [p]), { 'api.example.com': ['127.0.0.1'], 'mixed.example.com': ['93.184.216.34', '10.0.0.5'] });
  try {
    assert.is((await request(h.socket, `CONNECT api.example.com:${h.echoPort} HTTP/1.1\r\n\r\n`)).status, 'HTTP/1.1 403 Forbidden');
    assert.is((await request(h.socket, `CONNECT mixed.example.com:${h.echoPort} HTTP/1.1\r\n\r\n`)).status, 'HTTP/1.1 403 Forbidden');
    assert.match(h.entries[0]?.reason ?? '', /resolved to 127\.0\.0\.1, a loopback address/);
    assert.match(h.entries[1]?.reason ?? '', /10\.0\.0\.5, a private address/);
  } finally { h.close(); }
});

live('refuses this machine\'s own address even under insecure_allow_all', async () => {
  const h = await startHarness(() => ({ insecureAllowAll: true, transports: ['tcp'], hosts: [], ports: [] }), { 'me.example.com': ['192.0.2.77'] });
  try {
    assert.is((await request(h.socket, 'CONNECT me.example.com:22 HTTP/1.1\r\n\r\n')).status, 'HTTP/1.1 403 Forbidden');
    assert.is((await request(h.socket, 'CONNECT 169.254.169.254:80 HTTP/1.1\r\n\r\n')).status, 'HTTP/1.1 403 Forbidden');
  } finally { h.close(); }
});

live('answers 502 for an allowed host that does not answer, and 400 for nonsense', async () => {
  const h = await startHarness(() => rules(['127.0.0.1'], [1]), {});
  try {
    assert.is((await request(h.socket, 'CONNECT 127.0.0.1:1 HTTP/1.1\r\n\r\n')).status, 'HTTP/1.1 502 Bad Gateway');
    assert.ok(h.entries[0]?.allowed && h.entries[0]?.failed);
    assert.is((await request(h.socket, 'HELLO\r\n\r\n')).status, 'HTTP/1.1 400 Bad Request');
  } finally { h.close(); }
});

live.run();
