// The era gateway against scripted legacy servers that do what a hostile or careless server
// may: answer a call while its input request is out, flood requests and list changes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EraGateway, type LegacyHandlers, type ModernSink, type OpenLegacy } from '../../src/era/gateway.js';

const META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'c', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': { elicitation: {} } };

interface Scripted { sent: string[]; handlers: LegacyHandlers; closed: boolean }
type Script = (msg: { id?: unknown; method?: string; params?: { name?: string } }, h: LegacyHandlers) => void;

/** Opens in-process legacy servers that answer initialize and run `script` on every other message. */
function scripted(script: Script, capabilities: Record<string, unknown> = { tools: { listChanged: true } }): { open: OpenLegacy; servers: Scripted[] } {
  const servers: Scripted[] = [];
  const open: OpenLegacy = async (handlers) => {
    const server: Scripted = { sent: [], handlers, closed: false };
    servers.push(server);
    return {
      send(text) {
        server.sent.push(text);
        const msg = JSON.parse(text) as Parameters<Script>[0];
        setImmediate(() => {
          if (msg.method === 'initialize') handlers.onMessage(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { protocolVersion: '2025-11-25', capabilities, serverInfo: { name: 's', version: '1' } } }));
          else script(msg, handlers);
        });
      },
      resume() {},
      async close() { server.closed = true; },
    };
  };
  return { open, servers };
}

interface Recorder extends ModernSink { lines: Array<{ id?: unknown; result?: Record<string, unknown>; error?: { code: number } }>; answered: Promise<{ id: unknown; result?: Record<string, unknown>; error?: { code: number; message: string } }> }

function recorder(reading = true): Recorder {
  const lines: Recorder['lines'] = [];
  let done!: (value: never) => void;
  const answered = new Promise<never>((resolve) => { done = resolve; });
  return { lines, answered, notify: (line) => { lines.push(JSON.parse(line) as never); return reading; }, answer: (line) => { const m = JSON.parse(line) as never; lines.push(m); done(m); } };
}

const tick = (ms = 30): Promise<void> => new Promise((r) => setTimeout(r, ms));
const call = (id: number, name: string, extra: Record<string, unknown> = {}) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { _meta: META, name, arguments: {}, ...extra } });

const hostile = suite('EraGateway with hostile servers');

hostile('a requestState whose call the server answered anyway is refused, and never takes over the next request', async () => {
  // The server asks for input, then answers the call without waiting for it; later calls answer normally.
  const { open, servers } = scripted((msg, h) => {
    if (msg.method !== 'tools/call') return;
    if (msg.params?.name === 'elicit') {
      h.onMessage(JSON.stringify({ jsonrpc: '2.0', id: 'e1', method: 'elicitation/create', params: { message: 'q', requestedSchema: { type: 'object', properties: {} } } }));
      setTimeout(() => h.onMessage(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { content: [] } })), 10);
    } else setTimeout(() => h.onMessage(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { content: [{ type: 'text', text: String(msg.params?.name) }] } })), 100);
  });
  const g = new EraGateway({ open, maxPerKey: 1 });
  try {
    const first = recorder();
    g.request(call(1, 'elicit'), 't', first);
    const held = await first.answered;
    assert.is(held.result?.resultType, 'input_required');
    await tick(50);
    const other = recorder();
    g.request(call(2, 'other'), 't', other);
    await tick();
    const retry = recorder();
    g.request(call(3, 'elicit', { requestState: held.result?.requestState, inputResponses: { 'input-1': { action: 'accept', content: {} } } }), 't', retry);
    assert.is((await retry.answered).error?.code, -32602);
    assert.equal((await other.answered).result?.content, [{ type: 'text', text: 'other' }]);
    // The server never got an answer to an input request it had given up on.
    assert.not.ok(servers[0]!.sent.some((l) => l.includes('"id":"e1"')));
  } finally {
    await g.close();
  }
});

hostile('a retry of a state whose call was answered meanwhile gets an error, not a crash', async () => {
  const { open } = scripted((msg, h) => {
    if (msg.method !== 'tools/call') return;
    h.onMessage(JSON.stringify({ jsonrpc: '2.0', id: 'e1', method: 'elicitation/create', params: { message: 'q', requestedSchema: { type: 'object', properties: {} } } }));
    setTimeout(() => h.onMessage(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { content: [] } })), 10);
  });
  const g = new EraGateway({ open });
  try {
    const first = recorder();
    g.request(call(1, 'elicit'), 't', first);
    const held = await first.answered;
    await tick(50);
    const retry = recorder();
    g.request(call(2, 'elicit', { requestState: held.result?.requestState, inputResponses: {} }), 't', retry);
    assert.is((await retry.answered).error?.code, -32602);
  } finally {
    await g.close();
  }
});

const slowServer: Script = (msg, h) => {
  if (msg.method === 'tools/call') setTimeout(() => h.onMessage(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { content: [] } })), 200);
};
const metaOf = (name: string) => ({ ...META, 'io.modelcontextprotocol/clientInfo': { name, version: '1' } });

hostile('a request refused for want of room leaves no key behind (clients that vary their info do not grow memory)', async () => {
  const { open } = scripted(slowServer);
  const g = new EraGateway({ open, maxSandboxes: 1 });
  try {
    const busy = recorder();
    g.request(call(1, 'slow'), 't', busy);
    await tick();
    for (let i = 0; i < 20; i++) {
      const refused = recorder();
      g.request({ jsonrpc: '2.0', id: i, method: 'tools/list', params: { _meta: metaOf(`c${i}`) } }, 't', refused);
      assert.is((await refused.answered).error?.code, -32603);
      const discover = recorder();
      g.request({ jsonrpc: '2.0', id: i, method: 'server/discover', params: { _meta: metaOf(`d${i}`) } }, 't', discover);
      assert.is((await discover.answered).error?.code, -32603);
    }
    assert.is(g.keys, 1);
  } finally {
    await g.close();
  }
});

hostile('a listen stream that ends forgets its key once the key has no sandbox left', async () => {
  const { open } = scripted(slowServer);
  const g = new EraGateway({ open, idleMs: 50 });
  try {
    for (let i = 0; i < 5; i++) {
      const stream = recorder();
      const stop = g.request({ jsonrpc: '2.0', id: 's', method: 'subscriptions/listen', params: { _meta: metaOf(`l${i}`), notifications: { toolsListChanged: true } } }, 't', stream);
      while (stream.lines.length === 0) await tick(10);
      while (g.sandboxes > 0) await tick(10);
      stop();
    }
    assert.is(g.keys, 0);
  } finally {
    await g.close();
  }
});

hostile('a request cancelled while it waits for a sandbox stops waiting', async () => {
  const { open } = scripted(slowServer);
  const g = new EraGateway({ open, maxPerKey: 1 });
  try {
    const busy = recorder();
    g.request(call(1, 'slow'), 't', busy);
    for (let i = 0; i < 50; i++) g.request(call(100 + i, 'slow'), 't', recorder())();
    assert.is(g.waiting, 0);
    await busy.answered;
  } finally {
    await g.close();
  }
});

const elicit = (id: number) => JSON.stringify({ jsonrpc: '2.0', id: `e${id}`, method: 'elicitation/create', params: { message: 'q', requestedSchema: { type: 'object', properties: {} } } });

hostile('a server that floods input requests gets errors past a small number held for the client', async () => {
  const { open, servers } = scripted((msg, h) => {
    if (msg.method === 'tools/call') for (let i = 0; i < 500; i++) h.onMessage(elicit(i));
  });
  const g = new EraGateway({ open });
  try {
    const first = recorder();
    g.request(call(1, 'elicit'), 't', first);
    const held = await first.answered;
    const retry = recorder();
    g.request(call(2, 'elicit', { requestState: held.result?.requestState, inputResponses: {} }), 't', retry);
    const again = await retry.answered;
    const asked = Object.keys((again.result?.inputRequests ?? {}) as object).length;
    assert.ok(asked <= 16, `${asked} input requests held`);
    assert.ok(servers[0]!.sent.filter((l) => l.includes('"error"')).length >= 500 - 16);
  } finally {
    await g.close();
  }
});

hostile('list changes to a listen stream that is not read are held back, one of each kind, until it reads', async () => {
  let handlers: LegacyHandlers | undefined;
  const { open } = scripted((msg, h) => {
    handlers = h;
    if (msg.method === 'tools/call') h.onMessage(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { content: [] } }));
  }, { tools: { listChanged: true }, prompts: { listChanged: true } });
  const g = new EraGateway({ open });
  try {
    const lines: unknown[] = [];
    let resume: (() => void) | undefined;
    let reading = false;
    const stream: ModernSink = { notify: (text, r) => { lines.push(JSON.parse(text)); resume = r; return reading; }, answer: () => {} };
    g.request({ jsonrpc: '2.0', id: 's', method: 'subscriptions/listen', params: { _meta: META, notifications: { toolsListChanged: true, promptsListChanged: true } } }, 't', stream);
    while (lines.length === 0) await tick(10);
    const done = recorder();
    g.request(call(1, 'x'), 't', done);
    await done.answered;
    for (let i = 0; i < 1000; i++) handlers!.onMessage(JSON.stringify({ jsonrpc: '2.0', method: i % 2 ? 'notifications/tools/list_changed' : 'notifications/prompts/list_changed' }));
    assert.is(lines.length, 1, 'only the acknowledgment while the client does not read');
    reading = true;
    resume!();
    assert.equal(lines.slice(1).map((l) => (l as { method: string }).method).sort(), ['notifications/prompts/list_changed', 'notifications/tools/list_changed']);
  } finally {
    await g.close();
  }
});

const deep = (levels: number): unknown => JSON.parse(`${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`);

/** Runs `body`, returning every error thrown past the gateway (uncaught, or an unhandled rejection), which would end a bridge or a shim. */
async function escaped(body: () => Promise<void>): Promise<unknown[]> {
  const errors: unknown[] = [];
  const trap = (error: unknown): void => { errors.push(error); };
  process.on('unhandledRejection', trap);
  process.on('uncaughtException', trap);
  try {
    await body();
    await tick(50);
  } finally {
    process.off('unhandledRejection', trap);
    process.off('uncaughtException', trap);
  }
  return errors;
}

hostile('a client request nested too deep to serialize is answered with an error, and the gateway goes on', async () => {
  const { open } = scripted((msg, h) => {
    if (msg.method === 'tools/call' || msg.method === 'tools/list') h.onMessage(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { content: [], tools: [] } }));
  });
  const g = new EraGateway({ open, maxPerKey: 1 });
  try {
    const errors = await escaped(async () => {
      for (const request of [call(1, 'x', { arguments: deep(100_000) }), { jsonrpc: '2.0', id: 2, method: 'tools/list', params: { _meta: { ...META, 'io.modelcontextprotocol/clientInfo': deep(100_000) } } }]) {
        const answer = recorder();
        let thrown: unknown;
        try { g.request(request, 't', answer); } catch (error) { thrown = error; }
        assert.is(thrown, undefined);
        assert.is((await answer.answered).error?.code, -32602);
      }
      const next = recorder();
      g.request(call(3, 'x'), 't', next);
      assert.equal((await next.answered).result?.content, []);
    });
    assert.equal(errors.map(String), []);
    assert.is(g.inFlight, 0);
  } finally {
    await g.close();
  }
});

hostile('a server message nested too deep to serialize is not passed on: its call gets an error, and the gateway goes on', async () => {
  let calls = 0;
  const { open } = scripted((msg, h) => {
    if (msg.method !== 'tools/call') return;
    const huge = `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`;
    if (++calls === 1) {
      h.onMessage(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"p","progress":1,"x":${huge}}}`);
      h.onMessage(`{"jsonrpc":"2.0","id":"e1","method":"elicitation/create","params":{"message":"q","x":${huge}}}`);
      h.onMessage(`{"jsonrpc":"2.0","id":${JSON.stringify(msg.id)},"result":{"content":[],"x":${huge}}}`);
    } else h.onMessage(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { content: [] } }));
  });
  const g = new EraGateway({ open, maxPerKey: 1 });
  try {
    const errors = await escaped(async () => {
      const first = recorder();
      g.request(call(1, 'x', { _meta: { ...META, progressToken: 'p' } }), 't', first);
      assert.is((await first.answered).error?.code, -32603);
      const next = recorder();
      g.request(call(2, 'x'), 't', next);
      assert.equal((await next.answered).result?.content, []);
    });
    assert.equal(errors.map(String), []);
  } finally {
    await g.close();
  }
});

hostile.run();
