import { lookup } from 'node:dns/promises';
import { connect, createServer, isIP, type Server, type Socket } from 'node:net';
import type { OutboundRules } from '../sandbox/profile-validate.js';
import { checkResolvedAddress, decideEgress } from './match.js';

/** One outbound attempt, as the egress log records it. */
export interface EgressEntry {
  time: string;
  host: string;
  port: number;
  address: string | null;
  allowed: boolean;
  reason?: string;
  fix?: string;
  /** Allowed, but the connection could not be made (the far end or its name failed). */
  failed?: string;
  bytesOut: number;
  bytesIn: number;
}

export interface EgressProxyOptions {
  socketPath: string;
  rules: OutboundRules;
  /** This machine's own addresses: never reachable unless named by IP. */
  hostAddresses: string[];
  record: (entry: EgressEntry) => void;
  /** Resolves a name; tests pass their own. */
  resolve?: (host: string) => Promise<string[]>;
}

const MAX_HEAD_BYTES = 16 * 1024;
const CONNECT_TIMEOUT_MS = 10_000;

async function resolveAll(host: string): Promise<string[]> {
  return (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
}

interface Target { host: string; port: number }

/** Returns the target of a request head: `CONNECT host:port` or an absolute-form URL. */
export function parseRequestHead(head: string): { target: Target; connect: boolean; rewritten?: string } | undefined {
  const lineEnd = head.indexOf('\r\n');
  const [method = '', uri = '', version = ''] = head.slice(0, lineEnd).split(' ');
  if (!/^HTTP\/1\.[01]$/.test(version)) return undefined;
  if (method === 'CONNECT') {
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s/]+):(\d{1,5})$/.exec(uri);
    if (!m?.[1] || !m[2]) return undefined;
    return { target: { host: m[1].replace(/^\[|\]$/g, '').toLowerCase(), port: Number(m[2]) }, connect: true };
  }
  if (!uri.startsWith('http://') || !URL.canParse(uri)) return undefined;
  const url = new URL(uri);
  // One request per connection: a second request could name another host.
  const headers = head.slice(lineEnd + 2).split('\r\n').filter((h) => h && !/^(proxy-connection|connection|keep-alive):/i.test(h));
  const rewritten = `${method} ${url.pathname}${url.search} ${version}\r\n${[...headers, 'Connection: close'].join('\r\n')}\r\n\r\n`;
  return { target: { host: url.hostname.replace(/^\[|\]$/g, '').toLowerCase(), port: Number(url.port || 80) }, connect: false, rewritten };
}

/**
 * Starts the egress proxy on a Unix socket mounted into one sandbox: it takes CONNECT and
 * plain-HTTP requests, allows only what the profile allows, resolves names itself, refuses
 * addresses the sandbox must never reach (private, loopback, link-local, metadata, this
 * machine) unless named by IP, and records every attempt. It fails closed.
 */
export function startEgressProxy(options: EgressProxyOptions): Promise<Server> {
  const resolve = options.resolve ?? resolveAll;
  const server = createServer((client) => {
    client.on('error', () => {});
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) {
        if (buffered.length > MAX_HEAD_BYTES) client.end('HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n');
        return;
      }
      client.off('data', onData);
      client.pause();
      const head = buffered.subarray(0, end + 4).toString('latin1');
      const rest = buffered.subarray(end + 4);
      void handle(client, head, rest);
    };
    client.on('data', onData);
  });

  const handle = async (client: Socket, head: string, rest: Buffer): Promise<void> => {
    const parsed = parseRequestHead(head);
    if (!parsed) { client.end('HTTP/1.1 400 Bad Request\r\n\r\n'); return; }
    const { host, port } = parsed.target;
    const entry: EgressEntry = { time: new Date().toISOString(), host, port, address: null, allowed: false, bytesOut: 0, bytesIn: 0 };
    const deny = (reason: string, fix: string): void => {
      Object.assign(entry, { reason, fix });
      options.record(entry);
      client.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nmcp-lok egress: ${reason}; ${fix}\n`);
    };
    // Allowed by the profile but unreachable: a gateway error, which clients treat as a network failure.
    const fail = (why: string): void => {
      Object.assign(entry, { allowed: true, failed: why });
      options.record(entry);
      client.end(`HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nmcp-lok egress: ${why}\n`);
    };
    const first = decideEgress({ host, port }, options.rules, options.hostAddresses);
    if (!first.allowed) { deny(first.reason, first.fix); return; }
    let addresses: string[];
    try {
      // An IP literal is its own address; a name is resolved here, never inside the sandbox.
      addresses = isIP(host) ? [host] : await resolve(host);
    } catch {
      fail(`${host} does not resolve`);
      return;
    }
    // Every address must pass: a name that also points inside is refused outright, so a
    // mixed answer cannot smuggle a private address in behind a public one.
    for (const candidate of addresses) {
      const check = checkResolvedAddress({ host }, candidate, options.rules, options.hostAddresses);
      if (!check.allowed) { deny(check.reason, check.fix); return; }
    }
    const address = addresses[0];
    if (!address) { fail(`${host} has no address`); return; }
    entry.address = address;
    const upstream = connect({ host: address, port, timeout: CONNECT_TIMEOUT_MS });
    upstream.on('timeout', () => upstream.destroy(new Error('timeout')));
    let connected = false;
    upstream.once('error', (error: NodeJS.ErrnoException) => {
      if (!connected) fail(`${host}:${port} (${address}) did not answer: ${error.code ?? error.message}`);
      else client.destroy();
    });
    upstream.once('connect', () => {
      connected = true;
      upstream.setTimeout(0);
      entry.allowed = true;
      if (parsed.connect) client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      else upstream.write(parsed.rewritten ?? '');
      if (rest.length > 0) { upstream.write(rest); entry.bytesOut += rest.length; }
      client.on('data', (c: Buffer) => { entry.bytesOut += c.length; });
      upstream.on('data', (c: Buffer) => { entry.bytesIn += c.length; });
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
      let logged = false;
      const done = (): void => { if (!logged) { logged = true; options.record(entry); } client.destroy(); upstream.destroy(); };
      client.once('close', done);
      upstream.once('close', done);
    });
  };

  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(options.socketPath, () => resolvePromise(server));
  });
}
