import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ToolsConversation } from '../../src/app/tool-probe.js';

const parse = (lines: string[]) => lines.map((l) => JSON.parse(l) as { id?: number; method?: string; params?: { cursor?: string }; result?: unknown; error?: unknown });

test('the probe initializes, then lists every page of tools', () => {
  const c = new ToolsConversation();
  const [init] = parse(c.start());
  assert.is(init!.method, 'initialize');
  const afterInit = c.onLine(JSON.stringify({ jsonrpc: '2.0', id: init!.id, result: { protocolVersion: '2025-06-18', capabilities: { tools: {} } } }));
  const [initialized, list1] = parse(afterInit.send);
  assert.is(initialized!.method, 'notifications/initialized');
  assert.is(list1!.method, 'tools/list');
  assert.is(list1!.params, undefined);
  const page1 = c.onLine(JSON.stringify({ jsonrpc: '2.0', id: list1!.id, result: { tools: [{ name: 'a' }], nextCursor: 'p2' } }));
  assert.not.ok(page1.done);
  const [list2] = parse(page1.send);
  assert.is(list2!.params!.cursor, 'p2');
  const page2 = c.onLine(JSON.stringify({ jsonrpc: '2.0', id: list2!.id, result: { tools: [{ name: 'b' }] } }));
  assert.equal(page2, { send: [], done: true, tools: [{ name: 'a' }, { name: 'b' }] });
});

test('the probe answers the server\'s requests, skips noise and other ids, and reports an error', () => {
  const c = new ToolsConversation();
  c.start();
  assert.equal(parse(c.onLine('{"jsonrpc":"2.0","id":"s1","method":"ping"}').send), [{ jsonrpc: '2.0', id: 's1', result: {} }] as never);
  assert.equal((parse(c.onLine('{"jsonrpc":"2.0","id":"s2","method":"roots/list"}').send)[0]!.error as { code: number }).code, -32601);
  assert.equal(c.onLine('not json').send, []);
  assert.equal(c.onLine('{"jsonrpc":"2.0","method":"notifications/message","params":{}}').send, []);
  assert.equal(c.onLine('{"jsonrpc":"2.0","id":99,"result":{}}').send, []);
  assert.equal(c.onLine('{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"nope"}}'), { send: [], done: true, error: 'nope' });
});

test.run();
