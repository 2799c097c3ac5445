import kleur from 'kleur';
import { escapeControlInJson, escapeControlLine } from '../../control-chars.js';
import type { Context } from '../../app/context.js';
import { runChecks, type Check } from '../../app/doctor.js';
import type { ParsedCommand } from '../commands.js';

const MARKS: Readonly<Record<Check['status'], string>> = { ok: 'ok', warn: 'warning', fail: 'PROBLEM', skip: 'skipped' };

/** Returns the checks as one screen: a line each, and the fix under each problem or warning. */
export function renderChecks(checks: readonly Check[], color: boolean): string {
  kleur.enabled = color;
  const paint: Readonly<Record<Check['status'], (s: string) => string>> = { ok: kleur.green, warn: kleur.yellow, fail: kleur.red, skip: kleur.dim };
  const width = Math.max(...checks.map((c) => c.title.length));
  // Summaries quote configs' errors and what the engine says: each stays one line, with no escape for the terminal.
  const lines = checks.flatMap((c) => [
    `${paint[c.status](MARKS[c.status].padEnd(7))}  ${c.title.padEnd(width)}  ${escapeControlLine(c.summary)}`,
    ...(c.fix && c.status !== 'ok' ? [`${''.padEnd(7)}  ${''.padEnd(width)}  fix: ${escapeControlLine(c.fix)}`] : []),
  ]);
  const problems = checks.filter((c) => c.status === 'fail').length;
  const warnings = checks.filter((c) => c.status === 'warn').length;
  const verdict = problems > 0
    ? `${problems} problem${problems === 1 ? '' : 's'}: servers will not run until ${problems === 1 ? 'it is' : 'they are'} fixed.`
    : `mcp-lok can run servers here${warnings > 0 ? ` (${warnings} warning${warnings === 1 ? '' : 's'})` : ''}.`;
  return `${lines.join('\n')}\n\n${verdict}\n`;
}

/** `mcp-lok doctor`: exits 1 when any check found a problem. */
export async function runDoctor(ctx: Context, args: ParsedCommand): Promise<number> {
  const checks = await runChecks(ctx);
  const ok = checks.every((c) => c.status !== 'fail');
  if (args.values.json === true) ctx.stdout.write(`${escapeControlInJson(JSON.stringify({ ok, checks }, null, 2))}\n`);
  else ctx.stdout.write(renderChecks(checks, ctx.color));
  return ok ? 0 : 1;
}
