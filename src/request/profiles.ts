import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LokError, EXIT } from '../errors.js';
import { parseJsonStrict } from '../sandbox/profile-json.js';
import { resolveAgainstCwd } from './input-errors.js';
import { BUILT_IN_PROFILES, validateProfile, type Profile } from '../sandbox/profile-validate.js';

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
    const hint = `Give its absolute path, or put it in ${join(options.configDir, PROFILE_DIR)} and pass its name without .json.`;
    const loaded = loadProfileFile(resolveAgainstCwd(nameOrPath, options.cwd, 'profile', hint));
    return { ...loaded, name: nameOrPath };
  }
  const own = join(options.configDir, PROFILE_DIR, `${nameOrPath}.json`);
  if (/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(nameOrPath) && existsSync(own)) return { ...loadProfileFile(own), name: nameOrPath };
  const names = listProfiles(options.configDir).map((p) => p.name).join(', ');
  throw new LokError('PROFILE_INVALID', `Unknown permission profile "${nameOrPath}"; known: ${names}.`, { exitCode: EXIT.usage, hint: `Pass a file path, or put ${nameOrPath}.json in ${join(options.configDir, PROFILE_DIR)}.` });
}
