import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createControlEscaper, escapeControl, escapeControlInJson } from '../src/control-chars.js';

const escape = suite('escapeControl');

for (const [title, input, expected] of [
  ['plain text, newlines and tabs stay as they are', 'ready on port 8080\n\tok\n', 'ready on port 8080\n\tok\n'],
  ['ESC of a colour sequence becomes visible', '\x1b[31mred\x1b[0m', '\\x1b[31mred\\x1b[0m'],
  ['a window-title sequence (OSC ... BEL)', '\x1b]0;pwned\x07', '\\x1b]0;pwned\\x07'],
  ['a carriage return cannot hide a line', 'innocent\rEVIL', 'innocent\\x0dEVIL'],
  ['NUL, backspace, vertical tab, form feed', '\x00\x08\x0b\x0c', '\\x00\\x08\\x0b\\x0c'],
  ['the last C0 control', '\x1f', '\\x1f'],
  ['DEL', '\x7f', '\\x7f'],
  ['8-bit CSI (C1) that some terminals obey', '\u009b6n', '\\x9b6n'],
  ['the first and last C1 controls', '\u0080\u009f', '\\x80\\x9f'],
  ['printable Unicode just past C1 stays', '\u00a0é→日本', '\u00a0é→日本'],
  ['a backslash is left alone', 'C:\\x1b', 'C:\\x1b'],
] as const) {
  escape(title, () => assert.is(escapeControl(input), expected));
}
escape('no control character but \\n and \\t survives, of all 0x00-0x9f', () => {
  const all = Array.from({ length: 0xa0 }, (_, i) => String.fromCharCode(i)).join('');
  const out = escapeControl(all);
  assert.not.match(out.replace(/[\n\t]/g, ''), /[\x00-\x1f\x7f-\x9f]/);
});
escape.run();

const json = suite('escapeControlInJson');

for (const value of [
  { host: '\x1b]0;x\x07', port: 1 },
  { host: 'a\u009bb\u007fc', reason: 'denied' },
  { host: 'plain.example', n: 2 },
]) {
  json(`keeps the value and leaves no raw control in ${JSON.stringify(value)}`, () => {
    const text = escapeControlInJson(JSON.stringify(value));
    assert.not.match(text, /[\x00-\x1f\x7f-\x9f]/);
    assert.equal(JSON.parse(text), value);
  });
}
json.run();

const stream = suite('createControlEscaper');

stream('keeps a UTF-8 character split between chunks whole, and escapes at chunk edges', () => {
  const bytes = Buffer.from('é\x1b[2J\u009b日', 'utf8');
  const esc = createControlEscaper();
  const out = [...bytes].map((b) => esc(Buffer.from([b]))).join('');
  assert.is(out, 'é\\x1b[2J\\x9b日');
});

stream('a lone 8-bit C1 byte (not UTF-8) is never passed through', () => {
  const esc = createControlEscaper();
  const out = esc(Buffer.from([0x41, 0x9b, 0x36, 0x6e, 0x0a]));
  assert.not.match(out, /[\x7f-\x9f]/);
  assert.ok(out.startsWith('A') && out.endsWith('6n\n'), out);
});
stream.run();
