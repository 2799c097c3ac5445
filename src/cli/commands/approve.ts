import { escapeControl, escapeControlInJson } from '../../control-chars.js';
import { EXIT } from '../../errors.js';
import { approveTools } from '../../app/tool-pins.js';
import { describeToolDiff } from '../../tools-pin/manifest.js';
import type { ParsedCommand } from '../commands.js';
import type { Context } from '../../app/context.js';

/**
 * `mcp-lok approve X`: prints what changed in a server's tools since they were pinned, and pins
 * them as they are now. Nothing pending says so and changes nothing.
 */
export async function runApprove(ctx: Context, args: ParsedCommand): Promise<number> {
  const [query = ''] = args.positionals;
  const result = await approveTools(ctx, query);
  if (args.values.json) {
    ctx.stdout.write(`${escapeControlInJson(JSON.stringify(result, null, 2))}\n`);
    return EXIT.ok;
  }
  const count = result.tools.length;
  const pinned = `${count} tool${count === 1 ? '' : 's'} pinned`;
  if (!result.approved) {
    ctx.stdout.write(`Nothing to approve: the tools of ${escapeControl(result.identity)} are as pinned on ${result.pinnedAt.slice(0, 10)} (${pinned}).\n`);
    return EXIT.ok;
  }
  const lines = result.changes.flatMap((d) => describeToolDiff(d));
  ctx.stdout.write(`${lines.map(escapeControl).join('\n')}\n`);
  const n = result.changes.length;
  ctx.stdout.write(`Approved ${n} change${n === 1 ? '' : 's'} to the tools of ${escapeControl(result.identity)}: ${pinned}; clients see them from their next tools/list.\n`);
  return EXIT.ok;
}
