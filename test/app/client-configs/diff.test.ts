import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { renderEditDiff } from '../../../src/app/client-configs/diff.js';

const diff = suite('renderEditDiff');
const labels = { oldLabel: 'a.json', newLabel: 'a.json (wrapped)' };

diff('shows changed lines once, old then new, with context', () => {
  const text = ['{', '  "s": {', '    "command": "npx",', '    "args": ["pkg"]', '  }', '}', ''].join('\n');
  const at = text.indexOf('"npx"');
  const out = renderEditDiff(text, [{ offset: at, length: 5, content: '"/bin/mcp-lok-npx"' }, { offset: text.indexOf('"pkg"'), length: 0, content: '"-e", "K", ' }], labels);
  assert.is(out, [
    '--- a.json', '+++ a.json (wrapped)', '@@ -1,6 +1,6 @@', ' {', '   "s": {',
    '-    "command": "npx",', '-    "args": ["pkg"]', '+    "command": "/bin/mcp-lok-npx",', '+    "args": ["-e", "K", "pkg"]',
    '   }', ' }', '',
  ].join('\n'));
});

diff('is empty when the edits change nothing', () => {
  assert.is(renderEditDiff('abc\n', [{ offset: 1, length: 0, content: '' }], labels), '');
});

diff('puts far apart changes in separate hunks with their own line numbers', () => {
  const lines = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`);
  const text = `${lines.join('\n')}\n`;
  const out = renderEditDiff(text, [
    { offset: text.indexOf('line 2\n'), length: 6, content: 'LINE 2' },
    { offset: text.indexOf('line 25'), length: 7, content: 'LINE 25\nextra' },
  ], labels);
  const hunks = out.split('\n').filter((l) => l.startsWith('@@'));
  assert.equal(hunks, ['@@ -1,5 +1,5 @@', '@@ -22,7 +22,8 @@']);
  assert.ok(out.includes('-line 25\n+LINE 25\n+extra\n'));
});

diff('never prints a variable\'s value, even on a changed line', () => {
  const text = '{"s": {"command": "npx", "args": ["p"], "env": {"TOKEN": "ghp_secret_value"}}}\n';
  const out = renderEditDiff(text, [{ offset: text.indexOf('"npx"'), length: 5, content: '"x"' }], { ...labels, secrets: ['"ghp_secret_value"'] });
  assert.not.ok(out.includes('ghp_secret_value'));
  assert.ok(out.includes('"TOKEN": "…"'));
});

diff.run();
