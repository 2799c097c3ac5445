import { createInterface } from 'node:readline';
import type { Context } from '../app/context.js';

/** Asks a yes/no question on stderr and reads the answer from stdin (no means no). */
export async function confirm(ctx: Context, question: string): Promise<boolean> {
  const rl = createInterface({ input: ctx.stdin, terminal: false });
  const answer = new Promise<string>((done) => { rl.once('line', done); rl.once('close', () => done('')); });
  ctx.stderr.write(question);
  const line = await answer;
  rl.close();
  return /^y(es)?$/i.test(line.trim());
}

/** Returns true when a person can be asked: stdin and stderr are terminals. */
export function isTerminal(ctx: Context): boolean {
  return Boolean((ctx.stdin as { isTTY?: boolean }).isTTY) && Boolean((ctx.stderr as { isTTY?: boolean }).isTTY);
}

/**
 * Returns how a command that asks before it changes something (`update`, `approve`) gets its
 * answer: `--yes`; a question on the terminal after what it shows; or none, declined: without
 * a terminal, and with `--json`, which prints what changes only after the answer (a question
 * then would ask the user to accept what they have not seen).
 */
export function answerOf(input: { yes: boolean; json: boolean; terminal: boolean }): 'yes' | 'ask' | 'no-terminal' | 'json' {
  if (input.yes) return 'yes';
  if (input.json) return 'json';
  return input.terminal ? 'ask' : 'no-terminal';
}
