import { isIPv4, isIPv6 } from 'node:net';
import { domainToASCII } from 'node:url';
import { EXIT, LokError } from '../errors.js';
import { isInside } from './grant-policy.js';
import { appendJsonPath, hasUnprintable, nameSource, quoteValue } from './profile-json.js';

/**
 * One file grant. `host` is the path as written (normalised): absolute, or starting with `~/`.
 * `container` is where it appears in the sandbox: an absolute path, or, when the entry named
 * no container path, the host path as written, so `~/x` mirrors to the same expanded path.
 */
export interface PathGrant {
  host: string;
  container: string;
}

/** Outbound network rules; with `insecureAllowAll` false, only `hosts` on `ports` over `transports`. */
export interface OutboundRules {
  insecureAllowAll: boolean;
  /** `['tcp']` when anything may connect, else empty. */
  transports: Array<'tcp'>;
  hosts: string[];
  ports: number[];
}

/** A validated permission profile: `read` is mounted read-only, `write` read-write. */
export interface Profile {
  read: PathGrant[];
  write: PathGrant[];
  outbound: OutboundRules;
  /**
   * Set (`"git_writable": true`) when `.git` folders inside write grants stay writable; by
   * default they are mounted read-only, since their hooks and config run code on the host.
   */
  gitWritable?: true;
  /**
   * `"pin_tools": "enforce"`: the server's tools are held to their pin (changed ones hidden until
   * approved) whatever `--pin-tools` says; a profile can only make pinning stricter.
   */
  pinTools?: 'observe' | 'enforce';
}

const TOP_KEYS = ['read', 'write', 'network', 'git_writable', 'pin_tools'];
const NETWORK_KEYS = ['outbound'];
const OUTBOUND_KEYS = ['insecure_allow_all', 'allow_transport', 'allow_host', 'allow_port'];

/**
 * Container paths no grant may replace, enter or hide: the kernel's views (a mount there could
 * shadow /proc or /dev for the server's runtime) and mcp-lok's own mounts (a grant there could
 * swap the installed package or the bridge's files). `/var/run` is a link to `/run` in images.
 */
const RESERVED_CONTAINER_PATHS = ['/proc', '/sys', '/dev', '/opt/mcp-lok', '/run/mcp-lok', '/var/run/mcp-lok'];
/** The sandbox's own tmpfs mount points: grants may go below them but not replace them. */
const TMPFS_CONTAINER_PATHS = ['/tmp', '/home/node'];
const HOST_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const MAX_HOST_CHARS = 253;

/** A problem at a JSON path; validateProfile turns it into the one-line LokError. */
class ProfileProblem {
  constructor(readonly path: string, readonly problem: string) {}
}

function reject(path: string, problem: string): never {
  throw new ProfileProblem(path, problem);
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return value === '' ? 'an empty string' : `the string ${quoteValue(value)}`;
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function readObject(value: unknown, path: string, keys: string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    reject(path, `expected an object with the keys ${keys.join(', ')}, got ${describeValue(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) reject(appendJsonPath(path, key), `unknown key; accepted keys are ${keys.join(', ')}`);
  }
  return value as Record<string, unknown>;
}

function readOwn(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/** Returns the list at `path`, or undefined when it is missing. */
function readList(value: unknown, path: string, example: string): unknown[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) reject(path, `expected a list such as ${example}, got ${describeValue(value)}`);
  return value;
}

/** Returns the items of a list through `read`, rejecting repeats of the same result. */
function readItems<T>(list: unknown[], path: string, read: (item: unknown, path: string) => T): T[] {
  const seen = new Map<T, string>();
  return list.map((item, index) => {
    const itemPath = appendJsonPath(path, index);
    const value = read(item, itemPath);
    const earlier = seen.get(value);
    if (earlier !== undefined) reject(itemPath, `duplicate of ${earlier}; list each entry once`);
    seen.set(value, itemPath);
    return value;
  });
}

/** Returns why a container path cannot take a grant, or undefined when it can. */
export function findContainerPathProblem(container: string): string | undefined {
  if (container === '/') return 'the container path must not be /, which would replace the whole filesystem; choose a folder such as /work';
  for (const reserved of RESERVED_CONTAINER_PATHS) {
    if (container === reserved || isInside(container, reserved)) return `the container path ${container} is reserved (${reserved}); choose another, such as /work`;
    if (isInside(reserved, container)) return `the container path ${container} would hide ${reserved}, which the sandbox needs; choose another, such as /work`;
  }
  if (TMPFS_CONTAINER_PATHS.includes(container)) return `the container path ${container} is the sandbox's own ${container === '/tmp' ? 'temporary folder' : 'home'}; use a folder below it, such as ${container}/data, or another path`;
  return undefined;
}

/** Returns a path with `.` segments, repeated and trailing slashes removed; `..` is refused. `entry` is quoted in messages. */
function normalisePath(raw: string, entry: string, path: string): string {
  const home = raw === '~' || raw.startsWith('~/');
  if (!home && !raw.startsWith('/')) {
    reject(path, `paths must be absolute, such as \`/home/me/project\`, or start with \`~/\`, got ${quoteValue(entry)}`);
  }
  const segments = raw.slice(home ? 1 : 0).split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) reject(path, `".." segments are not allowed, got ${quoteValue(entry)}; write the path without them`);
  return `${home ? '~' : ''}/${segments.join('/')}`;
}

function readGrant(entry: unknown, path: string): PathGrant {
  if (typeof entry !== 'string') reject(path, `expected a path string such as "~/projects/x", got ${describeValue(entry)}`);
  if (entry === '') reject(path, 'expected a path such as "~/projects/x", got an empty string');
  // Invisible and line-breaking characters are refused too, so `profile show` cannot be made to lie.
  if (hasUnprintable(entry)) reject(path, `paths must not contain control or invisible characters such as NUL, newline or U+202E, got ${quoteValue(entry)}`);
  // `host:container` splits on the last `:` only when what follows starts with `/`. Nothing is
  // guessed: `/a:b` is one host path, and `C:\x` stays a (rejected) relative path.
  const colon = entry.lastIndexOf(':');
  const split = colon >= 0 && entry[colon + 1] === '/';
  if (split && colon === 0) reject(path, `expected a host path before ":", such as "/srv/data:/data", got ${quoteValue(entry)}`);
  const host = normalisePath(split ? entry.slice(0, colon) : entry, entry, path);
  const container = split ? normalisePath(entry.slice(colon + 1), entry, path) : host;
  const problem = container.startsWith('/') ? findContainerPathProblem(container) : undefined;
  if (problem) reject(path, problem);
  return { host, container };
}

/** Returns the read and write grants; an identical grant in both is kept once, in write. */
function readGrants(top: Record<string, unknown>): Pick<Profile, 'read' | 'write'> {
  const lists = { read: [] as PathGrant[], write: [] as PathGrant[] };
  const byContainer = new Map<string, { grant: PathGrant; path: string; list: 'read' | 'write'; index: number }>();
  const readOnlyRepeats = new Set<number>();
  for (const list of ['read', 'write'] as const) {
    const path = `$.${list}`;
    const entries = readList(readOwn(top, list), path, '["~/projects/x", "/srv/data:/data"]') ?? [];
    entries.forEach((entry, index) => {
      const itemPath = appendJsonPath(path, index);
      const grant = readGrant(entry, itemPath);
      const earlier = byContainer.get(grant.container);
      if (earlier && earlier.grant.host === grant.host) {
        if (earlier.list === list) reject(itemPath, `duplicate of ${earlier.path}; list each entry once`);
        readOnlyRepeats.add(earlier.index);
      } else if (earlier) {
        reject(itemPath, `the container path ${grant.container} is already granted by ${earlier.path}; each container path may be granted once`);
      }
      byContainer.set(grant.container, { grant, path: itemPath, list, index });
      lists[list].push(grant);
    });
  }
  return { read: lists.read.filter((_, index) => !readOnlyRepeats.has(index)), write: lists.write };
}

function readTransport(entry: unknown, path: string): 'tcp' {
  if (typeof entry !== 'string') reject(path, `expected "tcp", got ${describeValue(entry)}`);
  if (entry.toLowerCase() === 'udp') reject(path, `UDP cannot be allowed: the egress proxy carries TCP only; remove ${quoteValue(entry)}`);
  if (entry !== 'tcp') reject(path, `expected "tcp", the only transport the egress proxy carries, got ${quoteValue(entry)}`);
  return 'tcp';
}

function readPort(entry: unknown, path: string): number {
  if (typeof entry !== 'number') reject(path, `expected a port number such as 443, got ${describeValue(entry)}`);
  if (!Number.isInteger(entry) || entry < 1 || entry > 65535) reject(path, `expected a port from 1 to 65535, got ${entry}`);
  return entry;
}

/** Returns the host named inside a URL, for the hint; empty when there is none. */
function findUrlHost(url: string): string {
  try {
    return new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
  } catch {
    return '';
  }
}

function readIPv6(address: string, path: string): string {
  if (address.includes('%')) reject(path, `IPv6 zone ids are not supported, got ${quoteValue(address)}; write the address without %zone`);
  // The URL parser writes IPv6 in its canonical form, so `2001:DB8:0::1` and `2001:db8::1` are one entry.
  return new URL(`http://[${address}]`).hostname.slice(1, -1);
}

/** Returns a host entry in its canonical form: a lowercase name, `*.` wildcard, IPv4 or IPv6 address. */
function readHost(entry: unknown, path: string): string {
  const example = '"api.github.com"';
  if (typeof entry !== 'string') reject(path, `expected a host name such as ${example}, got ${describeValue(entry)}`);
  if (entry === '') reject(path, `expected a host name such as ${example}, got an empty string`);
  const q = quoteValue(entry);
  if (/[\s\u0000-\u001f\u007f]/.test(entry)) reject(path, `host names cannot contain spaces or control characters, got ${q}`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(entry)) {
    const host = findUrlHost(entry);
    reject(path, host ? `expected a host name, not a URL: use \`${host}\`` : `expected a host name, not a URL, got ${q}`);
  }
  if (entry.includes('/')) {
    if (/^(?:[0-9.]+|[0-9a-f.]*:[0-9a-f:.]*)\/\d+$/i.test(entry)) reject(path, `address ranges are not supported, got ${q}; list the addresses`);
    const before = entry.slice(0, entry.indexOf('/'));
    reject(path, before ? `expected a host name, not a path: use \`${before}\`` : `expected a host name, not a path, got ${q}`);
  }
  const bracketed = /^\[([^\]]*)\](?::(\d+))?$/.exec(entry);
  const bare = bracketed ? bracketed[1] ?? '' : entry;
  if (bracketed?.[2] !== undefined) reject(path, `expected a host without a port: use \`${bare}\` and put ${bracketed[2]} in allow_port`);
  if (bare.includes(':')) {
    if (isIPv6(bare)) return readIPv6(bare, path);
    const hostPort = /^([^:]+):(\d+)$/.exec(bare);
    if (hostPort) reject(path, `expected a host without a port: use \`${hostPort[1] ?? ''}\` and put ${hostPort[2] ?? ''} in allow_port`);
    reject(path, `expected a host name or IP address, got ${q}`);
  }
  if (bracketed) reject(path, `only IPv6 addresses may be written in brackets, got ${q}`);
  if (/^[0-9.]+$/.test(bare)) {
    if (isIPv4(bare)) return bare;
    reject(path, `expected an IPv4 address of four numbers from 0 to 255 without leading zeros, such as 10.0.0.5, got ${q}`);
  }
  if (/[^\x00-\x7f]/.test(bare)) {
    const ascii = domainToASCII(bare.replace(/^\*\./, ''));
    reject(path, ascii ? `write international names in their ASCII form: use \`${bare.startsWith('*.') ? '*.' : ''}${ascii}\`` : `expected a host name, got ${q}`);
  }
  const host = bare.toLowerCase();
  const wildcard = host.startsWith('*.');
  const name = wildcard ? host.slice(2) : host;
  if (host === '*') reject(path, 'a lone "*" would allow every host; list the hosts, or set insecure_allow_all to true');
  if (name.includes('*')) reject(path, `"*" may only be the whole first label, such as "*.example.com", got ${q}`);
  if (name.endsWith('.') && /[^.]/.test(name)) reject(path, `write the name without the final dot: use \`${host.replace(/\.+$/, '')}\``);
  if (host.length > MAX_HOST_CHARS) reject(path, `host names are at most ${MAX_HOST_CHARS} characters, got ${host.length}`);
  const labels = name.split('.');
  if (!labels.every((label) => HOST_LABEL.test(label))) {
    reject(path, `expected a host name of dot-separated labels made of letters, digits and inner hyphens (at most 63 each), got ${q}`);
  }
  if (/^\d+$/.test(labels[labels.length - 1] ?? '')) reject(path, `expected an IPv4 address such as 10.0.0.5 or a host name, got ${q}`);
  if (wildcard && labels.length < 2) reject(path, `a wildcard needs at least two labels after "*.", such as "*.example.com", got ${q}`);
  if (!wildcard && labels.length < 2 && host !== 'localhost') {
    reject(path, `expected a full host name such as "api.example.com" (only "localhost" may stand alone), got ${q}`);
  }
  return host;
}

function readOutbound(value: unknown, path: string): OutboundRules {
  const outbound = readObject(value, path, OUTBOUND_KEYS);
  const at = (key: string): string => appendJsonPath(path, key);
  const allowAll = readOwn(outbound, 'insecure_allow_all');
  if (allowAll !== undefined && typeof allowAll !== 'boolean') reject(at('insecure_allow_all'), `expected true or false, got ${describeValue(allowAll)}`);
  const transportList = readList(readOwn(outbound, 'allow_transport'), at('allow_transport'), '["tcp"]');
  if (transportList?.length === 0) reject(at('allow_transport'), 'an empty list means nothing could connect; omit it or use ["tcp"]');
  if (transportList) readItems(transportList, at('allow_transport'), readTransport);
  const hostList = readList(readOwn(outbound, 'allow_host'), at('allow_host'), '["api.github.com"]');
  const hosts = hostList && readItems(hostList, at('allow_host'), readHost);
  const portList = readList(readOwn(outbound, 'allow_port'), at('allow_port'), '[443]');
  const ports = portList && readItems(portList, at('allow_port'), readPort);

  if (allowAll === true) {
    const extra = hosts?.length ? 'allow_host' : ports?.length ? 'allow_port' : undefined;
    if (extra) reject(at(extra), `contradicts insecure_allow_all, which already allows every host and port; remove ${extra}, or set insecure_allow_all to false to allow only what the lists name`);
    return { insecureAllowAll: true, transports: ['tcp'], hosts: [], ports: [] };
  }
  if (hosts?.length) {
    if (!ports) reject(at('allow_port'), 'missing; ports must be explicit, so list the ports allow_host may use, such as [443]');
    if (ports.length === 0) reject(at('allow_port'), 'an empty list would allow every port; list the ports, such as [443]');
  }
  if (ports?.length) {
    if (!hosts) reject(at('allow_host'), 'missing; hosts must be explicit, so list the hosts allow_port applies to, such as ["api.github.com"]');
    if (hosts.length === 0) reject(at('allow_host'), 'an empty list would allow every host; list the hosts, such as ["api.github.com"]');
  }
  const open = (hosts?.length ?? 0) > 0;
  return { insecureAllowAll: false, transports: open ? ['tcp'] : [], hosts: hosts ?? [], ports: open ? ports ?? [] : [] };
}

function readProfile(value: unknown): Profile {
  const top = readObject(value, '$', TOP_KEYS);
  const grants = readGrants(top);
  const gitWritable = readOwn(top, 'git_writable');
  if (gitWritable !== undefined && typeof gitWritable !== 'boolean') reject('$.git_writable', `expected true or false, got ${describeValue(gitWritable)}`);
  const pinTools = readOwn(top, 'pin_tools');
  if (pinTools === 'off') reject('$.pin_tools', 'a profile can only make tool pinning stricter, so "off" is not accepted; use "observe" or "enforce", or leave pin_tools out');
  if (pinTools !== undefined && pinTools !== 'observe' && pinTools !== 'enforce') reject('$.pin_tools', `expected "observe" or "enforce", got ${describeValue(pinTools)}`);
  const networkValue = readOwn(top, 'network');
  const network = networkValue === undefined ? {} : readObject(networkValue, '$.network', NETWORK_KEYS);
  const outboundValue = readOwn(network, 'outbound');
  const outbound = outboundValue === undefined
    ? { insecureAllowAll: false, transports: [], hosts: [], ports: [] }
    : readOutbound(outboundValue, '$.network.outbound');
  return { ...grants, outbound, ...(gitWritable === true ? { gitWritable: true as const } : {}), ...(pinTools === 'observe' || pinTools === 'enforce' ? { pinTools } : {}) };
}

/**
 * Returns the typed profile a parsed profile file describes, or throws a one-line
 * PROFILE_INVALID error naming the file, the JSON path, the problem and what would be accepted.
 * Missing keys mean the most restrictive value: no files, no network.
 */
export function validateProfile(value: unknown, source: string): Profile {
  try {
    return readProfile(value);
  } catch (error) {
    if (!(error instanceof ProfileProblem)) throw error;
    throw new LokError('PROFILE_INVALID', `${nameSource(source)}: ${error.path}: ${error.problem}.`, { exitCode: EXIT.usage });
  }
}

function freezeProfile(profile: Profile): Profile {
  for (const list of [profile.read, profile.write, profile.outbound.transports, profile.outbound.hosts, profile.outbound.ports]) Object.freeze(list);
  Object.freeze(profile.outbound);
  return Object.freeze(profile);
}

/** The built-in profiles, frozen because they are shared: `stdio` allows nothing, `network` any TCP egress. */
export const BUILT_IN_PROFILES: Record<'stdio' | 'network', Profile> = {
  stdio: freezeProfile({ read: [], write: [], outbound: { insecureAllowAll: false, transports: [], hosts: [], ports: [] } }),
  network: freezeProfile({ read: [], write: [], outbound: { insecureAllowAll: true, transports: ['tcp'], hosts: [], ports: [] } }),
};

function describeGrant(grant: PathGrant): string {
  return grant.container === grant.host ? grant.host : `${grant.host} -> ${grant.container}`;
}

/** Returns one human line per thing a profile allows, for `profile show`, `list` and warnings. */
export function describeProfile(profile: Profile): string[] {
  const lines = [
    ...profile.read.map((grant) => `read-only: ${describeGrant(grant)}`),
    ...profile.write.map((grant) => `read-write: ${describeGrant(grant)}`),
  ];
  if (lines.length === 0) lines.push('files: none');
  if (profile.gitWritable && profile.write.length > 0) lines.push('git: .git folders in write grants are writable (git_writable)');
  const { insecureAllowAll, transports, hosts, ports } = profile.outbound;
  if (insecureAllowAll) lines.push('network: ANY public host and port (insecure_allow_all)');
  else if (hosts.length === 0 || ports.length === 0 || transports.length === 0) lines.push('network: none');
  else lines.push(`network: ${transports.join(', ')} to ${hosts.join(', ')} on ports ${ports.join(', ')}`);
  return lines;
}

/**
 * Returns the profile file (JSON value) a validated profile came from, in its canonical form:
 * `validateProfile` of it gives the same profile back. Lets a profile kept in a record be
 * checked again as if it were read from a file, so a record edited on disk gains nothing.
 */
export function profileToJson(profile: Profile): Record<string, unknown> {
  const text = (grant: PathGrant): string => (grant.container === grant.host ? grant.host : `${grant.host}:${grant.container}`);
  const { insecureAllowAll, hosts, ports } = profile.outbound;
  const outbound = insecureAllowAll ? { insecure_allow_all: true } : hosts.length > 0 ? { allow_host: [...hosts], allow_port: [...ports] } : {};
  return {
    read: profile.read.map(text),
    write: profile.write.map(text),
    network: { outbound },
    ...(profile.gitWritable === true ? { git_writable: true } : {}),
    ...(profile.pinTools !== undefined ? { pin_tools: profile.pinTools } : {}),
  };
}
