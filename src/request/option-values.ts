// Parsers for the values of mcp-lok's own options: each returns the value, or undefined when the
// text is not one, so the caller can say which flag or variable was wrong.
import { isContainerName } from '../sandbox/names.js';

/** A variable for the server: a value, or undefined to copy it from the shim's environment. */
export interface EnvEntry {
  name: string;
  value: string | undefined;
}

const SIZE_UNIT_BYTES: Readonly<Record<string, number>> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
const DURATION_UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** Docker refuses memory limits below 6 MiB. */
export const MIN_MEMORY_BYTES = 6 * 1024 ** 2;
const MAX_CPUS = 64;
const MIN_PIDS = 16;
const MAX_PIDS = 32768;
const MAX_PORT = 65535;

/** Returns the text when it is non-empty and holds no control characters. */
export function parseText(raw: string): string | undefined {
  return raw.trim() !== '' && !/[\u0000-\u001f\u007f]/.test(raw) ? raw : undefined;
}

/** Returns `NAME` as an entry to copy and `NAME=VALUE` as an entry to set. */
export function parseEnvEntry(raw: string): EnvEntry | undefined {
  const match = /^([A-Za-z_][A-Za-z0-9_]*)(?:=([\s\S]*))?$/.exec(raw);
  return match?.[1] ? { name: match[1], value: match[2] } : undefined;
}

/** How a server's tools are held to their pin: reported when they change, also hidden until approved, or not pinned. */
export type PinToolsMode = 'observe' | 'enforce' | 'off';

/** Returns a tool-pinning mode: `observe`, `enforce` or `off`. */
export function parsePinToolsMode(raw: string): PinToolsMode | undefined {
  const text = raw.trim();
  return text === 'observe' || text === 'enforce' || text === 'off' ? text : undefined;
}

/** Returns the text when it is a valid container name. */
export function parseContainerName(raw: string): string | undefined {
  return isContainerName(raw) ? raw : undefined;
}

/** Returns a memory size such as `512m`, `1.5g`, `512mb` or `268435456` in whole bytes, at least 6 MiB. */
export function parseMemory(raw: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?|\.\d+)(?:([kmg])b?|b)?$/i.exec(raw.trim());
  if (!match) return undefined;
  const bytes = Math.floor(Number(match[1]) * (SIZE_UNIT_BYTES[(match[2] ?? 'b').toLowerCase()] ?? 1));
  return Number.isSafeInteger(bytes) && bytes >= MIN_MEMORY_BYTES ? bytes : undefined;
}

/** Returns a CPU count above 0 and at most 64, with up to two decimals. */
export function parseCpus(raw: string): number | undefined {
  const text = raw.trim();
  if (!/^(?:\d+(?:\.\d{1,2})?|\.\d{1,2})$/.test(text)) return undefined;
  const cpus = Number(text);
  return cpus > 0 && cpus <= MAX_CPUS ? cpus : undefined;
}

/** Returns a process limit, a whole number from 16 to 32768. */
export function parsePids(raw: string): number | undefined {
  const text = raw.trim();
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const pids = Number(text);
  return pids >= MIN_PIDS && pids <= MAX_PIDS ? pids : undefined;
}

/** Returns the normalized URL when the text is an http(s) URL. */
export function parseHttpUrl(raw: string): string | undefined {
  if (!URL.canParse(raw)) return undefined;
  const url = new URL(raw);
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' ? url.href : undefined;
}

/** Returns a duration such as `0`, `30s`, `15m`, `12h` or `7d` in milliseconds; `never` is Infinity. */
export function parseDuration(raw: string): number | undefined {
  const text = raw.trim().toLowerCase();
  if (text === 'never') return Infinity;
  if (text === '0') return 0;
  const match = /^(\d{1,9})([smhd])$/.exec(text);
  return match?.[1] && match[2] ? Number(match[1]) * (DURATION_UNIT_MS[match[2]] ?? 0) : undefined;
}

/** Returns the text when it is an engine address: `unix:///path`, `/path` or `tcp://host:port`. */
export function parseEngineAddress(raw: string): string | undefined {
  if (/^(?:unix:\/\/)?\/[^\u0000-\u001f]+$/.test(raw)) return raw;
  const match = /^tcp:\/\/(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})\/?$/.exec(raw);
  const port = Number(match?.[1]);
  return port >= 1 && port <= MAX_PORT ? raw : undefined;
}

/** Returns true for `auto` (or any word parseBoolean reads as true) and false for `off` (or one it reads as false). */
export function parseClientEnvMode(raw: string): boolean | undefined {
  return raw.trim().toLowerCase() === 'auto' ? true : parseBoolean(raw);
}

/** Returns true for `1`, `true`, `yes`, `on` and false for `0`, `false`, `no`, `off` (any case). */
export function parseBoolean(raw: string): boolean | undefined {
  const text = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(text)) return true;
  if (['0', 'false', 'no', 'off'].includes(text)) return false;
  return undefined;
}
