import { accessSync, constants, existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { LokError, EXIT } from '../errors.js';
import type { MountPlan } from '../sandbox/build-spec.js';
import { buildDenyRules, findGrantViolation } from '../sandbox/grant-policy.js';
import { parseJsonStrict } from '../sandbox/profile-json.js';
import { BUILT_IN_PROFILES, validateProfile, type PathGrant, type Profile } from '../sandbox/profile-validate.js';

/** A profile ready for use: where it came from and what it allows. */
export interface LoadedProfile {
  name: string;
  source: string;
  profile: Profile;
}

const PROFILE_DIR = 'profiles';

/** Returns the built-in names (with `none` as another name for `stdio`) and the user's own. */
export function listProfiles(configDir: string): Array<{ name: string; source: string }> {
  const own = (() => {
    try {
      return readdirSync(join(configDir, PROFILE_DIR)).filter((f) => f.endsWith('.json')).map((f) => ({ name: f.slice(0, -5), source: join(configDir, PROFILE_DIR, f) }));
    } catch {
      return [];
    }
  })();
  return [{ name: 'stdio', source: 'built-in' }, { name: 'none', source: 'built-in (stdio)' }, { name: 'network', source: 'built-in' }, ...own];
}

/** Returns a profile parsed and validated from a file. */
export function loadProfileFile(path: string): LoadedProfile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new LokError('PROFILE_INVALID', `Cannot read the profile ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}.`, { exitCode: EXIT.usage });
  }
  return { name: path, source: path, profile: validateProfile(parseJsonStrict(text, path), path) };
}

/**
 * Returns the profile a name means: a built-in (`stdio`, `none`, `network`), a file path
 * (with a `/` or ending in `.json`), or `NAME.json` in the user's config directory.
 */
export function loadProfile(nameOrPath: string, options: { configDir: string; cwd: string }): LoadedProfile {
  if (nameOrPath === 'stdio' || nameOrPath === 'none') return { name: 'stdio', source: 'built-in', profile: BUILT_IN_PROFILES.stdio };
  if (nameOrPath === 'network') return { name: 'network', source: 'built-in', profile: BUILT_IN_PROFILES.network };
  if (nameOrPath.includes('/') || nameOrPath.endsWith('.json')) {
    const loaded = loadProfileFile(isAbsolute(nameOrPath) ? nameOrPath : resolve(options.cwd, nameOrPath));
    return { ...loaded, name: nameOrPath };
  }
  const own = join(options.configDir, PROFILE_DIR, `${nameOrPath}.json`);
  if (/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(nameOrPath) && existsSync(own)) return { ...loadProfileFile(own), name: nameOrPath };
  const names = listProfiles(options.configDir).map((p) => p.name).join(', ');
  throw new LokError('PROFILE_INVALID', `Unknown permission profile "${nameOrPath}"; known: ${names}.`, { exitCode: EXIT.usage, hint: `Pass a file path, or put ${nameOrPath}.json in ${join(options.configDir, PROFILE_DIR)}.` });
}

function expandHome(path: string, home: string): string {
  return path === '~' ? home : path.startsWith('~/') ? join(home, path.slice(2)) : path;
}

/** Returns true when uid:gid may write to a directory, by its mode bits (root's view aside). */
function canWrite(path: string, uid: number, gid: number): boolean {
  const st = statSync(path);
  if (st.uid === uid) return (st.mode & 0o200) !== 0;
  if (st.gid === gid) return (st.mode & 0o020) !== 0;
  return (st.mode & 0o002) !== 0;
}

export interface GrantContext {
  home: string;
  engineSocket: string | undefined;
  lokDirs: string[];
  /** The uid:gid the server runs as, to check that write grants are writable for it. */
  uid: number;
  gid: number;
}

/**
 * Returns the bind mounts a profile grants, after resolving each host path through its
 * symlinks and refusing what no server should get (the resolved path is what is checked
 * and mounted, so a planted symlink cannot widen a grant).
 */
export function resolveGrantMounts(profile: Profile, ctx: GrantContext): MountPlan[] {
  const rules = buildDenyRules({ home: ctx.home, engineSocket: ctx.engineSocket, lokDirs: ctx.lokDirs });
  const one = (grant: PathGrant, readOnly: boolean, index: number): MountPlan => {
    const where = `$.${readOnly ? 'read' : 'write'}[${index}]`;
    const expanded = expandHome(grant.host, ctx.home);
    let real: string;
    try {
      real = realpathSync(expanded);
    } catch {
      throw new LokError('PROFILE_INVALID', `${where}: ${grant.host} does not exist.`, { exitCode: EXIT.usage, hint: 'Grant only paths that exist.' });
    }
    const violation = findGrantViolation(real, rules);
    if (violation) {
      const shown = real === expanded ? grant.host : `${grant.host} (resolves to ${real})`;
      throw new LokError('PROFILE_INVALID', `${where}: refusing to grant ${shown}: ${violation}.`, { exitCode: EXIT.usage, hint: 'Grant a narrower folder, such as one project.' });
    }
    if (!readOnly && !canWrite(real, ctx.uid, ctx.gid)) {
      throw new LokError('PROFILE_INVALID', `${where}: the sandbox user (uid ${ctx.uid}) cannot write to ${real}.`, { exitCode: EXIT.usage, hint: `Make it writable for uid ${ctx.uid} (chown or chmod), or grant it read-only.` });
    }
    if (readOnly) accessSync(real, constants.R_OK);
    const target = grant.container === grant.host || grant.container.startsWith('~') ? expanded : grant.container;
    return { type: 'bind', source: real, target, readOnly };
  };
  return [...profile.read.map((g, i) => one(g, true, i)), ...profile.write.map((g, i) => one(g, false, i))];
}
