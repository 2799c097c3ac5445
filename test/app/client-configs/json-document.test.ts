import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readJsonDocument } from '../../../src/app/client-configs/json-document.js';
import { sliceSpan } from '../../../src/app/client-configs/text-edits.js';

const read = suite('readJsonDocument');

read('finds mcpServers entries with where their command and args are written', () => {
  const text = '{\n  // c\n  "mcpServers": {\n    "m": { "command": "npx", "args": ["-y", "pkg"], "env": { "K": "value-1" } },\n  },\n}';
  const doc = readJsonDocument(text, { format: 'json', serversKey: 'mcpServers' });
  const [entry] = doc.entries;
  assert.ok(entry);
  assert.is(entry.name, 'm');
  assert.equal(entry.key, ['mcpServers', 'm']);
  assert.is(sliceSpan(text, entry.command?.span ?? { offset: 0, length: 0 }), '"npx"');
  assert.is(sliceSpan(text, entry.args?.span ?? { offset: 0, length: 0 }), '["-y", "pkg"]');
  assert.equal(entry.args?.elements.map((e) => sliceSpan(text, e)), ['"-y"', '"pkg"']);
  assert.equal(entry.envNames, ['K']);
  assert.equal(entry.secretTexts, ['"value-1"']);
  assert.is(entry.remote, false);
});

read('reads VS Code\'s `servers`, and Claude Code\'s per-project lists in ~/.claude.json', () => {
  const vscode = readJsonDocument('{"servers": {"a": {"type": "stdio", "command": "npx", "args": ["p"]}, "b": {"type": "http", "url": "http://127.0.0.1:1/mcp"}}}', { format: 'json', serversKey: 'servers' });
  assert.equal(vscode.entries.map((e) => [e.name, e.remote]), [['a', false], ['b', true]]);
  const claude = readJsonDocument('{"mcpServers": {"u": {"command": "npx", "args": ["p"]}}, "projects": {"/srv/x": {"mcpServers": {"l": {"command": "npx", "args": ["q"]}}}, "/srv/y": {}}}', { format: 'json', serversKey: 'mcpServers', claudeProjects: true });
  assert.equal(claude.entries.map((e) => [e.name, e.project, e.key]), [['u', undefined, ['mcpServers', 'u']], ['l', '/srv/x', ['projects', '/srv/x', 'mcpServers', 'l']]]);
});

read('reads Zed\'s older form, whose command holds path, args and env', () => {
  const text = '{"context_servers": {"g": {"command": {"path": "npx", "args": ["p"], "env": {"T": "x"}}, "settings": {}}}}';
  const [entry] = readJsonDocument(text, { format: 'json', serversKey: 'context_servers' }).entries;
  assert.equal(entry?.commandPath, ['command', 'path']);
  assert.equal(entry?.argsPath, ['command', 'args']);
  assert.is(entry?.command?.value, 'npx');
  assert.equal(entry?.envNames, ['T']);
});

read('keeps offsets right after a byte order mark', () => {
  const text = '\uFEFF{"mcpServers": {"m": {"command": "npx", "args": ["p"]}}}';
  const [entry] = readJsonDocument(text, { format: 'json', serversKey: 'mcpServers' }).entries;
  assert.is(sliceSpan(text, entry?.command?.span ?? { offset: 0, length: 0 }), '"npx"');
});

read('refuses a file that is not JSON, naming the line', () => {
  assert.throws(() => readJsonDocument('{\n  "mcpServers": {\n    "m": \n}', { format: 'json', serversKey: 'mcpServers' }), /not valid JSON: .* on line \d/);
});

read.run();
