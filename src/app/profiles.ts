import { buildGrantContext, resolveGrantMounts } from '../prepare/grants.js';
import { listProfiles, loadProfile, loadProfileFile, type LoadedProfile } from '../request/profiles.js';
import { describeProfile } from '../sandbox/profile-validate.js';
import type { Context } from './context.js';

/** A profile as `profile show`/`check` and the management server's show_profile describe it. */
export interface ProfileReport extends LoadedProfile {
  /** What it allows, in words. */
  allows: string[];
  /** With `check`: what the grants' checks said (a .git kept read-only, say). */
  notes?: string[];
}

/** Returns the built-in profiles and the user's own, by name. */
export function listAllProfiles(ctx: Context): Array<{ name: string; source: string }> {
  return listProfiles(ctx.paths.config);
}

/**
 * Returns what a profile allows. `show` takes a name (built-in, the user's own) or a path;
 * `check` takes a file and also runs its grants through every check a start makes (denylist,
 * links, existence, writability, sockets, .git), in the same words.
 */
export function describeProfileFor(ctx: Context, target: string, action: 'show' | 'check'): ProfileReport {
  const loaded = action === 'check' ? loadProfileFile(target) : loadProfile(target, { configDir: ctx.paths.config, cwd: ctx.cwd });
  // Not a relaxation (so not in describeProfile, whose lines a start from an agent must have approved): said here only.
  const pinning = loaded.profile.pinTools ? [`tools: ${loaded.profile.pinTools === 'enforce' ? 'new and changed tools hidden until `mcp-lok approve`' : 'changes to the pinned tools reported'} (pin_tools ${loaded.profile.pinTools})`] : [];
  const report: ProfileReport = { ...loaded, allows: [...describeProfile(loaded.profile), ...pinning] };
  if (action === 'check') report.notes = resolveGrantMounts(loaded.profile, buildGrantContext({ env: ctx.env, paths: ctx.paths, platform: ctx.platform })).notes;
  return report;
}
