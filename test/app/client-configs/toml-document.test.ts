import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'smol-toml';
import { readTomlDocument, tomlString } from '../../../src/app/client-configs/toml-document.js';
import { sliceSpan } from '../../../src/app/client-configs/text-edits.js';

const read = suite('readTomlDocument');

read('finds [mcp_servers.NAME] tables with their command, args and variables', () => {
  const text = [
    'model = "o3" # c', '', '[mcp_servers.memory]', '# note', 'command = "npx"', 'args = [', '  "-y",  # yes', '  "pkg",', ']',
    '', '[mcp_servers.memory.env]', 'TOKEN = "secret-value"', '', '[mcp_servers."my server"]', "command = 'npx'", "args = ['x']", 'env_vars = ["A"]',
  ].join('\n');
  const doc = readTomlDocument(text);
  assert.equal(doc.entries.map((e) => e.name), ['memory', 'my server']);
  const [memory, mine] = doc.entries;
  assert.is(sliceSpan(text, memory?.command?.span ?? { offset: 0, length: 0 }), '"npx"');
  assert.equal(memory?.args?.elements.map((e) => sliceSpan(text, e)), ['"-y"', '"pkg"']);
  assert.equal(memory?.envNames, ['TOKEN']);
  assert.equal(memory?.secretTexts, ['"secret-value"']);
  assert.is(sliceSpan(text, mine?.command?.span ?? { offset: 0, length: 0 }), "'npx'");
  assert.equal(mine?.envNames, ['A']);
});

read('finds values in inline tables and dotted keys', () => {
  const inline = readTomlDocument('[mcp_servers]\nm = { command = "npx", args = ["p"], env = { K = "v" } }\n');
  assert.is(inline.entries[0]?.command?.value, 'npx');
  assert.equal(inline.entries[0]?.envNames, ['K']);
  const dotted = readTomlDocument('mcp_servers.m.command = "npx"\nmcp_servers.m.args = ["p"]\n');
  assert.equal(dotted.entries[0]?.args?.value, ['p']);
});

read('skips multi-line strings and arrays of tables while scanning', () => {
  const text = 'notes = """\n[mcp_servers.fake]\ncommand = "x"\n"""\n[[profiles]]\nargs = ["z"]\n[mcp_servers.real]\ncommand = "npx"\nargs = ["p"]\n';
  const doc = readTomlDocument(text);
  assert.equal(doc.entries.map((e) => e.name), ['real']);
  assert.is(sliceSpan(text, doc.entries[0]?.args?.span ?? { offset: 0, length: 0 }), '["p"]');
});

read('refuses text that is not TOML', () => {
  assert.throws(() => readTomlDocument('[mcp_servers.m\ncommand = "npx"'), /not valid TOML/);
});

const literal = suite('tomlString');

literal('writes strings smol-toml reads back unchanged, control characters included', () => {
  for (const value of ['C:\\Program Files\\nodejs\\node.exe', 'a "quoted" word', 'tab\there', 'del\u007fx', 'bell\u0007', 'é ü 字']) {
    assert.is((parse(`v = ${tomlString(value)}`) as { v: string }).v, value);
  }
});

read.run();
literal.run();
