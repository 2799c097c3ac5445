import { usageError } from '../../errors.js';
import { removeServer, stopServer } from '../../services/servers.js';
import type { ParsedCommand } from '../commands.js';
import type { ManagerContext } from '../manager-context.js';

const DEFAULT_STOP_SECONDS = 3;

function readSeconds(raw: string | boolean | undefined): number {
  if (raw === undefined) return DEFAULT_STOP_SECONDS;
  const value = Number(raw);
  if (typeof raw !== 'string' || !/^\d{1,4}$/.test(raw) || value > 3600) {
    throw usageError(`Expected \`--time\` to be whole seconds from 0 to 3600, got \`${String(raw)}\`.`);
  }
  return value;
}

/** `mcp-lok stop NAME`. */
export async function runStop(ctx: ManagerContext, args: ParsedCommand): Promise<number> {
  const [name = ''] = args.positionals;
  const seconds = readSeconds(args.values.time);
  const wasRunning = await stopServer(await ctx.engine(), ctx.paths.state, name, seconds);
  ctx.stderr.write(wasRunning ? `Stopped ${name}.\n` : `${name} was not running.\n`);
  return 0;
}

/** `mcp-lok rm [-f] NAME`. */
export async function runRm(ctx: ManagerContext, args: ParsedCommand): Promise<number> {
  const [name = ''] = args.positionals;
  await removeServer(await ctx.engine(), ctx.paths.state, name, Boolean(args.values.force));
  ctx.stderr.write(`Removed ${name}.\n`);
  return 0;
}
