import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ServerInfo, ToolsInfo } from '../../src/app/servers.js';
import { chooseColumns, formatListRows, formatToolsCell, pendingToolsNotes } from '../../src/cli/commands/list.js';

const NOW = Date.parse('2026-01-02T04:04:05.000Z');
const tools = (over: Partial<ToolsInfo>): ToolsInfo => ({ state: 'pinned', identity: '@scope/pkg', pinned: 3, added: 0, changed: 0, removed: 0, mode: 'observe', ...over });

/** A shim's server as `list` describes it, then `over`. */
function server(over: Partial<ServerInfo> = {}): ServerInfo {
  return {
    name: 'notes', id: '0123456789ab', state: 'running', status: 'Up 1 hour', launcher: 'npx', transport: 'stdio', url: null, profile: 'stdio',
    allows: [], package: '@scope/pkg@1.2.3', image: 'mcp-lok/sandbox:0123', createdAt: '2026-01-02T03:04:05.000Z', pinned: null, pin: null, tools: null, ...over,
  };
}

const cell = suite('formatToolsCell');

const CELLS: Array<[string, ToolsInfo | null, string]> = [
  ['tools not checked', null, '-'],
  ['a first list not seen yet', tools({ state: 'not pinned', pinned: 0 }), 'not pinned'],
  ['a manifest as pinned', tools({}), 'pinned'],
  ['observed changes, with their count', tools({ state: 'changed', changed: 1, added: 1, approve: 'mcp-lok approve @scope/pkg' }), 'changed (2)'],
  ['changes hidden by enforce, with their count', tools({ state: 'awaiting approval', removed: 1, mode: 'enforce', approve: 'mcp-lok approve @scope/pkg' }), 'awaiting approval (1)'],
  ['a damaged pin', tools({ state: 'damaged' }), 'damaged'],
];
for (const [title, value, expected] of CELLS) {
  cell(`shows ${title} as "${expected}"`, () => { assert.is(formatToolsCell(value), expected); });
}

cell.run();

const rows = suite('formatListRows');

rows('puts the pinned version and the tools\' state between the package and the age; - when there is none', () => {
  const [pinned, floating] = formatListRows([
    server({ pinned: '1.2.3', tools: tools({ state: 'awaiting approval', changed: 1, mode: 'enforce', approve: 'mcp-lok approve @scope/pkg' }) }),
    server({ name: 'img', package: null, image: 'registry.mcp-lok.test/org/app:1' }),
  ], NOW);
  assert.equal(pinned, ['notes', 'running', 'npx', 'stdio', '-', 'stdio', '@scope/pkg@1.2.3', '1.2.3', 'awaiting approval (1)', '1h', 'nothing']);
  assert.equal(floating?.slice(6, 9), ['registry.mcp-lok.test/org/app:1', '-', '-']);
});

rows('leaves who started it and the profile\'s name to --wide', () => {
  const all = formatListRows([server({ pinned: '1.2.3' })], NOW);
  const narrow = chooseColumns(all, false);
  assert.equal(narrow.header, ['NAME', 'STATE', 'TRANSPORT', 'URL', 'PACKAGE / IMAGE', 'PINNED', 'TOOLS', 'UP', 'ALLOWS']);
  assert.equal(narrow.rows, [['notes', 'running', 'stdio', '-', '@scope/pkg@1.2.3', '1.2.3', '-', '1h', 'nothing']]);
  const wide = chooseColumns(all, true);
  assert.is(wide.header.length, 11);
  assert.equal(wide.rows, all);
});

rows.run();

const notes = suite('pendingToolsNotes');

notes('says nothing when no server has pending changes', () => {
  assert.equal(pendingToolsNotes([server(), server({ tools: tools({}) }), server({ tools: tools({ state: 'not pinned' }) })]), []);
});

notes('names the commands that show and approve pending changes, once per pin with its servers', () => {
  const waiting = tools({ state: 'awaiting approval', added: 1, changed: 1, mode: 'enforce', approve: 'mcp-lok approve @scope/pkg' });
  const observed = tools({ state: 'changed', identity: 'a b', changed: 1, approve: `mcp-lok approve 'a b'` });
  assert.equal(pendingToolsNotes([server({ tools: waiting }), server({ name: 'other' }), server({ name: 'notes-2', tools: waiting }), server({ name: 'ab', tools: observed })]), [
    'mcp-lok: notes, notes-2: 2 tool changes since the tools were pinned, hidden from clients until you approve; `mcp-lok logs @scope/pkg --tools` shows them, `mcp-lok approve @scope/pkg` accepts them.',
    `mcp-lok: ab: 1 tool change since the tools were pinned, passed on to clients (observe); \`mcp-lok logs 'a b' --tools\` shows it, \`mcp-lok approve 'a b'\` accepts it.`,
  ]);
});

notes.run();
