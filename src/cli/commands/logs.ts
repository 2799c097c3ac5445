import { readFileSync } from 'node:fs';
import { LokError, EXIT, usageError } from '../../errors.js';
import { egressLogPath } from '../../services/egress.js';
import type { ParsedCommand } from '../commands.js';
import type { ManagerContext } from '../manager-context.js';
import { renderTable } from '../output.js';

interface Entry { time: string; host: string; port: number; address: string | null; allowed: boolean; reason?: string; failed?: string; bytesOut: number; bytesIn: number }

/** `mcp-lok logs NAME --egress`: every outbound attempt of a server, allowed or denied. */
export async function runLogs(ctx: ManagerContext, args: ParsedCommand): Promise<number> {
  const [name = ''] = args.positionals;
  if (!args.values.egress) {
    throw usageError('Only `mcp-lok logs NAME --egress` is available in this version: mcp-lok-npx and `run` servers send their output to their client, and the engine keeps no copy.', 'Add --egress for the outbound log.');
  }
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/.test(name)) throw usageError(`Expected a server name, got "${name}".`);
  let text: string;
  try {
    text = readFileSync(egressLogPath(ctx.paths.state, name), 'utf8');
  } catch {
    throw new LokError('NOT_FOUND', `No egress log for "${name}": it never had an outbound allowlist, or made no attempt.`, { exitCode: EXIT.failure });
  }
  const entries = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Entry);
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
