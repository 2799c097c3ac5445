import type { lookup as Lookup } from 'node:dns/promises';
import { createRequire } from 'node:module';
import { connect, createServer, isIP, type Server, type Socket } from 'node:net';
import type { OutboundRules } from '../sandbox/profile-validate.js';
import { HeadScanner, HttpFramingError, parseResponseHead } from '../http/framing.js';
import { EGRESS_HEAD_TIMEOUT_MS, HttpRelay, type RelayUpstream } from './http-relay.js';
import { formatAuthority, readProxyRequest, type Target } from './http-request.js';
import { checkResolvedAddress, checkServerName, decideEgress } from './match.js';
import { MAX_CLIENT_HELLO_BYTES, readClientHello } from './tls-hello.js';

export { EGRESS_HEAD_TIMEOUT_MS } from './http-relay.js';

/** One outbound attempt, as the egress log records it. */
export interface EgressEntry {
  time: string;
  host: string;
  port: number;
  address: string | null;
  /** Reached through the user's own proxy (`host:port`), which resolved the name. */
  via?: string;
  allowed: boolean;
  reason?: string;
  fix?: string;
  /** Allowed, but the connection could not be made (the far end or its name failed). */
  failed?: string;
  bytesOut: number;
  bytesIn: number;
}

/** A proxy of the user's own (npm's `https-proxy`) that outbound connections go through with CONNECT. */
export interface UpstreamProxy {
  host: string;
  port: number;
  /** The `Proxy-Authorization` value, when the proxy URL carries credentials. */
  authorization?: string | undefined;
}

export interface EgressProxyOptions {
  /** A Unix socket (beside a sandbox), or a TCP address (the egress image in a cluster, whose NetworkPolicy says who may connect). */
  socketPath: string | { host: string; port: number };
  rules: OutboundRules;
  /** This machine's own addresses: never reachable unless named by IP. */
  hostAddresses: string[];
  record: (entry: EgressEntry) => void;
  /** Resolves a name; tests pass their own. */
  resolve?: (host: string) => Promise<string[]>;
  /** Go through this proxy instead of connecting directly; it resolves names itself. */
  upstreamProxy?: UpstreamProxy | undefined;
  /** Shorter limits for tests; the defaults are the EGRESS_*_TIMEOUT_MS constants. */
  timeouts?: { headMs?: number; helloMs?: number; idleMs?: number };
}

/** How long connecting to a target (or through the user's proxy to it) may take. */
const CONNECT_TIMEOUT_MS = 10_000;
/** How long a tunnel may wait for the client's first bytes (its TLS ClientHello) once open. */
export const EGRESS_HELLO_TIMEOUT_MS = 30_000;
/** A connection with no byte either way for this long is closed (an idle tunnel or keep-alive). */
export const EGRESS_IDLE_TIMEOUT_MS = 5 * 60_000;

/** How long a refused client may still send before its connection is dropped. */
const LINGER_MS = 1000;

// Loaded on the first lookup: a server without network never resolves a name, and its start skips it.
let lookupFn: typeof Lookup | undefined;
const loadLookup = (): typeof Lookup => (lookupFn ??= (createRequire(import.meta.url)('node:dns/promises') as { lookup: typeof Lookup }).lookup);

/** Returns every address a name resolves to (the system resolver, as Node's sockets use it). */
export async function resolveAll(host: string): Promise<string[]> {
  return (await loadLookup()(host, { all: true, verbatim: true })).map((a) => a.address);
}

function textResponse(status: string, text: string): string {
  return `HTTP/1.1 ${status}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`;
}

/** Answers and closes, reading on (and dropping) what the client still sends so it sees the answer. */
function answer(client: Socket, response: string): void {
  client.end(response);
  client.resume();
  setTimeout(() => client.destroy(), LINGER_MS).unref();
}

/** Resolves once `socket` connects, or rejects with why it did not within CONNECT_TIMEOUT_MS. */
function connected(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    socket.once('error', reject);
    socket.once('connect', () => { socket.setTimeout(0); socket.off('error', reject); resolve(); });
  });
}

/** Opens a tunnel to `target` through the user's proxy with CONNECT; resolves once it answers 2xx. */
async function connectThroughProxy(proxy: UpstreamProxy, target: Target): Promise<Socket> {
  const socket = connect({ host: proxy.host, port: proxy.port });
  socket.on('error', () => {});
  await connected(socket);
  const authority = formatAuthority(target);
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${proxy.authorization ? `Proxy-Authorization: ${proxy.authorization}\r\n` : ''}\r\n`);
  return new Promise((resolve, reject) => {
    const scanner = new HeadScanner(false);
    const timer = setTimeout(() => fail(new Error('no answer to CONNECT')), CONNECT_TIMEOUT_MS);
    const fail = (error: Error): void => { clearTimeout(timer); socket.off('data', onData); socket.destroy(); reject(error); };
    const onData = (chunk: Buffer): void => {
      let found;
      try { found = scanner.push(chunk, 0); } catch (error) { fail(error as Error); return; }
      if (!found) return;
      clearTimeout(timer);
      socket.off('data', onData);
      let status: number;
      try { status = parseResponseHead(found.head).status; } catch (error) { fail(error as Error); return; }
      if (status < 200 || status > 299) { fail(new Error(`the proxy ${proxy.host}:${proxy.port} answered ${status}`)); return; }
      socket.pause();
      if (found.end < chunk.length) socket.unshift(chunk.subarray(found.end));
      resolve(socket);
    };
    socket.on('data', onData);
    socket.once('close', () => fail(new Error(`the proxy ${proxy.host}:${proxy.port} closed the connection`)));
  });
}

/**
 * Starts the egress proxy on a Unix socket mounted into one sandbox: it takes CONNECT and
 * plain-HTTP requests, allows only what the profile allows, resolves names itself, refuses
 * addresses the sandbox must never reach (private, loopback, link-local, metadata, this
 * machine) unless named by IP, and records every attempt. Every request on a connection is
 * checked, its Host header must name its target, and a tunnel's TLS server name must name the
 * tunnel's host (no domain fronting). Slow and idle connections are closed. It fails closed.
 */
export function startEgressProxy(options: EgressProxyOptions): Promise<Server> {
  const resolve = options.resolve ?? resolveAll;
  const headMs = options.timeouts?.headMs ?? EGRESS_HEAD_TIMEOUT_MS;
  const helloMs = options.timeouts?.helloMs ?? EGRESS_HELLO_TIMEOUT_MS;
  const idleMs = options.timeouts?.idleMs ?? EGRESS_IDLE_TIMEOUT_MS;
  const newEntry = (target: Target): EgressEntry => ({ time: new Date().toISOString(), host: target.host, port: target.port, address: null, allowed: false, bytesOut: 0, bytesIn: 0 });
  const denied = (entry: EgressEntry, reason: string, fix: string): string => {
    Object.assign(entry, { allowed: false, reason, fix });
    options.record(entry);
    return textResponse('403 Forbidden', `mcp-lok egress: ${reason}; ${fix}\n`);
  };

  /** Checks a target and connects to it (directly or through the user's proxy); a refusal is logged and returned as a response. */
  const open = async (target: Target): Promise<RelayUpstream | { response: string }> => {
    const entry = newEntry(target);
    const first = decideEgress(target, options.rules, options.hostAddresses);
    if (!first.allowed) return { response: denied(entry, first.reason, first.fix) };
    // Allowed by the profile but unreachable: a gateway error, which clients treat as a network failure.
    const failed = (why: string): { response: string } => {
      Object.assign(entry, { allowed: true, failed: why });
      options.record(entry);
      return { response: textResponse('502 Bad Gateway', `mcp-lok egress: ${why}\n`) };
    };
    const { host, port } = target;
    let socket: Socket;
    if (options.upstreamProxy) {
      // The user's proxy resolves the name and connects; the profile's name and port checks hold.
      const proxy = options.upstreamProxy;
      entry.via = `${proxy.host}:${proxy.port}`;
      try {
        socket = await connectThroughProxy(proxy, target);
      } catch (error) {
        return failed(`${formatAuthority(target)} could not be reached through the proxy ${entry.via}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
    } else {
      let addresses: string[];
      try {
        // An IP literal is its own address; a name is resolved here, never inside the sandbox.
        addresses = isIP(host) ? [host] : await resolve(host);
      } catch {
        return failed(`${host} does not resolve`);
      }
      // Every address must pass: a name that also points inside is refused outright, so a
      // mixed answer cannot smuggle a private address in behind a public one.
      for (const candidate of addresses) {
        const check = checkResolvedAddress({ host }, candidate, options.rules, options.hostAddresses);
        if (!check.allowed) return { response: denied(entry, check.reason, check.fix) };
      }
      const address = addresses[0];
      if (!address) return failed(`${host} has no address`);
      entry.address = address;
      socket = connect({ host: address, port });
      socket.on('error', () => {});
      try {
        await connected(socket);
      } catch (error) {
        return failed(`${host}:${port} (${address}) did not answer: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
    }
    entry.allowed = true;
    socket.setNoDelay(true);
    // The entry is the relay's byte count, and is logged once the connection ends.
    return { socket, target, count: entry };
  };
  const closed = (upstream: RelayUpstream): void => { options.record(upstream.count as EgressEntry); };

  /** A refusal of a request before it is sent anywhere, logged against its target. */
  const refuseRequest = (refusal: { status: 400 | 403; reason: string; fix: string; target?: Target | undefined }, context?: string): string => {
    const entry = newEntry(refusal.target ?? { host: '', port: 0 });
    const reason = context ? `${context}: ${refusal.reason}` : refusal.reason;
    if (refusal.status === 403 || context) return denied(entry, reason, refusal.fix);
    return textResponse('400 Bad Request', `mcp-lok egress: ${reason}\n`);
  };

  /** After CONNECT: checks the first bytes (a TLS ClientHello's server name, or HTTP requests' Host), then relays. */
  const guardTunnel = (client: Socket, upstream: RelayUpstream, first: Buffer): void => {
    const { socket, target } = upstream;
    const entry = upstream.count as EgressEntry;
    let buffered = first;
    let logged = false;
    const done = (): void => {
      if (!logged) { logged = true; options.record(entry); }
      client.destroy();
      socket.destroy();
    };
    const refuse = (reason: string, fix: string): void => {
      Object.assign(entry, { allowed: false, reason, fix });
      done();
    };
    const timer = setTimeout(() => refuse(`the tunnel to ${formatAuthority(target)} carried nothing for ${helloMs / 1000}s`, 'none: a client must start TLS (or HTTP) as soon as its tunnel opens'), helloMs);
    timer.unref();
    // The far end left before the client spoke.
    const onFarClose = (): void => { clearTimeout(timer); done(); };
    socket.once('close', onFarClose);
    const inspect = (): void => {
      if (buffered.length === 0) return;
      if (buffered[0] !== 0x16) {
        // Not TLS: plain HTTP through the tunnel (undici's proxy agent does this), checked request by request.
        clearTimeout(timer);
        stop();
        const tunnelRelay = new HttpRelay(client, {
          open: async () => ({ response: textResponse('502 Bad Gateway', 'mcp-lok egress: the tunnel is closed\n') }),
          refuse: (refusal) => refuseRequest({ ...refusal, target: refusal.target ?? target }, `in the tunnel to ${formatAuthority(target)}`),
          closed: () => { if (!logged) { logged = true; options.record(entry); } },
        }, upstream, headMs);
        tunnelRelay.feed(buffered);
        client.resume();
        return;
      }
      const hello = readClientHello(buffered);
      if (hello.kind === 'incomplete') {
        if (buffered.length > MAX_CLIENT_HELLO_BYTES + 5 * 8) refuse('the TLS ClientHello is too large', 'none');
        return;
      }
      clearTimeout(timer);
      stop();
      if (hello.kind !== 'hello') {
        refuse(`the tunnel to ${formatAuthority(target)} did not start with a TLS ClientHello (${hello.kind === 'malformed' ? hello.reason : 'not TLS'})`, 'none: the egress proxy carries TLS and HTTP only');
        return;
      }
      const verdict = checkServerName(target, hello, options.rules, options.hostAddresses);
      if (!verdict.allowed) { refuse(verdict.reason, verdict.fix); return; }
      // Checked: from here on the tunnel only copies bytes.
      socket.write(buffered);
      entry.bytesOut += buffered.length;
      client.on('data', (c: Buffer) => { entry.bytesOut += c.length; });
      socket.on('data', (c: Buffer) => { entry.bytesIn += c.length; });
      client.pipe(socket);
      socket.pipe(client);
      client.resume();
      socket.resume();
      client.once('close', done);
      socket.once('close', done);
    };
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      inspect();
    };
    const onEnd = (): void => { clearTimeout(timer); done(); };
    const stop = (): void => { client.off('data', onData); client.off('end', onEnd); socket.off('close', onFarClose); };
    client.on('data', onData);
    client.on('end', onEnd);
    client.resume();
    inspect();
  };

  /** Opens a CONNECT tunnel: checks and connects, answers 200, then guards its first bytes. */
  const openTunnel = async (client: Socket, target: Target, rest: Buffer): Promise<void> => {
    const opened = await open(target);
    if (client.destroyed) { if (!('response' in opened)) { opened.socket.destroy(); closed(opened); } return; }
    if ('response' in opened) { answer(client, opened.response); return; }
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    guardTunnel(client, opened, rest);
  };

  const handleFirst = (client: Socket, raw: Buffer, rest: Buffer): void => {
    const request = readProxyRequest(raw);
    if (request.kind === 'refused') { answer(client, refuseRequest(request)); return; }
    if (request.kind === 'connect') { void openTunnel(client, request.target, rest); return; }
    // Plain HTTP: the relay reads this request again, and every one after it.
    const relay = new HttpRelay(client, {
      open, closed, refuse: (refusal) => refuseRequest(refusal),
      tunnel: (target, held) => { void openTunnel(client, target, held); },
    }, undefined, headMs);
    relay.feed(Buffer.concat([raw, rest]));
    client.resume();
  };

  const server = createServer({ allowHalfOpen: true }, (client) => {
    client.on('error', () => {});
    // Every byte either way counts as activity; a connection with none for this long is dropped.
    client.setTimeout(idleMs, () => client.destroy());
    const scanner = new HeadScanner(true);
    // The first request head has this long from the connection's start (a slow-request attack).
    const headTimer = setTimeout(() => answer(client, textResponse('408 Request Timeout', 'mcp-lok egress: the request head took too long\n')), headMs);
    headTimer.unref();
    client.once('close', () => clearTimeout(headTimer));
    // Half-open connections are allowed (a client may end its side and still read answers),
    // but not before a whole first head.
    const onEnd = (): void => { client.destroy(); };
    client.on('end', onEnd);
    const onData = (chunk: Buffer): void => {
      let found;
      try {
        found = scanner.push(chunk, 0);
      } catch (error) {
        if (!(error instanceof HttpFramingError)) throw error;
        client.off('data', onData);
        clearTimeout(headTimer);
        answer(client, textResponse(error.status === 431 ? '431 Request Header Fields Too Large' : '400 Bad Request', `mcp-lok egress: ${error.message}\n`));
        return;
      }
      if (!found) return;
      clearTimeout(headTimer);
      client.off('data', onData);
      client.off('end', onEnd);
      client.pause();
      handleFirst(client, Buffer.from(found.head), chunk.subarray(found.end));
    };
    client.on('data', onData);
  });

  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    const where = options.socketPath;
    if (typeof where === 'string') server.listen(where, () => resolvePromise(server));
    else server.listen(where.port, where.host, () => resolvePromise(server));
  });
}
