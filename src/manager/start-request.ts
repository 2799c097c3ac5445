// The management server's `start_server` input, turned into the same typed request the CLI
// builds: each field validated on its own, nothing read as mcp-lok's options, and every way
// the request widens the default sandbox found on the effective request (the profile's
// content, not its name), so each needs its own flag and, where the client can ask, the
// user's yes.
import { parseServerSource } from '../request/source.js';
import { EXIT, LokError, usageError } from '../errors.js';
import { resolveLokOptions } from '../request/options.js';
import { isLoopbackHost } from '../http/host-check.js';
import { hasUnprintable, quoteValue } from '../sandbox/profile-json.js';
import { describeProfile } from '../sandbox/profile-validate.js';
import type { BackgroundStart } from '../app/background.js';
import { completeRequest, type ServerRequest } from '../request/server-request.js';
import type { BackgroundSpec } from '../app/supervisor-protocol.js';
import { createHash } from 'node:crypto';
import { resolve as resolvePath } from 'node:path';
import type { HttpTransport } from '../app/serve-http.js';

/** `start_server`'s arguments after the tool's schema checked their types and shapes. */
export interface StartServerInput {
  source: string;
  args?: string[] | undefined;
  transport?: HttpTransport | undefined;
  name?: string | undefined;
  port?: number | undefined;
  targetPort?: number | undefined;
  profile?: string | undefined;
  env?: Record<string, string> | undefined;
  envFromHost?: string[] | undefined;
  host?: string | undefined;
  auth?: boolean | undefined;
  allowPull?: boolean | undefined;
  allowNetwork?: boolean | undefined;
  allowReads?: boolean | undefined;
  allowWrites?: boolean | undefined;
  allowRemoteClients?: boolean | undefined;
  allowHostEnv?: boolean | undefined;
}

export type WideningFlag = 'allowNetwork' | 'allowReads' | 'allowWrites' | 'allowRemoteClients' | 'allowHostEnv' | 'allowPull';

/** One way a request widens the default sandbox, the flag that allows it, and how to say it. */
export interface Widening { flag: WideningFlag; what: string }

const BUILT_IN = new Set(['stdio', 'none', 'network']);

/**
 * Refuses a profile an agent names unless it is a built-in or user's own name, or a `.json`
 * file: a path to anything else (a key, a credentials file) is never opened, and no name
 * holds a line break, bidi override or invisible character to make the user's confirmation lie.
 */
export function checkAgentProfileName(profile: string): void {
  // The user's confirmation quotes the profile's name: it must not be able to break or reorder that line.
  if (hasUnprintable(profile)) throw usageError(`Expected \`profile\` to be a name or a .json file without control or invisible characters, got ${quoteValue(profile)}.`, 'Rename the file.');
  if (BUILT_IN.has(profile) || /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(profile) || profile.endsWith('.json')) return;
  throw usageError(`Expected \`profile\` to be a profile name or a .json file, got ${JSON.stringify(profile.slice(0, 80))}.`, 'Use list_profiles to see the names.');
}

/**
 * Returns the typed start request for `start_server`: a source is an image reference or an
 * `npx://` spec and nothing else, a profile is a name or a `.json` file (read and validated
 * here, once), and variables copied from mcp-lok's own environment are only those named in
 * `envFromHost`. A CA file, an engine and a registry cannot be chosen by an agent at all:
 * they come from the user's own configuration.
 */
export function buildAgentStart(input: StartServerInput, options: { configDir: string; cwd: string; env: Readonly<Record<string, string | undefined>> }): BackgroundStart {
  if (input.source.startsWith('-')) throw usageError(`Expected \`source\` to be an image reference or npx://package, got an option (${JSON.stringify(input.source.slice(0, 40))}).`, 'Options are fields of start_server, never part of `source`.');
  const parsed = parseServerSource(input.source);
  // The engine downloads an image that is not here: from an agent, only with its own yes.
  const source = parsed.kind === 'image' ? { ...parsed, allowPull: input.allowPull === true } : parsed;
  const profile = input.profile ?? 'stdio';
  checkAgentProfileName(profile);
  const host = input.host ?? '127.0.0.1';
  // Limits, refresh, CA file, registry and engine: the user's own settings (flags cannot come from here).
  const lok = { ...resolveLokOptions({}, options.env), profile, env: [], name: input.name, debug: false };
  // Its home is apart from those of the user's own servers, so naming one of them reads none of its files.
  const server: ServerRequest = { ...completeRequest({ source, args: input.args ?? [], lok, quiet: false, launcher: 'start' }, options), homeScope: 'agent' };
  for (const name of input.envFromHost ?? []) {
    const value = options.env[name];
    if (value === undefined) throw new LokError('INVALID_INPUT', `\`envFromHost\` names ${name}, which mcp-lok's environment does not have.`, { exitCode: EXIT.usage, hint: 'Name only variables the user set for mcp-lok.' });
    server.env[name] = value;
  }
  // Kept in the request (and its record) as copied from the host, so a restart asks again.
  server.lok = { ...server.lok, env: (input.envFromHost ?? []).map((name) => ({ name, value: undefined })) };
  Object.assign(server.env, input.env ?? {});
  return {
    name: input.name, sourceText: input.source, server, transport: input.transport ?? 'streamable-http',
    host, port: input.port, targetPort: input.targetPort, auth: input.auth ?? false,
  };
}

/** Returns the names of the variables a request copies from mcp-lok's own environment (`-e NAME`, envFromHost). */
export function hostEnvNames(server: Pick<ServerRequest, 'lok' | 'env'>): string[] {
  return server.lok.env.filter((entry) => entry.value === undefined && Object.hasOwn(server.env, entry.name)).map((entry) => entry.name);
}

/** The fields of start_server that only a new start takes; starting a stopped server again takes its name and allow flags. */
const NEW_START_FIELDS = ['args', 'transport', 'port', 'targetPort', 'profile', 'env', 'envFromHost', 'host', 'auth'] as const;

/** Refuses fields a restart (start_server with only `name`) would otherwise ignore without a word. */
export function checkRestartInput(input: Partial<Record<(typeof NEW_START_FIELDS)[number], unknown>>): void {
  const given = NEW_START_FIELDS.filter((field) => input[field] !== undefined);
  if (given.length === 0) return;
  throw usageError(`Starting a stopped server again takes only \`name\` and allow flags; it runs as it was first started, so ${given.map((f) => `\`${f}\``).join(', ')} cannot change.`, 'Remove it with remove_server and start it anew with `source` to change it.');
}

/**
 * Refuses to start a stopped server again for an agent when its request uses what an agent can
 * never choose (a CA file, which is mounted into the sandbox, an engine or a registry) other
 * than the user's own settings: the user chose those for that server, from the command line.
 */
export function checkAgentRestart(spec: BackgroundSpec, options: { cwd: string; env: Readonly<Record<string, string | undefined>> }): void {
  const own = resolveLokOptions({}, options.env);
  const ownCa = own.caCert === undefined ? undefined : resolvePath(options.cwd, own.caCert);
  const { lok } = spec.server;
  const differs = [
    lok.caCert !== ownCa ? 'a CA file' : undefined,
    lok.engine !== own.engine ? 'an engine' : undefined,
    lok.registry !== own.registry ? 'a registry' : undefined,
  ].filter((what): what is string => what !== undefined);
  if (differs.length === 0) return;
  throw new LokError('INVALID_INPUT', `Refused: "${spec.name}" was started with ${differs.join(', ')} of its own, which an agent cannot choose.`, {
    exitCode: EXIT.usage, hint: `The user can start it again with \`mcp-lok start ${spec.name}\`.`,
  });
}

/** Returns every way a start request widens the default sandbox (no network, no files, loopback, only given values). */
export function findWidenings(start: Pick<BackgroundStart, 'server' | 'host'>, copiedFromHost: readonly string[]): Widening[] {
  const { profile, name } = start.server.profile;
  const out: Widening[] = [];
  if (profile.outbound.insecureAllowAll) out.push({ flag: 'allowNetwork', what: `profile ${name} lets the server reach any public host on any port` });
  else if (profile.outbound.hosts.length > 0) out.push({ flag: 'allowNetwork', what: `profile ${name} lets the server reach ${profile.outbound.hosts.join(', ')} on port ${profile.outbound.ports.join(', ')}` });
  if (profile.read.length > 0) out.push({ flag: 'allowReads', what: `profile ${name} lets the server read ${profile.read.map((g) => g.host).join(', ')}` });
  if (profile.write.length > 0) {
    // Without git_writable each .git inside stays read-only; with it, the server can plant hooks git runs on the host.
    const git = profile.gitWritable ? ', .git folders included (git_writable: their hooks and config run code on this machine)' : '';
    out.push({ flag: 'allowWrites', what: `profile ${name} lets the server write ${profile.write.map((g) => g.host).join(', ')}${git}` });
  }
  const { source } = start.server;
  if (source.kind === 'image' && source.allowPull) out.push({ flag: 'allowPull', what: `the engine may download ${source.image} if it is not on this machine` });
  if (!isLoopbackHost(start.host)) out.push({ flag: 'allowRemoteClients', what: `listening on ${start.host} lets other machines use the server` });
  if (copiedFromHost.length > 0) out.push({ flag: 'allowHostEnv', what: `the server gets ${copiedFromHost.join(', ')} from mcp-lok's own environment` });
  return out;
}

/** Refuses a request whose widenings lack their flags, naming each missing flag. */
export function requireFlags(widenings: readonly Widening[], input: Partial<Record<WideningFlag, boolean | undefined>>): void {
  const missing = widenings.filter((w) => input[w.flag] !== true);
  if (missing.length === 0) return;
  const flags = [...new Set(missing.map((w) => `\`${w.flag}: true\``))];
  throw new LokError('INVALID_INPUT', `Refused: ${missing.map((w) => w.what).join('; ')}.`, {
    exitCode: EXIT.usage, hint: `Set ${flags.join(' and ')} if the user wants that, or use the default profile (stdio).`,
  });
}

/** The question put to the user about a request's widenings, and the key the answer comes back under. */
export interface WideningQuestion { key: string; message: string }

/** The order the question names widenings in: what reaches furthest first. */
const QUESTION_ORDER: readonly WideningFlag[] = ['allowWrites', 'allowHostEnv', 'allowRemoteClients', 'allowReads', 'allowNetwork', 'allowPull'];
/** A longer question is refused: clients show it in a dialog, where the end of a long one is out of sight. */
export const MAX_QUESTION_CHARS = 2000;

/**
 * Returns the question for a request's widenings, what reaches furthest first. Its key hashes
 * the question and the tool's arguments, so a yes given for one request is never read as the
 * answer for another: a retry with other arguments, or a server whose record changed, asks
 * again. A question too long to read whole is refused: an agent could pad a profile of its own
 * with hosts or folders to bury one widening among them.
 */
export function wideningQuestion(widenings: readonly Widening[], request: unknown): WideningQuestion {
  const ordered = [...widenings].sort((a, b) => QUESTION_ORDER.indexOf(a.flag) - QUESTION_ORDER.indexOf(b.flag));
  const message = `An agent asks mcp-lok to start a server with a wider sandbox: ${ordered.map((w) => w.what).join('; ')}. Allow it?`;
  if (message.length > MAX_QUESTION_CHARS) {
    throw new LokError('INVALID_INPUT', `Refused: this request widens the sandbox in more ways than one question can show the user (${message.length} characters, at most ${MAX_QUESTION_CHARS}).`, {
      exitCode: EXIT.usage, hint: 'Use a profile that names fewer hosts and folders, or ask the user to start it in a terminal with `mcp-lok start`.',
    });
  }
  const digest = createHash('sha256').update(JSON.stringify([message, request ?? null])).digest('hex');
  return { key: `allow-${digest.slice(0, 24)}`, message };
}

/** Returns what the request relaxes, in the words `list` uses. */
export function describeRelaxations(start: Pick<BackgroundStart, 'server'>): string[] {
  return describeProfile(start.server.profile.profile).filter((line) => line !== 'files: none' && line !== 'network: none');
}
