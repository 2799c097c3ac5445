// A background server's request as kept in its record, checked again before it is started
// again. The record is a file in the user's state folder: anything that can write there (an
// agent with a file tool, say) could otherwise give a server a wider sandbox than was ever
// checked or approved, a listener beyond loopback without a token, or a source never parsed.
import { isIP } from 'node:net';
import { parseServerSource } from './source.js';
import { EXIT, LokError } from '../errors.js';
import { parseCpus, parseMemory, parsePids } from './option-values.js';
import { DEFAULT_UPDATE_CHECK_MS } from './options.js';
import { isLoopbackHost } from '../http/host-check.js';
import { profileToJson, validateProfile } from '../sandbox/profile-validate.js';
import type { BackgroundSpec } from '../app/supervisor-protocol.js';

const TRANSPORTS = new Set(['sse', 'streamable-http']);
/** A token from newToken(): 24 random bytes in base64url. */
const TOKEN = /^[A-Za-z0-9_-]{32,}$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535;
}

function damaged(name: string, what: string): LokError {
  return new LokError('INVALID_INPUT', `The record of "${name}" is damaged (${what}); refusing to start it from it.`, {
    exitCode: EXIT.failure, hint: `Remove it with \`mcp-lok rm ${name}\` and start the server anew.`,
  });
}

/** `--refresh-after`'s default before pinning existed: what every record of that time holds. */
const OLD_DEFAULT_REFRESH_MS = 86_400_000;

/**
 * Returns a recorded start request fit to run again, or throws: the source is parsed again from
 * the text the record shows, the profile is validated again as if read from a file (what
 * `list` and the widening checks see is what runs), a listener beyond loopback has a token,
 * limits are within what the options accept, and every other field has its type.
 */
export function checkRecordedSpec(value: unknown, name: string): BackgroundSpec {
  if (!isObject(value)) throw damaged(name, 'no request');
  const spec = value as unknown as BackgroundSpec;
  if (spec.name !== name) throw damaged(name, 'it names another server');
  if (typeof spec.sourceText !== 'string') throw damaged(name, 'no source');
  if (!TRANSPORTS.has(spec.transport)) throw damaged(name, 'an unknown transport');
  if (typeof spec.host !== 'string' || (spec.host !== 'localhost' && isIP(spec.host) === 0)) throw damaged(name, 'a host that is not an address');
  if (!isPort(spec.port) || (spec.targetPort !== undefined && !isPort(spec.targetPort))) throw damaged(name, 'a port out of range');
  if (spec.token !== undefined && (typeof spec.token !== 'string' || !TOKEN.test(spec.token))) throw damaged(name, 'a malformed token');
  if (spec.token === undefined && !isLoopbackHost(spec.host)) throw damaged(name, `a listener on ${spec.host} without a token`);
  const server = spec.server as unknown;
  if (!isObject(server) || !isObject(server.profile) || !isObject(server.lok) || !isObject(server.env) || !Array.isArray(server.args)) throw damaged(name, 'no server request');
  if (!server.args.every((a) => typeof a === 'string') || !Object.values(server.env).every((v) => typeof v === 'string')) throw damaged(name, 'arguments or variables that are not text');
  const lok = server.lok;
  // Limits within what the options accept: a record must not lift the process limit that stops fork bombs.
  if (typeof lok.pids !== 'number' || parsePids(String(lok.pids)) !== lok.pids
    || typeof lok.cpus !== 'number' || parseCpus(String(lok.cpus)) !== lok.cpus
    || typeof lok.memoryBytes !== 'number' || parseMemory(String(lok.memoryBytes)) !== lok.memoryBytes) throw damaged(name, 'limits out of range');
  if (![lok.caCert, lok.engine, lok.registry].every((v) => v === undefined || typeof v === 'string')) throw damaged(name, 'settings that are not text');
  // The name also names the server's home volume: a record must not lead to another server's home.
  if (lok.name !== undefined && lok.name !== name) throw damaged(name, 'its request names another server');
  if (lok.ephemeral !== undefined && typeof lok.ephemeral !== 'boolean') throw damaged(name, 'an --ephemeral that is not true or false');
  // JSON writes `never` (Infinity) as null; a record of an older version has no update check.
  const duration = (value: unknown, fallback: number | undefined): number | undefined => {
    if (value === undefined) return fallback;
    if (value === null) return Infinity;
    if (typeof value !== 'number' || !(value >= 0)) throw damaged(name, 'a duration that is not one');
    return value;
  };
  // A record from before pinning (it has no update check) holds the old default of 24h, which
  // nobody chose: such a server is pinned like any other, not left floating unsaid.
  const olderDefault = lok.updateCheckMs === undefined && lok.refreshAfterMs === OLD_DEFAULT_REFRESH_MS;
  const refreshAfterMs = olderDefault ? undefined : duration(lok.refreshAfterMs, undefined);
  const updateCheckMs = duration(lok.updateCheckMs, DEFAULT_UPDATE_CHECK_MS);
  if (lok.pinTools !== undefined && lok.pinTools !== 'observe' && lok.pinTools !== 'enforce' && lok.pinTools !== 'off') throw damaged(name, 'a --pin-tools that is not observe, enforce or off');
  if (server.homeScope !== undefined && server.homeScope !== 'agent') throw damaged(name, 'an unknown home scope');
  const loaded = server.profile;
  if (typeof loaded.name !== 'string' || typeof loaded.source !== 'string') throw damaged(name, 'an unnamed profile');
  let profile;
  try {
    profile = validateProfile(profileToJson(loaded.profile as Parameters<typeof profileToJson>[0]), loaded.name);
  } catch (error) {
    throw damaged(name, `its profile: ${error instanceof Error ? error.message : String(error)}`);
  }
  let source;
  try { source = parseServerSource(spec.sourceText); } catch { throw damaged(name, 'a source that is not an image or npx:// package'); }
  return {
    ...spec,
    server: { ...spec.server, source, profile: { name: loaded.name, source: loaded.source, profile }, lok: { ...spec.server.lok, refreshAfterMs, updateCheckMs: updateCheckMs ?? DEFAULT_UPDATE_CHECK_MS } },
  };
}
