import { escapeControlInJson, escapeControlLine } from '../../control-chars.js';
import { usageError } from '../../errors.js';
import type { Context } from '../../app/context.js';
import { listPinUpdates, rollbackPin, updatePin, type DescribeCandidate, type PinState, type UpdateReview } from '../../app/update.js';
import type { ParsedCommand } from '../commands.js';
import { answerOf, confirm, isTerminal } from '../confirm.js';
import { renderTable } from '../output.js';

const shown = (packages: ReadonlyArray<{ name: string; version: string }>): string => packages.map((p) => `${p.name}@${p.version}`).join(' ');
const json = (value: unknown): string => `${escapeControlInJson(JSON.stringify(value, null, 2))}\n`;
const lines = (list: readonly string[]): string => list.map((l) => `${escapeControlLine(l)}\n`).join('');

/** Returns the table `mcp-lok update` with no argument prints: each pin, and the newer version its registry has. */
export function renderPinStates(states: readonly PinState[], color: boolean): string {
  const rows = states.map((s) => [
    s.specs.join(' '),
    s.pinned.map((p) => p.version).join(' '),
    s.newer === undefined ? `could not ask the registry: ${s.error ?? ''}` : s.newer.length === 0 ? 'up to date' : `${s.newer.map((n) => n.version).join(' ')} available`,
  ].map(escapeControlLine));
  return renderTable(['PACKAGE', 'PINNED', 'REGISTRY NOW'], rows, color);
}

function renderReview(review: UpdateReview): string {
  return lines([...review.lines, ...review.more]);
}


/**
 * `mcp-lok update [NAME|PACKAGE] [--yes] [--rollback] [--json]`. The tool manifest diff joins
 * the review through `describe` (app/update.ts's DescribeCandidate), shown before the question.
 */
export async function runUpdate(ctx: Context, args: ParsedCommand, describe?: DescribeCandidate): Promise<number> {
  const [target] = args.positionals;
  const asJson = args.values.json === true;
  if (args.values.rollback === true) {
    if (target === undefined) throw usageError('`--rollback` needs the server NAME or PACKAGE to roll back.', 'Run `mcp-lok update` to list the pins.');
    if (args.values.yes === true) throw usageError('`--rollback` takes no `--yes`: it goes back to a tree you pinned before.');
    const outcome = await rollbackPin(ctx, target);
    if (outcome.status !== 'rolled-back') return 1;
    if (asJson) ctx.stdout.write(json(outcome));
    else ctx.stdout.write(lines([`Rolled back ${outcome.specs.join(' ')}: ${shown(outcome.from)} -> ${shown(outcome.to)}; the next start runs it (servers running now keep theirs until they start again).`]));
    return 0;
  }
  if (target === undefined) {
    if (args.values.yes === true) throw usageError('`--yes` needs the server NAME or PACKAGE to update.', 'Run `mcp-lok update` to list the pins, then `mcp-lok update PACKAGE --yes`.');
    const states = await listPinUpdates(ctx);
    if (asJson) { ctx.stdout.write(json({ pins: states })); return 0; }
    if (states.length === 0) { ctx.stdout.write('Nothing is pinned yet: a package is pinned on its first start.\n'); return 0; }
    ctx.stdout.write(renderPinStates(states, ctx.color));
    const newer = states.filter((s) => (s.newer?.length ?? 0) > 0);
    ctx.stdout.write(newer.length === 0
      ? '\nNothing to update: each pin is the newest version its spec matches.\n'
      : `\nReview one with: mcp-lok update ${newer[0]?.newer?.[0]?.name ?? 'PACKAGE'} (it shows what changes and asks before anything does).\n`);
    return 0;
  }
  const answer = answerOf({ yes: args.values.yes === true, json: asJson, terminal: isTerminal(ctx) });
  const outcome = await updatePin(ctx, { target, describe }, async (review) => {
    if (!asJson) ctx.stdout.write(renderReview(review));
    if (answer === 'yes') return true;
    if (answer !== 'ask') return false;
    return confirm(ctx, `Pin ${shown(review.to)} (scripts stay off)? [y/N] `);
  });
  if (asJson) ctx.stdout.write(json(outcome));
  switch (outcome.status) {
    case 'up-to-date':
      if (!asJson) ctx.stdout.write(lines([`Nothing to update: ${outcome.specs.join(' ')} resolves to the pinned ${shown(outcome.pinned)}.`]));
      return 0;
    case 'declined':
      ctx.stderr.write(answer === 'no-terminal'
        ? `mcp-lok: nothing changed: pass --yes to pin ${shown(outcome.review.to)} (no terminal to ask).\n`
        : answer === 'json'
          ? `mcp-lok: nothing changed: pass --yes to pin ${shown(outcome.review.to)} (--json prints the review and asks nothing).\n`
          : 'mcp-lok: nothing changed.\n');
      return 1;
    case 'applied':
      if (!asJson) {
        ctx.stdout.write(lines([
          `Pinned ${shown(outcome.review.to)}: the next start runs it (servers running now keep ${shown(outcome.review.from)} until they start again).`,
          `Undo with: mcp-lok update --rollback ${target}`,
        ]));
      }
      return 0;
    default:
      return 1;
  }
}
