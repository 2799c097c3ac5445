import type { ParsedCommand } from '../commands.js';
import type { Context } from '../../app/context.js';
import { readVersion } from '../../version.js';

/** `mcp-lok version [--json]`. */
export async function runVersion(ctx: Context, args: ParsedCommand): Promise<number> {
  ctx.stdout.write(args.values.json ? `${JSON.stringify({ version: readVersion(), node: process.version })}\n` : `mcp-lok ${readVersion()}\n`);
  return 0;
}
