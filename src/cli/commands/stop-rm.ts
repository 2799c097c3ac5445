import { EXIT, usageError } from '../../errors.js';
import { removeServer, stopServer } from '../../app/servers.js';
import type { ParsedCommand } from '../commands.js';
import { formatError } from '../../format-error.js';
import { STOP_GRACE_S } from '../../sandbox/hardening.js';
import type { Context } from '../../app/context.js';

function readSeconds(raw: string | boolean | undefined): number {
  if (raw === undefined) return STOP_GRACE_S;
  const value = Number(raw);
  if (typeof raw !== 'string' || !/^\d{1,4}$/.test(raw) || value > 3600) {
    throw usageError(`Expected \`--time\` to be whole seconds from 0 to 3600, got \`${String(raw)}\`.`);
  }
  return value;
}

/** Runs `action` for each name, like docker: one line per failure, the others still done, exit 1 if any failed. */
async function forEachName(ctx: Context, names: string[], action: (name: string) => Promise<string>): Promise<number> {
  let code: number = EXIT.ok;
  for (const name of names) {
    try {
      ctx.stderr.write(`${await action(name)}\n`);
    } catch (error) {
      const { text, exitCode } = formatError(error, 'mcp-lok', false);
      if (names.length === 1) throw error;
      ctx.stderr.write(`${text}\n`);
      code = Math.max(code, exitCode === EXIT.usage ? EXIT.failure : exitCode);
    }
  }
  return code;
}

/** `mcp-lok stop NAME...`. */
export async function runStop(ctx: Context, args: ParsedCommand): Promise<number> {
  const seconds = readSeconds(args.values.time);
  return forEachName(ctx, args.positionals, async (name) => (await stopServer(ctx, name, seconds) ? `Stopped ${name}.` : `${name} was not running.`));
}

/** `mcp-lok rm [-f] [--home] NAME...`. */
export async function runRm(ctx: Context, args: ParsedCommand): Promise<number> {
  return forEachName(ctx, args.positionals, async (name) => {
    const { server, homes } = await removeServer(ctx, name, Boolean(args.values.force), { home: Boolean(args.values.home) });
    const volumes = `home volume${homes.length === 1 ? '' : 's'} ${homes.join(', ')}`;
    if (!server) return `Removed the ${volumes} of ${name}.`;
    return homes.length > 0 ? `Removed ${name} and its ${volumes}.` : `Removed ${name}.`;
  });
}
