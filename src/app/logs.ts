import { readFileSync } from 'node:fs';
import { EXIT, LokError } from '../errors.js';
import { readEgressLog } from '../egress/wiring.js';
import { textLines } from '../lines.js';
import type { EgressEntry } from '../egress/proxy.js';
import { logFiles } from '../state/log-rotation.js';
import { isSupervised, readRecord, serverLogPath } from '../state/records.js';
import type { Context } from './context.js';
import { checkServerName, findServer } from './servers.js';

/** Where a background server's log is, and whether its supervisor still writes to it. */
export interface ServerLog {
  path: string;
  stillRunning: () => boolean;
}

/**
 * Returns the log of a background server. Other servers keep none: a stdio server's output
 * went to its client, which the error says (and where to look instead); an unknown name is NOT_FOUND.
 */
export async function openServerLog(ctx: Context, name: string): Promise<ServerLog> {
  checkServerName(name);
  const state = ctx.paths.state;
  const record = readRecord(state, name);
  if (record) return { path: serverLogPath(state, name), stillRunning: () => isSupervised(readRecord(state, name) ?? record) };
  if (await findServer(await ctx.engine(), name)) {
    throw new LokError('NOT_FOUND', `"${name}" talks to its client over stdio: its output went to that client, and no copy is kept.`, {
      exitCode: EXIT.failure, hint: `\`mcp-lok logs ${name} --egress\` shows its outbound log; servers from \`mcp-lok start\` keep a log.`,
    });
  }
  throw new LokError('NOT_FOUND', `No mcp-lok server is named "${name}".`, { exitCode: EXIT.failure, hint: 'Run `mcp-lok list --all` to see them.' });
}

/** Returns the last `count` lines of a background server's log (rotated file first). */
export async function readServerLogTail(ctx: Context, name: string, count: number): Promise<string[]> {
  const log = await openServerLog(ctx, name);
  let text = '';
  try { text = logFiles(log.path).map((file) => readFileSync(file, 'utf8')).join(''); } catch { /* no output yet */ }
  const lines = textLines(text);
  return count > 0 ? lines.slice(-count) : [];
}

/** Returns every outbound attempt a server's egress proxy logged, allowed or denied, oldest first. */
export function readEgressEntries(ctx: Context, name: string): EgressEntry[] {
  checkServerName(name);
  return readEgressLog(ctx.paths.state, name);
}
