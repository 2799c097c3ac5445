// Starts one server the way an MCP client does (the official SDK's stdio transport, whose child
// environment is the SDK's default allowlist plus the config's `env`) and lists its tools.
import { createHash } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Probe } from './catalog.js';
import type { ColumnResult } from './outcome.js';

const STDERR_HEAD_CHARS = 4000;
const STDERR_TAIL_CHARS = 12_000;
const HEAD_LINES = 15;
const TAIL_LINES = 40;

export interface StartParams {
  command: string;
  args: string[];
  /** The config's `env` (the SDK adds its default allowlist). */
  env: Record<string, string>;
  cwd: string;
  timeoutMs: number;
  probe?: Probe;
  /** Called with the child's pid once it runs (to find what it left behind). */
  onPid?: (pid: number) => void;
}

/** Children running now (servers, installs): the suite ends them when it is interrupted. */
export const LIVE_CHILDREN = new Set<number>();

class TimeoutError extends Error {}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new TimeoutError(`no answer to ${what} within ${Math.round(ms / 1000)} s`)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Returns the first and last lines of a stderr capture (a usage text can bury its first line, the reason). */
function headAndTail(head: string, rest: string): string {
  const lines = (head + rest).split('\n').filter((l) => l.trim() !== '');
  if (lines.length <= HEAD_LINES + TAIL_LINES) return lines.join('\n');
  return [...lines.slice(0, HEAD_LINES), '…', ...lines.slice(-TAIL_LINES)].join('\n');
}

/** Connects, lists the tools (and calls the probe), closes; never throws: a failure is a result. */
export async function listToolsOf(params: StartParams): Promise<ColumnResult> {
  const started = performance.now();
  const transport = new StdioClientTransport({ command: params.command, args: params.args, env: params.env, cwd: params.cwd, stderr: 'pipe' });
  let head = '';
  let rest = '';
  transport.stderr?.on('data', (c: Buffer) => {
    const text = c.toString();
    const room = STDERR_HEAD_CHARS - head.length;
    head += text.slice(0, Math.max(0, room));
    if (text.length > room) rest = (rest + text.slice(Math.max(0, room))).slice(-STDERR_TAIL_CHARS);
  });
  const client = new Client({ name: 'mcp-lok-compat', version: '1.0.0' });
  const start = transport.start.bind(transport);
  let pid: number | undefined;
  transport.start = async () => {
    await start();
    pid = transport.pid ?? undefined;
    if (pid) { LIVE_CHILDREN.add(pid); params.onPid?.(pid); }
  };
  const deadline = Date.now() + params.timeoutMs;
  const left = (): number => Math.max(1000, deadline - Date.now());
  try {
    await withTimeout(client.connect(transport, { timeout: params.timeoutMs }), left(), 'initialize');
    const listed = await withTimeout(client.listTools(undefined, { timeout: left() }), left(), 'tools/list');
    const tools = [...listed.tools].sort((a, b) => a.name.localeCompare(b.name));
    const result: ColumnResult = {
      ran: true,
      ok: true,
      tools: tools.map((t) => t.name),
      digest: createHash('sha256').update(JSON.stringify(tools)).digest('hex').slice(0, 16),
      ms: Math.round(performance.now() - started),
    };
    if (params.probe) {
      try {
        const called = await withTimeout(client.callTool({ name: params.probe.tool, arguments: params.probe.arguments }, undefined, { timeout: left() }), left(), `tools/call ${params.probe.tool}`) as { isError?: boolean; content?: Array<{ type: string; text?: string }> };
        const text = (called.content ?? []).map((c) => c.text ?? `[${c.type}]`).join(' ').replace(/\s+/g, ' ').slice(0, 200);
        result.probe = { ok: called.isError !== true, text };
      } catch (error) {
        result.probe = { ok: false, text: (error as Error).message.slice(0, 200) };
      }
    }
    result.stderrLines = headAndTail(head, rest);
    return result;
  } catch (error) {
    const timedOut = error instanceof TimeoutError;
    const message = (error as Error).message.split('\n')[0] ?? 'failed';
    return { ran: true, ok: false, tools: [], error: message, timedOut, stderrLines: headAndTail(head, rest), ms: Math.round(performance.now() - started) };
  } finally {
    // Ends stdin, then SIGTERM, then SIGKILL (the SDK's ladder); never hangs the suite.
    await client.close().catch(() => undefined);
    await transport.close().catch(() => undefined);
    if (pid) LIVE_CHILDREN.delete(pid);
  }
}
