// The session bridge against a scripted legacy server that sends ids and progress tokens nested
// too deep to serialize: the bridge, which serves every other session too, must go on.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startStdioBridge, type OpenBackend } from '../../src/http/session-bridge/bridge.js';

const huge = `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`;

const open: OpenBackend = async (h) => ({
  send(text) {
    const m = JSON.parse(text) as { id?: unknown; method?: string };
    setImmediate(() => {
      if (m.method === 'initialize') h.onMessage(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 's', version: '1' } } }));
      else if (m.method === 'tools/list') {
        h.onMessage(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":${huge},"progress":1}}`);
        h.onMessage(`{"jsonrpc":"2.0","id":${huge},"result":{}}`);
        h.onMessage(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { tools: [] } }));
      }
    });
  },
  resume() {},
  async close() {},
});

const hostile = suite('session bridge with a hostile server');

hostile('a server message whose id or progress token nests too deep is dropped, and the session goes on', async () => {
  const errors: unknown[] = [];
  const trap = (error: unknown): void => { errors.push(error); };
  process.on('uncaughtException', trap);
  const bridge = await startStdioBridge({ transport: 'streamable-http', listen: { host: '127.0.0.1', port: 0 }, openBackend: open });
  try {
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const init = await fetch(bridge.url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'r', version: '1' } } }) });
    const session = init.headers.get('mcp-session-id') ?? '';
    await init.text();
    const list = await fetch(bridge.url, { method: 'POST', headers: { ...headers, 'mcp-session-id': session }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { progressToken: 'p' } } }) });
    assert.is(list.status, 200);
    assert.match(await list.text(), /"tools":\[\]/);
    assert.equal(errors.map(String), []);
  } finally {
    process.off('uncaughtException', trap);
    await bridge.close();
  }
});

hostile.run();
