import { usageError } from '../../errors.js';
import { readEgressLog } from '../../services/egress.js';
import type { ParsedCommand } from '../commands.js';
import type { ManagerContext } from '../manager-context.js';
import { renderTable } from '../output.js';

/** `mcp-lok logs NAME --egress`: every outbound attempt of a server, allowed or denied. */
export async function runLogs(ctx: ManagerContext, args: ParsedCommand): Promise<number> {
  const [name = ''] = args.positionals;
  if (!args.values.egress) {
    throw usageError('Only `mcp-lok logs NAME --egress` is available in this version: mcp-lok-npx and `run` servers send their output to their client, and the engine keeps no copy.', 'Add --egress for the outbound log.');
  }
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/.test(name)) throw usageError(`Expected a server name, got "${name}".`);
  const entries = readEgressLog(ctx.paths.state, name);
  if (args.values.json) {
    for (const e of entries) ctx.stdout.write(`${JSON.stringify(e)}\n`);
    return 0;
  }
  ctx.stdout.write(renderTable(
    ['TIME', 'HOST', 'PORT', 'ADDRESS', 'VERDICT', 'OUT', 'IN'],
    entries.map((e) => [e.time, e.host, String(e.port), e.address ?? '-', e.allowed ? (e.failed ? `allowed, failed: ${e.failed}` : 'allowed') : `denied: ${e.reason ?? ''}`, String(e.bytesOut), String(e.bytesIn)]),
    ctx.color,
  ));
  return 0;
}
