import { resolveAgainstCwd } from './input-errors.js';
import type { EnvEntry, LokOptions } from './options.js';
import type { PackageSpec } from './package-spec.js';
import { loadProfile, type LoadedProfile } from './profiles.js';

/** Where a server comes from: npm packages (the shim's install/run path) or an image. */
export type ServerSource =
  | { kind: 'npx'; packages: PackageSpec[]; command: string | undefined; allowInstall: boolean }
  /** `allowPull`: the engine may download the image when it is not here (an agent's start needs a yes for that). */
  | { kind: 'image'; image: string; allowPull: boolean };

/**
 * One server to run, as every front end hands it over: typed and validated, never argv to
 * parse again. The profile is content, read and validated once by the front end, and the
 * variables are values: what was checked (and, through the management server, approved) is
 * exactly what runs, including at every restart of a background server.
 */
export interface ServerRequest {
  source: ServerSource;
  /** Arguments for the server; never read as mcp-lok's options. */
  args: string[];
  /** Limits, name, CA file (absolute), registry, refresh, engine and debug; `lok.profile` and `lok.env` are what `profile` and `env` were made from. */
  lok: LokOptions;
  profile: LoadedProfile;
  /** The variables the server gets, besides the fixed set. */
  env: Record<string, string>;
  quiet: boolean;
  launcher: 'npx' | 'run' | 'start';
  /**
   * `agent`: started through the management server. Its home volume is its own, never the
   * home of a server the user started with the same package and name.
   */
  homeScope?: 'agent' | undefined;
  /**
   * Lines the front end has for stderr once the server is known to start (which client
   * variables pass, say): said with the plan's own, so bad input still gets its one line only.
   */
  notices?: string[] | undefined;
}

/** What a front end parsed, before the profile is read and the variables resolved. */
export type ParsedServer = Omit<ServerRequest, 'profile' | 'env'>;

/** What completing a request reads besides the parsed options. */
export interface RequestContext {
  configDir: string;
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  /** Variables the client's config added for this server (mcp-lok-npx); `-e` wins over them. */
  clientEnv?: Readonly<Record<string, string>>;
}

/**
 * Returns the complete request for parsed options: the profile read and validated once,
 * `-e NAME` copied from `env` now, and relative paths (profile, CA file) made absolute.
 */
export function completeRequest(parsed: ParsedServer, options: RequestContext): ServerRequest {
  const profile = loadProfile(parsed.lok.profile, { configDir: options.configDir, cwd: options.cwd });
  const caCert = parsed.lok.caCert === undefined ? undefined : resolveAgainstCwd(parsed.lok.caCert, options.cwd, 'CA file (--ca-cert, MCP_LOK_CA_CERT)');
  return { ...parsed, lok: { ...parsed.lok, caCert }, profile, env: { ...options.clientEnv, ...resolveUserEnv(parsed.lok.env, options.env) } };
}

/** Returns the variables the user named: `-e NAME` copies from our environment, unset ones are skipped. */
export function resolveUserEnv(entries: EnvEntry[], env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of entries) {
    const value = entry.value ?? env[entry.name];
    if (value !== undefined) out[entry.name] = value;
  }
  return out;
}
