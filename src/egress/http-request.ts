// What the egress proxy reads from a request head: where it goes, whether its Host header names
// that place, and the head to send on. Pure; the framing rules are the reverse proxy's own.
import { HttpFramingError, inspectRequest, parseRequestHead, type BodyFraming, type RequestHead } from '../http/framing.js';
import { normaliseIp, type EgressDecision } from './match.js';

/** A host and TCP port, the host as written (lower case, no brackets). */
export interface Target { host: string; port: number }

/** A request the proxy may pass on, once its target is allowed. */
export interface HttpRequest {
  kind: 'http';
  target: Target;
  method: string;
  /** The head for the target itself: origin-form, without the proxy's own headers. */
  upstreamHead: string;
  body: BodyFraming;
  /** It asks to switch protocols (WebSocket): what follows a 101 is no longer HTTP. */
  upgrade: boolean;
}

export type ProxyRequest =
  | { kind: 'connect'; target: Target }
  | HttpRequest
  /** Refused before any connection: 400 for what is not HTTP, 403 for a Host that names another place. */
  | { kind: 'refused'; status: 400 | 403; reason: string; fix: string; target?: Target };

const AUTHORITY = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:/?#@[\]]+))(?::(\d{1,5}))?$/;
const HTTP_SCHEME = /^http:\/\//i;
const DEFAULT_HTTP_PORT = 80;
/** Headers meant for the proxy itself, never passed on. */
const PROXY_ONLY = new Set(['proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'proxy']);

/** Returns the host and port of `host[:port]` or `[v6][:port]`, or undefined when it is neither. */
export function parseAuthority(text: string): { host: string; port: number | undefined } | undefined {
  const m = AUTHORITY.exec(text);
  if (!m) return undefined;
  const host = (m[1] ?? m[2] ?? '').toLowerCase();
  if (m[1] !== undefined && normaliseIp(host) === undefined) return undefined;
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  return { host, port };
}

/** Returns `host:port` with an IPv6 host in brackets. */
export function formatAuthority(target: Target): string {
  return `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
}

/** Returns one spelling of a host for comparison: IPs canonical, names lower case without a trailing dot. */
function sameHost(a: string, b: string): boolean {
  const key = (h: string): string => normaliseIp(h) ?? h.toLowerCase().replace(/\.$/, '');
  return key(a) === key(b);
}

/**
 * Returns whether a request's Host header may go to `target`: it must name the same host (a
 * port, if given, the same port), so a client cannot reach one site on a shared address (a CDN)
 * while the proxy approved another (domain fronting). HTTP/1.0 may leave Host out.
 */
export function checkHostHeader(target: Target, host: string | undefined, minor: number): EgressDecision {
  const fix = 'none: a request\'s Host header must name the host it is sent to (no domain fronting)';
  if (host === undefined) {
    return minor === 0 ? { allowed: true } : { allowed: false, reason: 'the request has no Host header', fix };
  }
  const named = parseAuthority(host);
  const want = formatAuthority(target);
  if (!named) return { allowed: false, reason: `the Host header ${JSON.stringify(host)} is not a host`, fix };
  if (!sameHost(named.host, target.host) || (named.port !== undefined && named.port !== target.port)) {
    return { allowed: false, reason: `the Host header names ${JSON.stringify(host)}, not ${want}`, fix };
  }
  return { allowed: true };
}

function refused(status: 400 | 403, reason: string, fix: string, target?: Target): ProxyRequest {
  return target ? { kind: 'refused', status, reason, fix, target } : { kind: 'refused', status, reason, fix };
}

const NOT_HTTP_FIX = 'none: send HTTP/1.x requests through the proxy (CONNECT for TLS)';

/**
 * Reads one request head sent to the egress proxy. Outside a tunnel it is `CONNECT host:port`
 * or an absolute `http://` URL; inside a tunnel opened to `tunnel` (plain HTTP carried by
 * CONNECT) it is a path or a URL naming that same place. Either way the Host header must name
 * the target, and the head is parsed as strictly as the reverse proxy parses (one reading of
 * the framing, so no request can hide inside another).
 */
export function readProxyRequest(raw: Buffer, tunnel?: Target): ProxyRequest {
  let head: RequestHead;
  try {
    head = parseRequestHead(raw, { connect: true });
  } catch (error) {
    if (error instanceof HttpFramingError) return refused(400, `not an HTTP request: ${error.message}`, NOT_HTTP_FIX);
    throw error;
  }
  if (head.method === 'CONNECT') {
    if (tunnel) return refused(400, 'CONNECT inside a tunnel', NOT_HTTP_FIX);
    const authority = parseAuthority(head.target);
    if (!authority || authority.port === undefined) return refused(400, `CONNECT needs host:port, got ${JSON.stringify(head.target)}`, NOT_HTTP_FIX);
    return { kind: 'connect', target: { host: authority.host, port: authority.port } };
  }
  let target: Target;
  let path: string;
  if (HTTP_SCHEME.test(head.target)) {
    const rest = head.target.slice('http://'.length);
    const cut = rest.search(/[/?#]/);
    const authority = parseAuthority(cut === -1 ? rest : rest.slice(0, cut));
    if (!authority) return refused(400, `the URL ${JSON.stringify(head.target)} has no usable host`, 'none: name the host as a DNS name or an IP address');
    target = { host: authority.host, port: authority.port ?? DEFAULT_HTTP_PORT };
    path = cut === -1 ? '/' : rest.slice(cut);
    if (path.startsWith('#')) path = '/';
    else if (path.startsWith('?')) path = `/${path}`;
    path = path.replace(/#.*$/, '');
    if (tunnel && !sameHostAndPort(target, tunnel)) {
      return refused(403, `a request in the tunnel to ${formatAuthority(tunnel)} names ${formatAuthority(target)}`, 'none: a tunnel carries requests for its own host only', target);
    }
  } else if (tunnel && (head.target.startsWith('/') || (head.target === '*' && head.method === 'OPTIONS'))) {
    target = tunnel;
    path = head.target;
  } else {
    return refused(400, tunnel ? `the request target ${JSON.stringify(head.target)} is not a path` : `the request target ${JSON.stringify(head.target)} is not an http:// URL`, NOT_HTTP_FIX);
  }
  let info;
  try {
    info = inspectRequest({ ...head, target: path });
  } catch (error) {
    if (error instanceof HttpFramingError) return refused(400, `a malformed request: ${error.message}`, NOT_HTTP_FIX, target);
    throw error;
  }
  const hostCheck = checkHostHeader(target, info.host, head.minor);
  if (!hostCheck.allowed) return refused(403, hostCheck.reason, hostCheck.fix, target);
  let upstreamHead = `${head.method} ${path} HTTP/1.${head.minor}\r\n`;
  if (info.host === undefined) upstreamHead += `Host: ${target.port === DEFAULT_HTTP_PORT ? formatAuthority(target).replace(/:80$/, '') : formatAuthority(target)}\r\n`;
  for (let k = 0; k < head.fields.length; k += 2) {
    const name = head.fields[k]!;
    if (!PROXY_ONLY.has(name.toLowerCase())) upstreamHead += `${name}: ${head.fields[k + 1]!}\r\n`;
  }
  return { kind: 'http', target, method: head.method, upstreamHead: `${upstreamHead}\r\n`, body: info.body, upgrade: info.upgrade };
}

function sameHostAndPort(a: Target, b: Target): boolean {
  return a.port === b.port && sameHost(a.host, b.host);
}

/** Returns whether two targets are the same place (one upstream connection can serve both). */
export function isSameTarget(a: Target, b: Target): boolean {
  return sameHostAndPort(a, b);
}
