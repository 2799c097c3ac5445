// Kubernetes names and values, checked before any manifest is built (bad input: one line).
import { EXIT, LokError } from '../errors.js';
import { showInput } from '../request/input-errors.js';

/** A Service name (DNS-1035 label): what every object of a server is named after. */
const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
/** A Secret, ConfigMap or PVC name (DNS-1123 subdomain). */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** The longest suffix added to a server's name (`-egress`), so every object's name fits 63. */
export const NAME_SUFFIX_CHARS = '-egress'.length;
const MAX_NAME_CHARS = 63 - NAME_SUFFIX_CHARS;

/** Returns a usage error: one line saying what is wrong and what to do. */
export function exportError(message: string, hint?: string): LokError {
  return new LokError('INVALID_INPUT', message, { exitCode: EXIT.usage, ...(hint ? { hint } : {}) });
}

/** Returns whether `text` can name a server's objects (lower-case letters, digits, inner `-`). */
export function isKubeName(text: string): boolean {
  return text.length <= MAX_NAME_CHARS && DNS_LABEL.test(text);
}

/** Returns the name a server's objects get: `--name`'s, checked, or one made from its source. */
export function chooseKubeName(given: string | undefined, hint: string): string {
  if (given !== undefined) {
    if (!isKubeName(given)) throw exportError(`Expected \`--name\` to be a Kubernetes name (lower-case letters, digits and inner "-", starting with a letter, at most ${MAX_NAME_CHARS}), got ${showInput(given)}.`, 'Pass --name my-server.');
    return given;
  }
  const slug = hint.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^[^a-z]+/, '').slice(0, MAX_NAME_CHARS).replace(/-+$/, '');
  return slug === '' ? 'mcp-server' : slug;
}

/** Returns whether `text` can name a Secret, ConfigMap, PVC or namespace-free object (DNS-1123 subdomain). */
export function isObjectName(text: string): boolean {
  return text.length <= 253 && DNS_SUBDOMAIN.test(text);
}

/** Returns whether `text` can name a namespace (DNS-1123 label). */
export function isNamespace(text: string): boolean {
  return text.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(text);
}

/** Returns whether `text` is a key inside a Secret or ConfigMap. */
export function isSecretKey(text: string): boolean {
  return text.length <= 253 && SECRET_KEY.test(text);
}

/** Returns whether `text` is a variable name a container can be given. */
export function isEnvName(text: string): boolean {
  return ENV_NAME.test(text);
}

/**
 * Returns the variable Kubernetes sets in a pod for a Service of its namespace that existed when
 * the pod was made (`NAME_EGRESS_SERVICE_HOST` for `name-egress`): its cluster IP.
 */
export function serviceHostVariable(service: string): string {
  return `${service.toUpperCase().replace(/-/g, '_')}_SERVICE_HOST`;
}

/** Returns a label selector value's parts `KEY=VALUE[,KEY=VALUE]`, or undefined when malformed. */
export function parseLabelPairs(text: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) return undefined;
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    if (!isLabelKey(key) || !isLabelValue(value) || Object.hasOwn(out, key)) return undefined;
    out[key] = value;
  }
  return out;
}

function isLabelKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  const name = slash === -1 ? key : key.slice(slash + 1);
  if (prefix !== undefined && !isObjectName(prefix)) return false;
  return name.length <= 63 && /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(name);
}

function isLabelValue(value: string): boolean {
  return value === '' || (value.length <= 63 && /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(value));
}
