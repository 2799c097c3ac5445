import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/** Where a proxy or bridge listens, and the names clients may use to reach it. */
export interface ListenPolicy {
  /** The bind address (`127.0.0.1` by default). */
  host: string;
  /** The port actually bound. */
  port: number;
  /** Extra host names accepted in Host and Origin (the machine's name when bound beyond loopback). */
  extraNames?: readonly string[];
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  token?: string | undefined;
  /**
   * Host and Origin may carry any port: in a pod, a Service or `kubectl port-forward` maps its
   * own port to the listener's, so only the name can be checked.
   */
  anyPort?: boolean | undefined;
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** Returns true for a bind address only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function bracket(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

/** Returns `http://host:port` for a listener: a wildcard bind is reached (and named in Host) as loopback. */
export function listenerUrl(host: string, port: number): string {
  const name = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : bracket(host);
  return `http://${name}:${port}`;
}

/** Returns the host names (without port) that Host and Origin may carry. */
export function allowedHostNames(policy: ListenPolicy): Set<string> {
  const names = new Set(LOOPBACK_NAMES);
  const bound = policy.host;
  if (bound !== '0.0.0.0' && bound !== '::') names.add(bracket(bound));
  for (const n of policy.extraNames ?? []) names.add(bracket(n.toLowerCase()));
  return names;
}

// Listeners keep one policy object: its names are worked out once, not per request.
const namesByPolicy = new WeakMap<ListenPolicy, Set<string>>();

/** Splits `name:port` (with `[v6]:port`), lower-casing the name; undefined when malformed. */
function splitHostPort(value: string): { name: string; port: number | undefined } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(value.trim());
  if (!m || !m[1]) return undefined;
  return { name: m[1].toLowerCase(), port: m[2] === undefined ? undefined : Number(m[2]) };
}

/**
 * Decides whether a request's Host and Origin headers name this listener. Stops DNS rebinding:
 * a web page whose name resolves to 127.0.0.1 sends its own name in Host and Origin, and is
 * refused. A missing Origin (every non-browser client) is fine; a missing Host is not.
 * Returns undefined when allowed, else the reason.
 */
export function checkRequestOrigin(policy: ListenPolicy, hostHeader: string | undefined, originHeader: string | undefined): string | undefined {
  let names = namesByPolicy.get(policy);
  if (!names) namesByPolicy.set(policy, names = allowedHostNames(policy));
  if (!hostHeader) return 'missing Host header';
  const host = splitHostPort(hostHeader);
  if (!host || !names.has(host.name) || (!policy.anyPort && (host.port ?? 80) !== policy.port)) return `Host ${JSON.stringify(hostHeader)} is not this server`;
  if (originHeader === undefined) return undefined;
  let origin: URL;
  try { origin = new URL(originHeader); } catch { return `Origin ${JSON.stringify(originHeader)} is not a URL`; }
  if (origin.protocol !== 'http:' && origin.protocol !== 'https:') return `Origin ${JSON.stringify(originHeader)} is not allowed`;
  const port = origin.port ? Number(origin.port) : origin.protocol === 'https:' ? 443 : 80;
  if (!names.has(origin.hostname.toLowerCase()) || (!policy.anyPort && port !== policy.port)) return `Origin ${JSON.stringify(originHeader)} is not allowed`;
  return undefined;
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * Decides whether a request carries the listener's bearer token (when it has one). Stops any
 * other local process or user, and any machine a non-loopback listener is reachable from,
 * from calling a server's tools with its grants and secrets. The comparison takes the same
 * time whatever the token sent. Returns undefined when allowed, else the reason.
 */
export function checkBearerToken(policy: ListenPolicy, authorization: string | undefined): string | undefined {
  if (policy.token === undefined) return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
  if (!m) return authorization === undefined ? 'this server needs a bearer token (Authorization: Bearer TOKEN)' : 'the Authorization header is not a bearer token';
  return timingSafeEqual(digest(m[1] ?? ''), digest(policy.token)) ? undefined : 'wrong bearer token';
}
