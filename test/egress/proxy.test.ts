// lok-offline-data: 192.0.2.77, api.example.com, blocked.example.org, web.example.com, mixed.example.com, 93.184.216.34, 10.0.0.5, me.example.com, wire.example.com, 168.63.129.16, 169.254.169.254, 2001:0:4136:e378:8000:63bf:3fff:fdd2, registry.example.com, other.example.com; names and server names sent to the proxy under test on a Unix socket, whose resolver is the test's own (every name maps to loopback or is refused before any connection), and whose upstream proxy is a listener on loopback
// The proxy against real sockets: local servers on loopback stand in for the outside world, and
// a resolver passed in decides what names mean. Nothing here connects anywhere but loopback.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as httpCreateServer, type Server as HttpServer } from 'node:http';
import { connect as netConnect, createServer as netCreateServer, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { duplexPair } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startEgressProxy, type EgressEntry, type EgressProxyOptions } from '../../src/egress/proxy.js';
import type { OutboundRules } from '../../src/sandbox/profile-validate.js';

interface Harness {
  socket: string;
  entries: EgressEntry[];
  /** A TCP echo server's port. */
  echoPort: number;
  /** An HTTP server's port: it answers `host=<Host> path=<path> n=<request number on its connection>`. */
  webPort: number;
  /** First bytes each echo connection received, in order. */
  echoSeen: Buffer[];
  /** Requests the web server saw. */
  webSeen: string[];
  close: () => void;
}

async function listen(server: NetServer | HttpServer): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}

async function startHarness(rules: (ports: { echo: number; web: number }) => OutboundRules, names: Record<string, string[]> = {}, extra: Partial<EgressProxyOptions> = {}): Promise<Harness> {
  const echoSeen: Buffer[] = [];
  const echo = netCreateServer((s) => { s.once('data', (d: Buffer) => echoSeen.push(d)); s.pipe(s); s.on('error', () => {}); });
  const webSeen: string[] = [];
  const web = httpCreateServer((req, res) => {
    const n = ((req.socket as Socket & { n?: number }).n = ((req.socket as Socket & { n?: number }).n ?? 0) + 1);
    webSeen.push(`${req.method} ${req.headers.host} ${req.url}`);
    req.resume();
    req.on('end', () => res.end(`host=${req.headers.host} path=${req.url} n=${n}`));
  });
  const [echoPort, webPort] = [await listen(echo), await listen(web)];
  const socketDir = mkdtempSync(join(tmpdir(), 'lok-egress-'));
  const socket = join(socketDir, 'egress.sock');
  const entries: EgressEntry[] = [];
  const proxy = await startEgressProxy({
    socketPath: socket, rules: rules({ echo: echoPort, web: webPort }), hostAddresses: ['192.0.2.77'], record: (e) => entries.push({ ...e }),
    resolve: async (host) => { const found = names[host]; if (!found) throw new Error('ENOTFOUND'); return found; },
    ...extra,
  });
  return {
    socket, entries, echoPort, webPort, echoSeen, webSeen,
    close: () => { proxy.close(); echo.close(); web.closeAllConnections(); web.close(); rmSync(socketDir, { recursive: true, force: true }); },
  };
}

/** Sends bytes through the proxy and returns everything that comes back until the proxy closes. */
function exchange(socket: string, ...parts: Array<string | Buffer>): Promise<string> {
  return new Promise((resolve) => {
    const c = netConnect(socket);
    let data = '';
    c.on('data', (d: Buffer) => { data += d.toString('latin1'); });
    c.on('close', () => resolve(data));
    c.on('error', () => {});
    let delay = 0;
    for (const part of parts) { delay += 50; setTimeout(() => c.write(part), delay); }
    // Enough for the answers to come; the proxy (or the far end) closes, or this does.
    setTimeout(() => c.end(), delay + 500);
  });
}

/** Sends a request head through the proxy and returns the status line and, if tunnelled, the echo of `payload`. */
async function request(socket: string, head: string, payload: string | Buffer = ''): Promise<{ status: string; echoed: string }> {
  const data = await exchange(socket, head, ...(payload.length ? [payload] : []));
  const end = data.indexOf('\r\n\r\n');
  return { status: data.split('\r\n')[0] ?? '', echoed: end >= 0 ? data.slice(end + 4) : '' };
}

/** Waits for the proxy to log what it is still logging (a closed tunnel is logged on close). */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 100));

/** Returns Node's own ClientHello for `servername`, made in memory (no connection). */
function clientHello(servername: string): Promise<Buffer> {
  return new Promise((resolve) => {
    const [ours, theirs] = duplexPair();
    const tls = tlsConnect({ socket: ours, servername, rejectUnauthorized: false });
    tls.on('error', () => {});
    theirs.once('data', (chunk: Buffer) => { resolve(chunk); tls.destroy(); theirs.destroy(); });
  });
}

const live = suite('startEgressProxy');
const rules = (hosts: string[], ports: number[]): OutboundRules => ({ insecureAllowAll: false, transports: ['tcp'], hosts, ports });

live('tunnels to an allowed IP and port, byte for byte, and logs the bytes', async () => {
  const h = await startHarness((p) => rules(['127.0.0.1'], [p.echo]));
  try {
    const hello = await clientHello('127.0.0.1');
    const r = await request(h.socket, `CONNECT 127.0.0.1:${h.echoPort} HTTP/1.1\r\n\r\n`, hello);
    assert.is(r.status, 'HTTP/1.1 200 Connection Established');
    assert.is(r.echoed, hello.toString('latin1'));
    await settle();
    assert.ok(h.entries.some((e) => e.allowed && e.address === '127.0.0.1' && e.bytesIn >= hello.length && e.bytesOut >= hello.length), JSON.stringify(h.entries));
  } finally { h.close(); }
});

live('lets a TLS ClientHello through when its server name is the tunnel\'s host', async () => {
  const h = await startHarness((p) => rules(['api.example.com', '127.0.0.1'], [p.echo]), { 'api.example.com': ['127.0.0.1'] });
  try {
    const hello = await clientHello('api.example.com');
    const r = await request(h.socket, `CONNECT api.example.com:${h.echoPort} HTTP/1.1\r\n\r\n`, hello);
    assert.is(r.echoed, hello.toString('latin1'));
  } finally { h.close(); }
});

// Reaching one site on a shared address (a CDN) under an allowed one's name: the tunnel opens
// (to the allowed name's address), but the ClientHello never leaves the proxy.
live('refuses a tunnel whose TLS server name is another host, before a byte reaches the far end', async () => {
  const h = await startHarness((p) => rules(['api.example.com', '127.0.0.1'], [p.echo]), { 'api.example.com': ['127.0.0.1'] });
  try {
    const fronted = await clientHello('blocked.example.org');
    const r = await request(h.socket, `CONNECT api.example.com:${h.echoPort} HTTP/1.1\r\n\r\n`, fronted);
    assert.is(r.status, 'HTTP/1.1 200 Connection Established');
    assert.is(r.echoed, '');
    const byIp = await request(h.socket, `CONNECT 127.0.0.1:${h.echoPort} HTTP/1.1\r\n\r\n`, fronted);
    assert.is(byIp.echoed, '');
    await settle();
    assert.equal(h.echoSeen, []);
    const refused = h.entries.filter((e) => !e.allowed);
    assert.is(refused.length, 2, JSON.stringify(h.entries));
    assert.match(refused[0]?.reason ?? '', /the TLS server name \(SNI\) is blocked\.example\.org, not api\.example\.com/);
    assert.match(refused[1]?.reason ?? '', /blocked\.example\.org in a tunnel to 127\.0\.0\.1 is not allowed/);
  } finally { h.close(); }
});

live('refuses a tunnel that carries neither TLS nor HTTP', async () => {
  const h = await startHarness((p) => rules(['127.0.0.1'], [p.echo]));
  try {
    const r = await request(h.socket, `CONNECT 127.0.0.1:${h.echoPort} HTTP/1.1\r\n\r\n`, 'SSH-2.0-x\r\n\r\n');
    assert.is(r.status, 'HTTP/1.1 200 Connection Established');
    assert.match(r.echoed, /^HTTP\/1\.1 403 Forbidden/);
    await settle();
    assert.equal(h.echoSeen, []);
    assert.ok(h.entries.some((e) => !e.allowed && /in the tunnel to 127\.0\.0\.1:\d+: not an HTTP request/.test(e.reason ?? '')), JSON.stringify(h.entries));
  } finally { h.close(); }
});

live('checks every plain-HTTP request inside a tunnel: a Host naming another site is refused after the answers before it', async () => {
  const h = await startHarness((p) => rules(['127.0.0.1'], [p.web]));
  try {
    const ok = `GET /one HTTP/1.1\r\nHost: 127.0.0.1:${h.webPort}\r\n\r\n`;
    const fronted = 'GET /two HTTP/1.1\r\nHost: blocked.example.org\r\n\r\n';
    const data = await exchange(h.socket, `CONNECT 127.0.0.1:${h.webPort} HTTP/1.1\r\n\r\n`, ok + ok + fronted);
    assert.match(data, /^HTTP\/1\.1 200 Connection Established\r\n\r\nHTTP\/1\.1 200 OK[^]*path=\/one n=1HTTP\/1\.1 200 OK[^]*path=\/one n=2HTTP\/1\.1 403 Forbidden/);
    assert.equal(h.webSeen, [`GET 127.0.0.1:${h.webPort} /one`, `GET 127.0.0.1:${h.webPort} /one`]);
  } finally { h.close(); }
});

live('keeps a plain-HTTP connection alive, checking every request on it', async () => {
  const h = await startHarness((p) => rules(['127.0.0.1', 'web.example.com'], [p.web]), { 'web.example.com': ['127.0.0.1'] });
  try {
    const get = (host: string, path: string): string => `GET http://${host}:${h.webPort}${path} HTTP/1.1\r\nHost: ${host}:${h.webPort}\r\n\r\n`;
    // Pipelined in one write: the same target twice, then another allowed target, then a refused one.
    const data = await exchange(h.socket, get('127.0.0.1', '/a') + get('127.0.0.1', '/b') + get('web.example.com', '/c') + get('blocked.example.org', '/d'));
    const bodies = [...data.matchAll(/host=(\S+) path=(\S+) n=(\d)/g)].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
    assert.equal(bodies, [`127.0.0.1:${h.webPort} /a 1`, `127.0.0.1:${h.webPort} /b 2`, `web.example.com:${h.webPort} /c 1`], data);
    assert.match(data, /HTTP\/1\.1 403 Forbidden[^]*blocked\.example\.org is not in allow_host/);
    assert.not.ok(h.webSeen.some((r) => r.includes('/d')), JSON.stringify(h.webSeen));
    await settle();
    assert.equal(h.entries.map((e) => `${e.host} ${e.allowed}`), ['127.0.0.1 true', 'web.example.com true', 'blocked.example.org false']);
  } finally { h.close(); }
});

// Node's agent keeps proxy connections alive and sends a CONNECT on one that carried a GET.
live('opens a tunnel on a connection that carried plain HTTP, checking its TLS server name too', async () => {
  const h = await startHarness((p) => rules(['127.0.0.1', 'api.example.com'], [p.web, p.echo]), { 'api.example.com': ['127.0.0.1'] });
  try {
    const hello = await clientHello('api.example.com');
    const get = `GET http://127.0.0.1:${h.webPort}/first HTTP/1.1\r\nHost: 127.0.0.1:${h.webPort}\r\n\r\n`;
    const data = await exchange(h.socket, get + `CONNECT api.example.com:${h.echoPort} HTTP/1.1\r\nHost: api.example.com:${h.echoPort}\r\n\r\n`, hello);
    assert.match(data, /^HTTP\/1\.1 200 OK[^]*path=\/first n=1HTTP\/1\.1 200 Connection Established\r\n\r\n/);
    assert.ok(data.endsWith(hello.toString('latin1')), data.slice(-80));
    const fronted = await exchange(h.socket, get + `CONNECT api.example.com:${h.echoPort} HTTP/1.1\r\n\r\n`, await clientHello('blocked.example.org'));
    assert.match(fronted, /HTTP\/1\.1 200 Connection Established\r\n\r\n$/);
    await settle();
    assert.ok(h.entries.some((e) => !e.allowed && /SNI\) is blocked\.example\.org/.test(e.reason ?? '')), JSON.stringify(h.entries));
  } finally { h.close(); }
});

live('refuses a plain-HTTP request whose Host names another site than its URL, and the second request of a connection too', async () => {
  const h = await startHarness((p) => rules(['127.0.0.1'], [p.web]));
  try {
    const first = await exchange(h.socket, `GET http://127.0.0.1:${h.webPort}/ HTTP/1.1\r\nHost: blocked.example.org\r\n\r\n`);
    assert.match(first, /^HTTP\/1\.1 403 Forbidden[^]*the Host header names "blocked\.example\.org"/);
    const second = await exchange(h.socket,
      `GET http://127.0.0.1:${h.webPort}/ok HTTP/1.1\r\nHost: 127.0.0.1:${h.webPort}\r\n\r\n`
      + `GET http://127.0.0.1:${h.webPort}/fronted HTTP/1.1\r\nHost: blocked.example.org\r\n\r\n`);
    assert.match(second, /^HTTP\/1\.1 200 OK[^]*path=\/ok n=1HTTP\/1\.1 403 Forbidden/);
    assert.equal(h.webSeen, [`GET 127.0.0.1:${h.webPort} /ok`]);
  } finally { h.close(); }
});

live('passes request bodies and keeps their framing, so a body cannot carry a request past the check', async () => {
  const h = await startHarness((p) => rules(['127.0.0.1'], [p.web]));
  try {
    const smuggled = `GET http://127.0.0.1:${h.webPort}/inner HTTP/1.1\r\nHost: blocked.example.org\r\n\r\n`;
    const data = await exchange(h.socket,
      `POST http://127.0.0.1:${h.webPort}/outer HTTP/1.1\r\nHost: 127.0.0.1:${h.webPort}\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`
      + `POST http://127.0.0.1:${h.webPort}/chunked HTTP/1.1\r\nHost: 127.0.0.1:${h.webPort}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`);
    assert.equal(h.webSeen, [`POST 127.0.0.1:${h.webPort} /outer`, `POST 127.0.0.1:${h.webPort} /chunked`], data);
  } finally { h.close(); }
});

live('refuses a port the profile does not list, naming the fix', async () => {
  const h = await startHarness((p) => rules(['127.0.0.1'], [p.echo]));
  try {
    const r = await request(h.socket, `CONNECT 127.0.0.1:${h.echoPort + 1} HTTP/1.1\r\n\r\n`);
    assert.is(r.status, 'HTTP/1.1 403 Forbidden');
    assert.match(h.entries[0]?.fix ?? '', /add \d+ to network\.outbound\.allow_port/);
  } finally { h.close(); }
});

live('refuses an allowed name that resolves to a loopback or private address', async () => {
  const h = await startHarness((p) => rules(['api.example.com', 'mixed.example.com'], [p.echo]), { 'api.example.com': ['127.0.0.1'], 'mixed.example.com': ['93.184.216.34', '10.0.0.5'] });
  try {
    assert.is((await request(h.socket, `CONNECT api.example.com:${h.echoPort} HTTP/1.1\r\n\r\n`)).status, 'HTTP/1.1 403 Forbidden');
    assert.is((await request(h.socket, `CONNECT mixed.example.com:${h.echoPort} HTTP/1.1\r\n\r\n`)).status, 'HTTP/1.1 403 Forbidden');
    assert.match(h.entries[0]?.reason ?? '', /resolved to 127\.0\.0\.1, a loopback address/);
    assert.match(h.entries[1]?.reason ?? '', /10\.0\.0\.5, a private address/);
  } finally { h.close(); }
});

live('refuses this machine\'s own address and metadata addresses even under insecure_allow_all', async () => {
  const h = await startHarness(() => ({ insecureAllowAll: true, transports: ['tcp'], hosts: [], ports: [] }), { 'me.example.com': ['192.0.2.77'], 'wire.example.com': ['168.63.129.16'] });
  try {
    assert.is((await request(h.socket, 'CONNECT me.example.com:22 HTTP/1.1\r\n\r\n')).status, 'HTTP/1.1 403 Forbidden');
    assert.is((await request(h.socket, 'CONNECT 169.254.169.254:80 HTTP/1.1\r\n\r\n')).status, 'HTTP/1.1 403 Forbidden');
    assert.is((await request(h.socket, 'CONNECT 168.63.129.16:80 HTTP/1.1\r\n\r\n')).status, 'HTTP/1.1 403 Forbidden');
    assert.is((await request(h.socket, 'GET http://wire.example.com/ HTTP/1.1\r\nHost: wire.example.com\r\n\r\n')).status, 'HTTP/1.1 403 Forbidden');
    assert.is((await request(h.socket, 'CONNECT [2001:0:4136:e378:8000:63bf:3fff:fdd2]:443 HTTP/1.1\r\n\r\n')).status, 'HTTP/1.1 403 Forbidden');
    assert.match(h.entries[3]?.reason ?? '', /wire\.example\.com resolved to 168\.63\.129\.16, a cloud metadata address/);
  } finally { h.close(); }
});

live('answers 502 for an allowed host that does not answer, and 400 for nonsense', async () => {
  const h = await startHarness(() => rules(['127.0.0.1'], [1]));
  try {
    assert.is((await request(h.socket, 'CONNECT 127.0.0.1:1 HTTP/1.1\r\n\r\n')).status, 'HTTP/1.1 502 Bad Gateway');
    assert.ok(h.entries[0]?.allowed && h.entries[0]?.failed);
    assert.is((await request(h.socket, 'HELLO\r\n\r\n')).status, 'HTTP/1.1 400 Bad Request');
  } finally { h.close(); }
});

// Slow-request and idle limits, shortened for the test: what matters is that the proxy, not the
// client, ends these connections.
live('answers 408 to a request head that never ends, and closes a tunnel that never speaks', async () => {
  const h = await startHarness((p) => rules(['127.0.0.1'], [p.echo]), {}, { timeouts: { headMs: 200, helloMs: 200 } });
  try {
    const slow = await new Promise<string>((resolve) => {
      const c = netConnect(h.socket);
      let data = '';
      c.on('data', (d: Buffer) => { data += d.toString('latin1'); });
      c.on('close', () => resolve(data));
      c.write('GET http://127.0.0.1/ HTTP/1.1\r\nX-Slow: ');
      const drip = setInterval(() => { if (!c.destroyed) c.write('a'); }, 50);
      c.on('close', () => clearInterval(drip));
    });
    assert.match(slow, /^HTTP\/1\.1 408 Request Timeout/);
    const silent = await new Promise<string>((resolve) => {
      const c = netConnect(h.socket);
      let data = '';
      c.on('data', (d: Buffer) => { data += d.toString('latin1'); });
      c.on('close', () => resolve(data));
      c.write(`CONNECT 127.0.0.1:${h.echoPort} HTTP/1.1\r\n\r\n`);
    });
    assert.is(silent, 'HTTP/1.1 200 Connection Established\r\n\r\n');
    await settle();
    assert.ok(h.entries.some((e) => !e.allowed && /carried nothing for 0\.2s/.test(e.reason ?? '')), JSON.stringify(h.entries));
  } finally { h.close(); }
});

live('closes a connection idle for longer than the idle limit', async () => {
  const h = await startHarness((p) => rules(['127.0.0.1'], [p.web]), {}, { timeouts: { idleMs: 200 } });
  try {
    const data = await new Promise<string>((resolve) => {
      const c = netConnect(h.socket);
      let got = '';
      c.on('data', (d: Buffer) => { got += d.toString('latin1'); });
      c.on('close', () => resolve(got));
      c.write(`GET http://127.0.0.1:${h.webPort}/ HTTP/1.1\r\nHost: 127.0.0.1:${h.webPort}\r\n\r\n`);
    });
    assert.match(data, /^HTTP\/1\.1 200 OK/);
  } finally { h.close(); }
});

// With the user's own proxy, every connection goes through it with CONNECT, after the same checks.
live('chains to an upstream proxy with CONNECT and its credentials, keeping the profile\'s checks', async () => {
  const seen: string[] = [];
  const upstream = netCreateServer((s) => {
    s.on('error', () => {});
    s.once('data', (d: Buffer) => {
      const head = d.toString('latin1');
      seen.push(head.split('\r\n').filter((l) => /^(CONNECT|Proxy-Authorization)/.test(l)).join(' | '));
      s.write('HTTP/1.1 200 Connection established\r\n\r\n');
      s.pipe(s);
    });
  });
  const upstreamPort = await listen(upstream);
  const h = await startHarness(() => rules(['registry.example.com'], [443]), {}, { upstreamProxy: { host: '127.0.0.1', port: upstreamPort, authorization: 'Basic dTpw' } });
  try {
    const hello = await clientHello('registry.example.com');
    const r = await request(h.socket, 'CONNECT registry.example.com:443 HTTP/1.1\r\n\r\n', hello);
    assert.is(r.status, 'HTTP/1.1 200 Connection Established');
    assert.is(r.echoed, hello.toString('latin1'));
    assert.is((await request(h.socket, 'CONNECT other.example.com:443 HTTP/1.1\r\n\r\n')).status, 'HTTP/1.1 403 Forbidden');
    await settle();
    assert.equal(seen, ['CONNECT registry.example.com:443 HTTP/1.1 | Proxy-Authorization: Basic dTpw']);
    assert.ok(h.entries.some((e) => e.allowed && e.via === `127.0.0.1:${upstreamPort}` && e.address === null), JSON.stringify(h.entries));
  } finally { h.close(); upstream.close(); }
});

live('sends plain HTTP through a tunnel of the upstream proxy, request by request', async () => {
  const seen: string[] = [];
  const h = await startHarness((p) => rules(['web.example.com'], [p.web]));
  const upstream = netCreateServer((s) => {
    s.on('error', () => {});
    s.once('data', (d: Buffer) => {
      seen.push(d.toString('latin1').split('\r\n')[0] ?? '');
      const far = netConnect(h.webPort, '127.0.0.1', () => { s.write('HTTP/1.1 200 Connection established\r\n\r\n'); s.pipe(far); far.pipe(s); });
      far.on('error', () => s.destroy());
    });
  });
  const upstreamPort = await listen(upstream);
  const proxied = await startEgressProxy({
    socketPath: `${h.socket}.chained`, rules: rules(['web.example.com'], [h.webPort]), hostAddresses: [], record: (e) => h.entries.push({ ...e }),
    resolve: async () => { throw new Error('the user\'s proxy resolves names, not mcp-lok'); },
    upstreamProxy: { host: '127.0.0.1', port: upstreamPort },
  });
  try {
    const get = (path: string): string => `GET http://web.example.com:${h.webPort}${path} HTTP/1.1\r\nHost: web.example.com:${h.webPort}\r\n\r\n`;
    const data = await exchange(`${h.socket}.chained`, get('/a') + get('/b'));
    assert.equal([...data.matchAll(/path=(\S+) n=(\d)/g)].map((m) => `${m[1]} ${m[2]}`), ['/a 1', '/b 2'], data);
    assert.equal(seen, [`CONNECT web.example.com:${h.webPort} HTTP/1.1`]);
  } finally { proxied.close(); h.close(); upstream.close(); }
});

live('answers 502 when the upstream proxy refuses the tunnel', async () => {
  const upstream = netCreateServer((s) => { s.on('error', () => {}); s.once('data', () => s.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n')); });
  const upstreamPort = await listen(upstream);
  const h = await startHarness(() => rules(['registry.example.com'], [443]), {}, { upstreamProxy: { host: '127.0.0.1', port: upstreamPort } });
  try {
    const r = await request(h.socket, 'CONNECT registry.example.com:443 HTTP/1.1\r\n\r\n');
    assert.is(r.status, 'HTTP/1.1 502 Bad Gateway');
    assert.match(h.entries[0]?.failed ?? '', /answered 407/);
  } finally { h.close(); upstream.close(); }
});

live.run();
