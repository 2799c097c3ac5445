import { escapeControl, escapeControlInJson } from '../../control-chars.js';
import { EXIT } from '../../errors.js';
import { approveTools } from '../../app/tool-pins.js';
import { describeToolDiff } from '../../tools-pin/manifest.js';
import type { ParsedCommand } from '../commands.js';
import type { Context } from '../../app/context.js';
import { answerOf, confirm, isTerminal } from '../confirm.js';

/**
 * `mcp-lok approve X [--yes] [--json]`: prints what changed in a server's tools since they were
 * pinned and, on a yes (a y/N question on a terminal, else `--yes`), pins exactly what it
 * printed: if the server changed its tools again meanwhile, nothing is approved. Nothing
 * pending says so and changes nothing.
 */
export async function runApprove(ctx: Context, args: ParsedCommand): Promise<number> {
  const [query = ''] = args.positionals;
  const asJson = args.values.json === true;
  const answer = answerOf({ yes: args.values.yes === true, json: asJson, terminal: isTerminal(ctx) });
  const result = await approveTools(ctx, query, async (changes, record) => {
    if (!asJson) {
      const n = changes.length;
      ctx.stdout.write(`${n} change${n === 1 ? '' : 's'} to the tools of ${escapeControl(record.identity)} since they were pinned on ${record.pinnedAt.slice(0, 10)}:\n`);
      ctx.stdout.write(`${changes.flatMap((d) => describeToolDiff(d)).map(escapeControl).join('\n')}\n`);
    }
    if (answer === 'yes') return true;
    if (answer !== 'ask') return false;
    return confirm(ctx, `Approve ${changes.length === 1 ? 'this change' : 'these changes'} (clients see them from their next tools/list)? [y/N] `);
  });
  if (asJson) ctx.stdout.write(`${escapeControlInJson(JSON.stringify(result, null, 2))}\n`);
  const count = result.tools.length;
  const pinned = `${count} tool${count === 1 ? '' : 's'} pinned`;
  if (result.declined) {
    ctx.stderr.write(answer === 'no-terminal'
      ? `mcp-lok: nothing approved: pass --yes to approve the changes shown (no terminal to ask).\n`
      : answer === 'json'
        ? 'mcp-lok: nothing approved: pass --yes to approve the changes shown (--json prints them and asks nothing).\n'
        : 'mcp-lok: nothing approved.\n');
    return EXIT.failure;
  }
  if (asJson) return EXIT.ok;
  if (!result.approved) {
    ctx.stdout.write(`Nothing to approve: the tools of ${escapeControl(result.identity)} are as pinned on ${result.pinnedAt.slice(0, 10)} (${pinned}).\n`);
    return EXIT.ok;
  }
  const n = result.changes.length;
  ctx.stdout.write(`Approved ${n} change${n === 1 ? '' : 's'} to the tools of ${escapeControl(result.identity)}: ${pinned}; clients see them from their next tools/list.\n`);
  return EXIT.ok;
}
