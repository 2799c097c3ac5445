// The era gateway against real legacy stdio servers (SDK v1 children): held sandboxes that time
// out, cancelled requests, listen streams per key, and answers owed after the input ends.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EraGateway, type GatewayOptions, type ModernSink } from '../../src/era/gateway.js';
import { stdioBackends, type StdioBackends } from '../support/stdio-backend.js';

const META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'c', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': { elicitation: {} } };
const OTHER = { ...META, 'io.modelcontextprotocol/clientInfo': { name: 'other', version: '1' } };

interface Recorder extends ModernSink { lines: unknown[]; answered: Promise<{ id: unknown; result?: Record<string, unknown>; error?: { code: number; message: string } }> }

function recorder(): Recorder {
  const lines: unknown[] = [];
  let done!: (value: never) => void;
  const answered = new Promise<never>((resolve) => { done = resolve; });
  return { lines, answered, notify: (line) => { lines.push(JSON.parse(line)); return true; }, answer: (line) => { const m = JSON.parse(line) as never; lines.push(m); done(m); } };
}

function withGateway(options: Partial<GatewayOptions>, run: (g: EraGateway, b: StdioBackends, opened: string[]) => Promise<void>): () => Promise<void> {
  return async () => {
    const backends = stdioBackends();
    const opened: string[] = [];
    const gateway = new EraGateway({ open: (h, info) => { opened.push(info.id); return backends.open(h, { sessionId: info.id }); }, ...options });
    try {
      await run(gateway, backends, opened);
    } finally {
      await gateway.close();
    }
  };
}

async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const call = (id: number, name: string, args: Record<string, unknown>, meta: Record<string, unknown> = META, extra: Record<string, unknown> = {}) =>
  ({ jsonrpc: '2.0', id, method: 'tools/call', params: { _meta: meta, name, arguments: args, ...extra } });

const gateway = suite('EraGateway');

gateway('stops a sandbox held for input when the retry does not come in time, and refuses the late retry', withGateway({ inputTimeoutMs: 300 }, async (g, b, opened) => {
  const first = recorder();
  g.request(call(1, 'elicit', { question: 'q' }), 't', first);
  const held = await first.answered;
  assert.is(held.result?.resultType, 'input_required');
  await b.exited(opened[0]!);
  assert.is(g.sandboxes, 0);
  const late = recorder();
  g.request(call(2, 'elicit', { question: 'q' }, META, { requestState: held.result?.requestState, inputResponses: { 'input-1': { action: 'accept', content: { name: 'x' } } } }), 't', late);
  assert.is((await late.answered).error?.code, -32602);
}));

gateway('tells the server a request was cancelled, and gives the sandbox back once the server is done with it', withGateway({ drainMs: 200 }, async (g, b, opened) => {
  const slow = recorder();
  g.request(call(1, 'echo', { text: 'slow', delayMs: 300 }), 't', slow);
  await until('the call to reach the server', () => (b.sent.get(opened[0] ?? '') ?? []).some((l) => l.includes('"tools/call"')));
  g.cancelled(1);
  await until('the cancellation to reach the server', () => (b.sent.get(opened[0]!) ?? []).some((l) => l.includes('notifications/cancelled')));
  assert.is(g.inFlight, 0);
  await new Promise((r) => setTimeout(r, 300));
  // The same sandbox serves the next request once the server answered the cancelled one.
  const next = recorder();
  g.request(call(2, 'echo', { text: 'next' }), 't', next);
  assert.equal((await next.answered).result?.content, [{ type: 'text', text: 'next' }]);
  assert.equal(slow.lines, []);
  assert.is(opened.length, 1);
}));

gateway('sends list changes to the listen streams of the same key only, tagged with their subscription', withGateway({}, async (g) => {
  const mine = recorder();
  const other = recorder();
  g.request({ jsonrpc: '2.0', id: 'sub-1', method: 'subscriptions/listen', params: { _meta: META, notifications: { toolsListChanged: true, promptsListChanged: true } } }, 't', mine);
  g.request({ jsonrpc: '2.0', id: 'sub-2', method: 'subscriptions/listen', params: { _meta: OTHER, notifications: { toolsListChanged: true } } }, 't', other);
  await until('both acknowledgments', () => mine.lines.length === 1 && other.lines.length === 1);
  assert.equal(mine.lines[0], { jsonrpc: '2.0', method: 'notifications/subscriptions/acknowledged', params: { _meta: { 'io.modelcontextprotocol/subscriptionId': 'sub-1' }, notifications: { toolsListChanged: true } } });
  const added = recorder();
  g.request(call(1, 'add-tool', { name: 'fresh' }), 't', added);
  await added.answered;
  await until('the list change', () => mine.lines.length === 2);
  assert.equal(mine.lines[1], { jsonrpc: '2.0', method: 'notifications/tools/list_changed', params: { _meta: { 'io.modelcontextprotocol/subscriptionId': 'sub-1' } } });
  await new Promise((r) => setTimeout(r, 100));
  assert.is(other.lines.length, 1, JSON.stringify(other.lines));
  // The request itself got only its answer.
  assert.is(added.lines.length, 1);
}));

gateway('gives a request with another credential a sandbox of its own', withGateway({}, async (g, _b, opened) => {
  const a = recorder();
  const c = recorder();
  g.request(call(1, 'whoami', {}), 'token-a', a);
  const first = await a.answered;
  g.request(call(1, 'whoami', {}), 'token-b', c);
  const second = await c.answered;
  assert.is(opened.length, 2);
  assert.is.not(JSON.stringify(first.result?.content), JSON.stringify(second.result?.content));
}));

gateway('answers with an error, not a hang, when the server exits during a request', withGateway({}, async (g, b, opened) => {
  const a = recorder();
  g.request(call(1, 'echo', { text: 'x', delayMs: 2000 }), 't', a);
  await until('the call to reach the server', () => (b.sent.get(opened[0] ?? '') ?? []).some((l) => l.includes('"tools/call"')));
  b.children.get(opened[0]!)?.kill('SIGKILL');
  const answer = await a.answered;
  assert.is(answer.error?.code, -32603);
  assert.match(answer.error?.message ?? '', /exited/);
}));

gateway.run();
