import { listServers, type ServerInfo, type ToolsInfo } from '../../app/servers.js';
import type { ParsedCommand } from '../commands.js';
import type { Context } from '../../app/context.js';
import { formatAge, renderTable } from '../output.js';

const HEADER = ['NAME', 'STATE', 'STARTED BY', 'TRANSPORT', 'URL', 'PROFILE', 'PACKAGE / IMAGE', 'PINNED', 'TOOLS', 'UP', 'ALLOWS'];
/** The columns `--wide` adds: who started it and the profile's name (ALLOWS says what the profile grants). */
const WIDE_ONLY = new Set(['STARTED BY', 'PROFILE']);

/** Returns the TOOLS cell: the manifest's state, with how many changes are pending; `-` when its tools are not checked. */
export function formatToolsCell(tools: ToolsInfo | null): string {
  if (!tools) return '-';
  const pending = tools.added + tools.changed + tools.removed;
  return tools.state === 'changed' || tools.state === 'awaiting approval' ? `${tools.state} (${pending})` : tools.state;
}

/**
 * Returns the lines under the table for servers whose tools changed, one per pin (servers of one
 * pin named together): what is pending, how to see the diff, and the command that approves it.
 */
export function pendingToolsNotes(servers: readonly ServerInfo[]): string[] {
  const byPin = new Map<string, { tools: ToolsInfo; names: string[] }>();
  for (const s of servers) {
    if (!s.tools?.approve) continue;
    const entry = byPin.get(s.tools.identity) ?? { tools: s.tools, names: [] };
    entry.names.push(s.name);
    byPin.set(s.tools.identity, entry);
  }
  return [...byPin.values()].map(({ tools, names }) => {
    const pending = tools.added + tools.changed + tools.removed;
    const how = tools.state === 'awaiting approval' ? 'hidden from clients until you approve' : 'passed on to clients (observe)';
    const query = (tools.approve ?? '').slice('mcp-lok approve '.length);
    return `mcp-lok: ${names.join(', ')}: ${pending} tool change${pending === 1 ? '' : 's'} since the tools were pinned, ${how}; \`mcp-lok logs ${query} --tools\` shows ${pending === 1 ? 'it' : 'them'}, \`${tools.approve ?? ''}\` accepts ${pending === 1 ? 'it' : 'them'}.`;
  });
}

/** Returns the table's rows. */
export function formatListRows(servers: readonly ServerInfo[], now: number): string[][] {
  return servers.map((s) => [
    s.name, s.hint ? `${s.status}; start: ${s.hint}` : s.launcher === 'start' ? s.status : s.state, s.launcher, s.transport, s.url ?? '-', s.profile, s.package ?? s.image,
    s.pinned ?? '-', formatToolsCell(s.tools), s.state === 'stopped' ? '-' : formatAge(s.createdAt, now),
    s.allows.length > 0 ? s.allows.join('; ') : 'nothing',
  ]);
}

/** Returns the header and rows to print: all columns with `wide`, else the table without the wide-only ones. */
export function chooseColumns(rows: string[][], wide: boolean): { header: string[]; rows: string[][] } {
  if (wide) return { header: HEADER, rows };
  const keep = HEADER.map((h, i) => (WIDE_ONLY.has(h) ? -1 : i)).filter((i) => i >= 0);
  return { header: keep.map((i) => HEADER[i] ?? ''), rows: rows.map((row) => keep.map((i) => row[i] ?? '')) };
}

/** `mcp-lok list`: a table (all columns with --wide; and, on stderr, how to review servers whose tools changed), or JSON with --json. */
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
  const table = chooseColumns(formatListRows(servers, ctx.now()), Boolean(args.values.wide));
  ctx.stdout.write(renderTable(table.header, table.rows, ctx.color));
  for (const note of pendingToolsNotes(servers)) ctx.stderr.write(`${note}\n`);
  return 0;
}
