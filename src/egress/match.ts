import { isIPv4, isIPv6 } from 'node:net';
import type { OutboundRules } from '../sandbox/profile-validate.js';

export type AddressClass = 'public' | 'loopback' | 'private' | 'link-local' | 'metadata' | 'unspecified' | 'multicast' | 'reserved';

export type EgressDecision = { allowed: true } | { allowed: false; reason: string; fix: string };

type Range = readonly [base: string, bits: number, kind: AddressClass];

/**
 * IPv4 ranges a sandbox must not reach by name, checked in order (the first match wins, so the
 * single metadata addresses come before the link-local and CGNAT ranges that hold them). These
 * stop a server from reaching the host, the local network or cloud credentials by pointing a
 * name it controls at an internal address (DNS rebinding).
 */
const IPV4_RANGES: readonly Range[] = [
  ['169.254.169.254', 32, 'metadata'], // AWS, GCP, Azure, Oracle, OpenStack
  ['169.254.170.2', 32, 'metadata'], // AWS ECS task credentials
  ['169.254.170.23', 32, 'metadata'], // AWS EKS Pod Identity
  ['100.100.100.200', 32, 'metadata'], // Alibaba Cloud
  ['168.63.129.16', 32, 'metadata'], // Azure WireServer (VM agent, extension settings)
  ['0.0.0.0', 8, 'unspecified'],
  ['127.0.0.0', 8, 'loopback'],
  ['10.0.0.0', 8, 'private'],
  ['172.16.0.0', 12, 'private'],
  ['192.168.0.0', 16, 'private'],
  ['100.64.0.0', 10, 'private'], // carrier-grade NAT
  ['169.254.0.0', 16, 'link-local'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'], // includes 255.255.255.255
  ['192.0.0.0', 24, 'reserved'],
  ['192.0.2.0', 24, 'reserved'],
  ['192.88.99.0', 24, 'reserved'], // deprecated 6to4 relays
  ['198.18.0.0', 15, 'reserved'],
  ['198.51.100.0', 24, 'reserved'],
  ['203.0.113.0', 24, 'reserved'],
];

const IPV6_RANGES: readonly Range[] = [
  ['fd00:ec2::254', 128, 'metadata'], // AWS instance metadata over IPv6
  ['fd00:ec2::23', 128, 'metadata'], // AWS EKS Pod Identity over IPv6
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['::', 96, 'reserved'], // deprecated IPv4-compatible addresses
  ['100::', 64, 'reserved'], // discard-only
  ['2001::', 32, 'reserved'], // Teredo: a tunnel whose far end (an embedded IPv4 address) a local relay picks
  ['2001:2::', 48, 'reserved'], // benchmarking
  ['2001:10::', 28, 'reserved'], // ORCHID (deprecated)
  ['2001:20::', 28, 'reserved'], // ORCHIDv2: identifiers, not locators
  ['2001:db8::', 32, 'reserved'], // documentation
  ['3fff::', 20, 'reserved'], // documentation (RFC 9637)
  ['fc00::', 7, 'private'], // unique local
  ['fec0::', 10, 'private'], // deprecated site-local
  ['fe80::', 10, 'link-local'],
  ['ff00::', 8, 'multicast'],
];

/** The only IPv6 block assigned for global unicast; anything else that is not above is reserved. */
const IPV6_GLOBAL_UNICAST: readonly [base: string, bits: number] = ['2000::', 3];

/** Prefixes whose last 32 bits are an IPv4 address that the packet really goes to (or is translated to). */
const EMBEDDED_IPV4_PREFIXES: ReadonlyArray<readonly [base: string, bits: number]> = [
  ['::ffff:0:0', 96], // IPv4-mapped
  ['::ffff:0:0:0', 96], // IPv4-translated
  ['64:ff9b::', 96], // NAT64 well-known prefix
  ['64:ff9b:1::', 48], // NAT64 local-use prefix
];

function parseIPv4(ip: string): number[] {
  return ip.split('.').map(Number);
}

/** Returns the eight 16-bit groups of a valid IPv6 address (without a zone id). */
function parseIPv6(ip: string): number[] {
  let text = ip;
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    // A trailing dotted quad stands for the last two groups.
    const [a = 0, b = 0, c = 0, d = 0] = parseIPv4(last);
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const toGroups = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const gap = text.indexOf('::');
  if (gap === -1) return toGroups(text);
  const head = toGroups(text.slice(0, gap));
  const rest = toGroups(text.slice(gap + 2));
  return [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
}

function groupsToBigInt(groups: readonly number[]): bigint {
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

function ipv4ToBigInt(ip: string): bigint {
  return parseIPv4(ip).reduce((acc, n) => (acc << 8n) | BigInt(n), 0n);
}

function inRange(value: bigint, width: number, base: bigint, bits: number): boolean {
  const shift = BigInt(width - bits);
  return value >> shift === base >> shift;
}

/** Drops an IPv6 zone id (`fe80::1%eth0`): it picks an interface, not a different address. */
function stripZone(ip: string): string {
  const zone = ip.indexOf('%');
  return zone === -1 ? ip : ip.slice(0, zone);
}

function formatIPv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

/** Returns the IPv4 address an IPv6 address stands for or is translated to, if any. */
function embeddedIPv4(value: bigint, prefixes: ReadonlyArray<readonly [string, number]>): string | undefined {
  for (const [base, bits] of prefixes) {
    if (inRange(value, 128, groupsToBigInt(parseIPv6(base)), bits)) return formatIPv4(value & 0xffffffffn);
  }
  return undefined;
}

function classifyIPv4(ip: string): AddressClass {
  const value = ipv4ToBigInt(ip);
  const hit = IPV4_RANGES.find(([base, bits]) => inRange(value, 32, ipv4ToBigInt(base), bits));
  return hit ? hit[2] : 'public';
}

/**
 * Returns what kind of destination an IP address is, so the egress proxy can refuse the host
 * machine, the local network and cloud metadata. IPv6 forms that carry an IPv4 address
 * (`::ffff:127.0.0.1`, `::ffff:7f00:1`, NAT64 `64:ff9b::7f00:1`) are classified by that
 * address, which stops an IPv6 spelling from smuggling a blocked IPv4 destination through;
 * so are 6to4 addresses (`2002:V4ADDR::`) whose IPv4 address is not public. Teredo and every
 * IPv6 address outside global unicast (`2000::/3`) are reserved. Anything that is not an IP literal (`0x7f.1`, `127.1`, `2130706433`, a name) is `reserved`
 * rather than an exception, so a caller that refuses every class but `public` fails closed.
 */
export function classifyAddress(ip: string): AddressClass {
  const bare = stripZone(ip);
  if (isIPv4(bare)) return classifyIPv4(bare);
  if (!isIPv6(bare)) return 'reserved';
  const value = groupsToBigInt(parseIPv6(bare));
  const inner = embeddedIPv4(value, EMBEDDED_IPV4_PREFIXES);
  if (inner !== undefined) return classifyIPv4(inner);
  // 6to4 (2002:V4ADDR::/48) can be routed to its embedded IPv4 address by a local relay.
  if (inRange(value, 128, 0x2002n << 112n, 16)) {
    const sixToFour = classifyIPv4(formatIPv4((value >> 80n) & 0xffffffffn));
    if (sixToFour !== 'public') return sixToFour;
  }
  const hit = IPV6_RANGES.find(([base, bits]) => inRange(value, 128, groupsToBigInt(parseIPv6(base)), bits));
  if (hit) return hit[2];
  const [globalBase, globalBits] = IPV6_GLOBAL_UNICAST;
  return inRange(value, 128, groupsToBigInt(parseIPv6(globalBase)), globalBits) ? 'public' : 'reserved';
}

/** Writes IPv6 groups in the RFC 5952 form: lower case, no leading zeros, the longest zero run as `::`. */
function formatIPv6(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j += 1;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/**
 * Returns an IP literal in one canonical spelling (IPv4-mapped IPv6 as its dotted quad, other
 * IPv6 in RFC 5952 form, brackets and zone ids dropped), or undefined for anything else.
 */
export function normaliseIp(text: string): string | undefined {
  const bare = stripZone(text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text);
  if (isIPv4(bare)) return bare;
  if (!isIPv6(bare)) return undefined;
  const groups = parseIPv6(bare);
  return embeddedIPv4(groupsToBigInt(groups), [['::ffff:0:0', 96]]) ?? formatIPv6(groups);
}

const NAME_LABEL = /^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$/;
/** A last label that `inet_aton` would read as a number, as in `127.1`, `0x7f.1` or `2130706433`. */
const NUMERIC_LABEL = /^(?:\d+|0x[0-9a-f]*)$/;

/**
 * Returns the request host as an IP literal or a lower-case DNS name without a trailing dot, or
 * undefined when it is neither. Numeric spellings that are not dotted quads (`127.1`, `0x7f.1`,
 * `017700000001`) are refused: resolvers read them as addresses, so they would dodge IP rules.
 */
function readRequestHost(host: string): { kind: 'ip' | 'name'; value: string } | undefined {
  const ip = normaliseIp(host);
  if (ip !== undefined) return { kind: 'ip', value: ip };
  const name = (host.endsWith('.') ? host.slice(0, -1) : host).toLowerCase();
  if (name === '' || name.length > 253) return undefined;
  const labels = name.split('.');
  if (!labels.every((label) => label.length <= 63 && NAME_LABEL.test(label))) return undefined;
  if (NUMERIC_LABEL.test(labels[labels.length - 1] ?? '')) return undefined;
  return { kind: 'name', value: name };
}

/**
 * Returns whether a request host matches one allow_host pattern: names compare exactly
 * (case-insensitive, a trailing dot on the host ignored), `*.example.com` matches subdomains at
 * any depth but not `example.com` itself, and an IP pattern matches only the same address.
 */
export function matchHost(host: string, pattern: string): boolean {
  const request = readRequestHost(host);
  if (!request) return false;
  const patternIp = normaliseIp(pattern);
  if (patternIp !== undefined || request.kind === 'ip') return request.value === patternIp;
  const lower = pattern.toLowerCase();
  if (lower.startsWith('*.')) {
    const suffix = lower.slice(1);
    return suffix.length > 1 && request.value.length > suffix.length && request.value.endsWith(suffix);
  }
  return request.value === lower;
}

function refuse(reason: string, fix: string): EgressDecision {
  return { allowed: false, reason, fix };
}

function isAllowedIp(ip: string, rules: OutboundRules): boolean {
  return rules.hosts.some((pattern) => normaliseIp(pattern) === ip);
}

const CLASS_WORDS: Record<Exclude<AddressClass, 'public'>, string> = {
  loopback: 'a loopback address',
  private: 'a private address',
  'link-local': 'a link-local address',
  metadata: 'a cloud metadata address',
  unspecified: 'an unspecified address',
  multicast: 'a multicast address',
  reserved: 'a reserved address',
};

/** Refuses an address that is internal or the host machine's own, unless allow_host names it. */
function checkAddress(host: string, address: string, rules: OutboundRules, hostAddresses: readonly string[]): EgressDecision {
  const ip = normaliseIp(address);
  if (ip === undefined) return refuse(`${host} resolved to ${JSON.stringify(address)}, which is not an IP address`, 'none: the resolver returned something that is not an address');
  if (isAllowedIp(ip, rules)) return { allowed: true };
  const fix = `add "${ip}" to network.outbound.allow_host if that is intended`;
  const describe = (what: string): string => (host === ip ? `${ip} is ${what}` : `${host} resolved to ${ip}, ${what}`);
  if (hostAddresses.some((own) => normaliseIp(own) === ip)) return refuse(describe('an address of this machine'), fix);
  const kind = classifyAddress(ip);
  if (kind === 'public') return { allowed: true };
  return refuse(describe(CLASS_WORDS[kind]), fix);
}

/**
 * Returns whether the proxy may start resolving and connecting to `host:port`, before any DNS
 * lookup: the host must match allow_host and the port be in allow_port, or insecure_allow_all
 * be set. IP literals are checked as addresses at once, so even insecure_allow_all never reaches
 * cloud metadata or the host machine (`extraDenied`, its own addresses) by a literal.
 */
export function decideEgress(request: { host: string; port: number }, rules: OutboundRules, extraDenied: string[] = []): EgressDecision {
  const host = readRequestHost(request.host);
  if (!host) return refuse(`${JSON.stringify(request.host)} is not a host name or IP address`, 'connect by host name or by an IP address written as four numbers, such as 10.0.0.5');
  const { port } = request;
  if (!Number.isInteger(port) || port < 1 || port > 65535) return refuse(`${String(port)} is not a TCP port`, 'connect to a port from 1 to 65535');
  if (host.kind === 'ip') {
    const verdict = checkAddress(host.value, host.value, rules, extraDenied);
    if (!verdict.allowed) return verdict;
  }
  if (rules.insecureAllowAll) return { allowed: true };
  const hostAllowed = host.kind === 'ip' ? isAllowedIp(host.value, rules) : rules.hosts.some((pattern) => matchHost(host.value, pattern));
  const portAllowed = rules.ports.includes(port);
  if (hostAllowed && portAllowed) return { allowed: true };
  const addHost = `"${host.value}" to network.outbound.allow_host`;
  const addPort = `${String(port)} to network.outbound.allow_port`;
  if (!hostAllowed && !portAllowed) return refuse(`${host.value} is not in allow_host and port ${String(port)} is not in allow_port`, `add ${addHost} and ${addPort}`);
  if (!hostAllowed) return refuse(`${host.value} is not in allow_host`, `add ${addHost}`);
  return refuse(`port ${String(port)} is not in allow_port`, `add ${addPort}`);
}

/**
 * Returns whether the proxy may connect to the address it resolved `request.host` to: never to
 * loopback, private, link-local, metadata, unspecified, multicast or reserved addresses, nor the
 * host machine's own, unless allow_host names that exact IP. This is what stops DNS rebinding,
 * and it applies under insecure_allow_all too.
 */
export function checkResolvedAddress(request: { host: string }, address: string, rules: OutboundRules, hostAddresses: string[]): EgressDecision {
  const host = readRequestHost(request.host)?.value ?? request.host;
  return checkAddress(host, address, rules, hostAddresses);
}

const SNI_FIX = 'none: a tunnel\'s TLS server name must be the host it was opened to (no domain fronting)';

/**
 * Returns whether a TLS ClientHello's server name (SNI) may go through a tunnel opened to
 * `target`, so a client cannot reach one site on a shared address (a CDN) while the proxy
 * approved another (domain fronting). A tunnel opened by name must carry that name (or none);
 * one opened to an IP that allow_host names may carry no name, that IP, or a name the profile
 * allows by itself on that port. An Encrypted Client Hello is refused: it hides the real name.
 */
export function checkServerName(
  target: { host: string; port: number }, hello: { serverName: string | undefined; encryptedHello: boolean },
  rules: OutboundRules, hostAddresses: readonly string[] = [],
): EgressDecision {
  const opened = readRequestHost(target.host);
  if (!opened) return refuse(`${JSON.stringify(target.host)} is not a host name or IP address`, SNI_FIX);
  if (hello.encryptedHello) {
    return refuse(`the TLS ClientHello to ${opened.value} hides its real server name (Encrypted Client Hello)`, 'none: the egress proxy must see the server name; turn Encrypted Client Hello off in the client');
  }
  if (hello.serverName === undefined) return { allowed: true };
  const named = readRequestHost(hello.serverName);
  if (!named) return refuse(`the TLS server name ${JSON.stringify(hello.serverName)} is not a host name`, SNI_FIX);
  if (named.kind === opened.kind && named.value === opened.value) return { allowed: true };
  if (opened.kind === 'ip' && named.kind === 'name') {
    // The name must be allowed in its own right: an approved IP does not approve every site on it.
    const byName = decideEgress({ host: named.value, port: target.port }, rules, [...hostAddresses]);
    if (byName.allowed) return byName;
    return refuse(`the TLS server name ${named.value} in a tunnel to ${opened.value} is not allowed: ${byName.reason}`, byName.fix);
  }
  return refuse(`the TLS server name (SNI) is ${named.value}, not ${opened.value}`, SNI_FIX);
}
