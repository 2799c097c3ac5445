// Asks a server in a sandbox for its tools, as a client would: `mcp-lok update` shows how a
// candidate version's tools differ from the pinned ones before anything changes.
import { PassThrough } from 'node:stream';
import type { Context } from './context.js';
import { LokError, EXIT } from '../errors.js';
import { splitLines } from '../lines.js';
import { launchSandbox, type ServerPlan } from './run-server.js';

/** The protocol revision the probe asks for; servers answer with one they speak. */
const PROBE_PROTOCOL = '2025-06-18';
/** A server that lists more pages than this is taken to loop. */
const MAX_PAGES = 100;
/** How long a server may take to list its tools (its first start can be slow). */
const PROBE_TIMEOUT_MS = 120_000;

export type ProbeStep = { send: string[]; done: false } | { send: string[]; done: true; tools: unknown[] } | { send: string[]; done: true; error: string };

/**
 * The probe's side of an MCP conversation, pure: `start` gives the first lines to send; each
 * line from the server gives the next ones, until the tools are listed (every page) or the
 * server fails. Requests from the server get a ping's empty result or "method not found".
 */
export class ToolsConversation {
  private readonly tools: unknown[] = [];
  private pages = 0;
  private nextId = 1;
  private waitingFor = 0;

  start(): string[] {
    this.waitingFor = this.nextId++;
    return [JSON.stringify({
      jsonrpc: '2.0', id: this.waitingFor, method: 'initialize',
      params: { protocolVersion: PROBE_PROTOCOL, capabilities: {}, clientInfo: { name: 'mcp-lok-probe', version: '1' } },
    })];
  }

  onLine(line: string): ProbeStep {
    let message: { id?: unknown; method?: unknown; result?: { tools?: unknown; nextCursor?: unknown }; error?: { message?: unknown } };
    try { message = JSON.parse(line) as typeof message; } catch { return { send: [], done: false }; }
    if (typeof message !== 'object' || message === null) return { send: [], done: false };
    if (typeof message.method === 'string') {
      if (message.id === undefined) return { send: [], done: false };
      const reply = message.method === 'ping'
        ? { jsonrpc: '2.0', id: message.id, result: {} }
        : { jsonrpc: '2.0', id: message.id, error: { code: -32601, message: 'mcp-lok is only listing tools' } };
      return { send: [JSON.stringify(reply)], done: false };
    }
    if (message.id !== this.waitingFor) return { send: [], done: false };
    if (message.error) return { send: [], done: true, error: String(message.error.message ?? 'an error') };
    if (this.pages === 0 && this.tools.length === 0 && this.waitingFor === 1) {
      return { send: [JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), this.listRequest(undefined)], done: false };
    }
    const tools = message.result?.tools;
    if (!Array.isArray(tools)) return { send: [], done: true, error: 'a tools/list result without tools' };
    this.tools.push(...(tools as unknown[]));
    this.pages += 1;
    const cursor = message.result?.nextCursor;
    if (typeof cursor === 'string' && cursor !== '' && this.pages < MAX_PAGES) return { send: [this.listRequest(cursor)], done: false };
    return { send: [], done: true, tools: this.tools };
  }

  private listRequest(cursor: string | undefined): string {
    this.waitingFor = this.nextId++;
    return JSON.stringify({ jsonrpc: '2.0', id: this.waitingFor, method: 'tools/list', ...(cursor === undefined ? {} : { params: { cursor } }) });
  }
}

/** Starts the planned server in a sandbox, lists its tools, stops it, and returns them. */
export async function probeTools(ctx: Context, plan: ServerPlan): Promise<unknown[]> {
  const stdin = new PassThrough();
  const conversation = new ToolsConversation();
  const stop = new AbortController();
  const hang = setTimeout(() => stop.abort(), PROBE_TIMEOUT_MS);
  let outcome: Extract<ProbeStep, { done: true }> | undefined;
  let lastErr = '';
  const send = (lines: string[]): void => { for (const line of lines) stdin.write(`${line}\n`); };
  const onLine = splitLines((line) => {
    if (outcome) return;
    const step = conversation.onLine(line);
    send(step.send);
    if (step.done) { outcome = step; stdin.end(); }
  });
  send(conversation.start());
  try {
    const code = await launchSandbox(ctx, plan, {
      containerName: plan.name, role: 'run', transport: 'stdio', handleSignals: true, signal: stop.signal,
      io: {
        stdin,
        onStdout: onLine,
        onStderr: (chunk) => { const text = chunk.toString('utf8').trim(); if (text) lastErr = text.split('\n').at(-1) ?? ''; ctx.debug(text); },
      },
    });
    if (!outcome) throw new LokError('SERVER_EXITED', `The server exited (code ${code}) before listing its tools${lastErr ? `: ${lastErr}` : ''}.`, { exitCode: EXIT.failure, hint: 'Run it with `mcp-lok run` to see why.' });
    if ('error' in outcome) throw new LokError('SERVER_EXITED', `The server did not list its tools: ${outcome.error}.`, { exitCode: EXIT.failure });
    return outcome.tools;
  } finally {
    clearTimeout(hang);
  }
}
