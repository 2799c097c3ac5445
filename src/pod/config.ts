// The in-pod entry points' settings, read from the environment a Kubernetes Deployment gives
// them (pure: the environment in, typed settings or one clear error out). These are the
// images `mcp-lok image build --push` makes; `mcp-lok export kubernetes` writes their variables.
import { isIP } from 'node:net';
import { EXIT, LokError } from '../errors.js';
import { validateProfile, type OutboundRules } from '../sandbox/profile-validate.js';

type Env = Readonly<Record<string, string | undefined>>;

/** How the package image serves its stdio server. */
export interface PodServeConfig {
  transport: 'streamable-http' | 'sse';
  port: number;
  /** Names (and addresses) the Host and Origin headers may carry besides loopback, on any port. */
  allowedHosts: string[];
  /** Every request must carry `Authorization: Bearer <token>` when set. */
  token: string | undefined;
}

/** How the egress proxy image listens and what it allows. */
export interface PodEgressConfig {
  port: number;
  rules: OutboundRules;
}

export const POD_DEFAULT_PORT = 8080;
export const EGRESS_DEFAULT_PORT = 3128;
/** A shorter token is guessable; a Secret made with `openssl rand -hex 32` has 64 characters. */
const MIN_TOKEN_CHARS = 16;
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;
/** mcp-lok's own variables: not given to the server (it runs as the bridge's user, so it can still read them in /proc/1/environ: README, "What is lost without containers"). */
const OWN_PREFIX = 'MCP_LOK_';

function bad(message: string, hint: string): LokError {
  return new LokError('INVALID_INPUT', message, { exitCode: EXIT.failure, hint });
}

const shown = (value: string): string => JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);

/** Returns a port from a variable, or its default when unset or empty. */
export function readPort(env: Env, name: string, fallback: number): number {
  const text = env[name]?.trim() ?? '';
  if (text === '') return fallback;
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) throw bad(`${name} must be a TCP port from 1 to 65535, got ${shown(text)}.`, `Set ${name} to a port such as ${fallback}, or leave it unset.`);
  return port;
}

/**
 * Returns the host names a pod's listener answers to, from a comma- or space-separated list:
 * a Service's names (`memory`, `memory.team`, `memory.team.svc.cluster.local`) or addresses.
 */
export function readAllowedHosts(text: string | undefined): string[] {
  const names = (text ?? '').split(/[\s,]+/).filter((n) => n !== '');
  return [...new Set(names.map((raw) => {
    const name = raw.toLowerCase().replace(/^\[(.*)\]$/, '$1');
    if (isIP(name) || HOST_NAME.test(name)) return name;
    throw bad(`MCP_LOK_POD_ALLOWED_HOSTS must list host names or addresses without ports or schemes, got ${shown(raw)}.`, 'Set it to the Service\'s names, such as `memory,memory.team,memory.team.svc,memory.team.svc.cluster.local`.');
  }))];
}

function readNamespace(text: string | undefined): string | undefined {
  const namespace = text?.trim() ?? '';
  if (namespace === '') return undefined;
  if (/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(namespace)) return namespace;
  throw bad(`MCP_LOK_POD_NAMESPACE must be a namespace name, got ${shown(namespace)}.`, 'Set it from the downward API: `valueFrom: { fieldRef: { fieldPath: metadata.namespace } }`.');
}

/**
 * Returns the names with, for each one-label name (a Service's short name), its longer forms
 * in `namespace`: NAME.NS, NAME.NS.svc and NAME.NS.svc.cluster.local, as clients in other
 * namespaces write them.
 */
export function expandServiceNames(names: readonly string[], namespace: string | undefined): string[] {
  if (!namespace) return [...names];
  const out = [...names];
  for (const name of names) {
    if (name.includes('.') || isIP(name)) continue;
    out.push(`${name}.${namespace}`, `${name}.${namespace}.svc`, `${name}.${namespace}.svc.cluster.local`);
  }
  return [...new Set(out)];
}

/**
 * Returns the package image's settings: MCP_LOK_POD_TRANSPORT, _PORT, _ALLOWED_HOSTS (with
 * _NAMESPACE, from the downward API, adding a short name's longer forms) and _TOKEN.
 */
export function readPodServeConfig(env: Env): PodServeConfig {
  const transport = env.MCP_LOK_POD_TRANSPORT?.trim() || 'streamable-http';
  if (transport !== 'streamable-http' && transport !== 'sse') {
    throw bad(`MCP_LOK_POD_TRANSPORT must be streamable-http or sse, got ${shown(transport)}.`, 'Set it to streamable-http (the default) or sse; a pod cannot serve stdio.');
  }
  const token = env.MCP_LOK_POD_TOKEN;
  // Set but empty (a Secret's empty key) would serve everyone without a token: refused, not read as unset.
  if (token === '') throw bad('MCP_LOK_POD_TOKEN is set but empty, so the pod would take requests without a token.', 'Put a token in the Secret (`openssl rand -hex 32`), or remove the variable to serve without one.');
  if (token !== undefined) {
    if (!/^[\x21-\x7e]+$/.test(token)) throw bad('MCP_LOK_POD_TOKEN must be printable ASCII without spaces.', 'Make the Secret with `openssl rand -hex 32`.');
    if (token.length < MIN_TOKEN_CHARS) throw bad(`MCP_LOK_POD_TOKEN is ${token.length} characters long; it must have at least ${MIN_TOKEN_CHARS}.`, 'Make the Secret with `openssl rand -hex 32`.');
  }
  return {
    transport,
    port: readPort(env, 'MCP_LOK_POD_PORT', POD_DEFAULT_PORT),
    allowedHosts: expandServiceNames(readAllowedHosts(env.MCP_LOK_POD_ALLOWED_HOSTS), readNamespace(env.MCP_LOK_POD_NAMESPACE)),
    token,
  };
}

/**
 * Returns the egress image's settings: MCP_LOK_EGRESS_PORT, and MCP_LOK_EGRESS_RULES, a
 * profile's `network.outbound` object as JSON, checked by the same code as a profile file.
 */
export function readPodEgressConfig(env: Env): PodEgressConfig {
  const text = env.MCP_LOK_EGRESS_RULES;
  const hint = 'Set MCP_LOK_EGRESS_RULES to a profile\'s network.outbound object, such as {"allow_host":["api.github.com"],"allow_port":[443]}.';
  if (text === undefined || text.trim() === '') throw bad('MCP_LOK_EGRESS_RULES is not set, so the egress proxy would allow nothing.', hint);
  let outbound: unknown;
  try { outbound = JSON.parse(text); } catch (error) {
    throw bad(`MCP_LOK_EGRESS_RULES is not JSON: ${(error as Error).message}.`, hint);
  }
  let rules: OutboundRules;
  try {
    rules = validateProfile({ network: { outbound } }, 'MCP_LOK_EGRESS_RULES').outbound;
  } catch (error) {
    if (!(error instanceof LokError)) throw error;
    // The variable holds the outbound object itself: name its paths from there.
    throw bad(error.message.replace('$.network.outbound', '$'), hint);
  }
  return { port: readPort(env, 'MCP_LOK_EGRESS_PORT', EGRESS_DEFAULT_PORT), rules };
}

/** Returns the server's environment: the pod's, without mcp-lok's own variables (the token above all). */
export function serverEnv(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && !name.startsWith(OWN_PREFIX)) out[name] = value;
  }
  return out;
}

/**
 * Returns the gateway addresses in /proc/net/route and /proc/net/ipv6_route text: the node a
 * pod runs on, which the egress proxy refuses like any of the machine's own addresses.
 */
export function parseRouteGateways(route: string, route6: string): string[] {
  const found: string[] = [];
  for (const line of route.split('\n').slice(1)) {
    const hex = line.trim().split(/\s+/)[2];
    if (!hex || !/^[0-9A-F]{8}$/i.test(hex) || /^0+$/.test(hex)) continue;
    found.push([6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16)).join('.'));
  }
  for (const line of route6.split('\n')) {
    const hex = line.trim().split(/\s+/)[4];
    if (!hex || !/^[0-9a-f]{32}$/i.test(hex) || /^0+$/.test(hex)) continue;
    found.push((hex.match(/.{4}/g) ?? []).join(':'));
  }
  return [...new Set(found)];
}
