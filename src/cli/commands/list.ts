import { listServers } from '../../app/servers.js';
import type { ParsedCommand } from '../commands.js';
import type { Context } from '../../app/context.js';
import { formatAge, renderTable } from '../output.js';

/** `mcp-lok list`: a table, or JSON with --json. */
export async function runList(ctx: Context, args: ParsedCommand): Promise<number> {
  const servers = await listServers(ctx, { all: Boolean(args.values.all) });
  if (args.values.json) {
    ctx.stdout.write(`${JSON.stringify(servers, null, 2)}\n`);
    return 0;
  }
  if (servers.length === 0) {
    ctx.stderr.write(args.values.all ? 'No mcp-lok servers.\n' : 'No mcp-lok servers are running (`mcp-lok list --all` shows stopped ones).\n');
    return 0;
  }
  const rows = servers.map((s) => [
    s.name, s.hint ? `${s.status}; start: ${s.hint}` : s.launcher === 'start' ? s.status : s.state, s.launcher, s.transport, s.url ?? '-', s.profile, s.package ?? s.image, s.state === 'stopped' ? '-' : formatAge(s.createdAt, ctx.now()),
    s.allows.length > 0 ? s.allows.join('; ') : 'nothing beyond the sandbox',
  ]);
  ctx.stdout.write(renderTable(['NAME', 'STATE', 'STARTED BY', 'TRANSPORT', 'URL', 'PROFILE', 'PACKAGE / IMAGE', 'UP', 'ALLOWS'], rows, ctx.color));
  return 0;
}
