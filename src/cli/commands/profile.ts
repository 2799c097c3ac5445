import { usageError } from '../../errors.js';
import { describeProfile } from '../../sandbox/profile-validate.js';
import { buildGrantContext, resolveGrantMounts } from '../../prepare/grants.js';
import { listProfiles, loadProfile, loadProfileFile } from '../../request/profiles.js';
import type { ParsedCommand } from '../commands.js';
import type { Context } from '../../app/context.js';
import { renderTable } from '../output.js';

/** `mcp-lok profile list | show NAME | check FILE`. */
export async function runProfile(ctx: Context, args: ParsedCommand): Promise<number> {
  const [action = 'list', target] = args.positionals;
  const json = Boolean(args.values.json);
  switch (action) {
    case 'list': {
      const profiles = listProfiles(ctx.paths.config);
      if (json) ctx.stdout.write(`${JSON.stringify(profiles, null, 2)}\n`);
      else ctx.stdout.write(renderTable(['PROFILE', 'SOURCE'], profiles.map((p) => [p.name, p.source]), ctx.color));
      return 0;
    }
    case 'show':
    case 'check': {
      if (!target) throw usageError(`Missing the profile to ${action}. Usage: mcp-lok profile ${action} ${action === 'show' ? 'NAME|FILE' : 'FILE'}`);
      const loaded = action === 'check' ? loadProfileFile(target) : loadProfile(target, { configDir: ctx.paths.config, cwd: ctx.cwd });
      // The same checks, in the same words, as every start: denylist, symlinks, existence,
      // writability, sockets, .git.
      const grants = action === 'check' ? resolveGrantMounts(loaded.profile, buildGrantContext({ env: ctx.env, paths: ctx.paths, platform: ctx.platform })) : undefined;
      if (json) {
        ctx.stdout.write(`${JSON.stringify({ name: loaded.name, source: loaded.source, valid: true, profile: loaded.profile, allows: describeProfile(loaded.profile), ...(grants ? { notes: grants.notes } : {}) }, null, 2)}\n`);
      } else {
        for (const note of grants?.notes ?? []) ctx.stderr.write(`mcp-lok: profile ${loaded.name}: ${note}\n`);
        if (action === 'check') ctx.stderr.write(`${target} is a valid profile.\n`);
        ctx.stdout.write(`${describeProfile(loaded.profile).join('\n')}\n`);
      }
      return 0;
    }
    default:
      throw usageError(`Unknown profile action "${action}": expected list, show or check.`, 'Run `mcp-lok profile --help`.');
  }
}
