import { usageError } from '../../errors.js';
import { describeProfileFor, listAllProfiles } from '../../app/profiles.js';
import type { ParsedCommand } from '../commands.js';
import type { Context } from '../../app/context.js';
import { renderTable } from '../output.js';

/** `mcp-lok profile list | show NAME | check FILE`. */
export async function runProfile(ctx: Context, args: ParsedCommand): Promise<number> {
  const [action = 'list', target] = args.positionals;
  const json = Boolean(args.values.json);
  switch (action) {
    case 'list': {
      const profiles = listAllProfiles(ctx);
      if (json) ctx.stdout.write(`${JSON.stringify(profiles, null, 2)}\n`);
      else ctx.stdout.write(renderTable(['PROFILE', 'SOURCE'], profiles.map((p) => [p.name, p.source]), ctx.color));
      return 0;
    }
    case 'show':
    case 'check': {
      if (!target) throw usageError(`Missing the profile to ${action}. Usage: mcp-lok profile ${action} ${action === 'show' ? 'NAME|FILE' : 'FILE'}`);
      const report = describeProfileFor(ctx, target, action);
      if (json) {
        ctx.stdout.write(`${JSON.stringify({ name: report.name, source: report.source, valid: true, profile: report.profile, allows: report.allows, ...(report.notes ? { notes: report.notes } : {}) }, null, 2)}\n`);
      } else {
        for (const note of report.notes ?? []) ctx.stderr.write(`mcp-lok: profile ${report.name}: ${note}\n`);
        if (action === 'check') ctx.stderr.write(`${target} is a valid profile.\n`);
        ctx.stdout.write(`${report.allows.join('\n')}\n`);
      }
      return 0;
    }
    default:
      throw usageError(`Unknown profile action "${action}": expected list, show or check.`, 'Run `mcp-lok profile --help`.');
  }
}
