import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { applyEdits, arraySeparator, editArrayFront, lineAt, lineStarts, type ArrayNode } from '../../../src/app/client-configs/text-edits.js';

/** Returns an array's node as the readers give it: the spans of `[...]` and of each quoted element. */
function arrayIn(text: string): ArrayNode {
  const open = text.indexOf('[');
  const close = text.lastIndexOf(']');
  const elements = [...text.slice(open, close).matchAll(/"[^"]*"|'[^']*'/g)].map((m) => ({ offset: open + (m.index ?? 0), length: m[0].length }));
  return { span: { offset: open, length: close - open + 1 }, elements };
}

const front = suite('editArrayFront');

const cases: Array<[string, string, number, string[], string]> = [
  ['one line', '["-y", "pkg"]', 0, ['"-e"', '"K"'], '["-e", "K", "-y", "pkg"]'],
  ['no spaces', '["-y","pkg"]', 0, ['"-e"'], '["-e","-y","pkg"]'],
  ['one element', '["pkg"]', 0, ['"-e"', '"K"'], '["-e", "K", "pkg"]'],
  ['one per line', '[\n    "-y",\n    "pkg"\n  ]', 0, ['"-e"', '"K"'], '[\n    "-e",\n    "K",\n    "-y",\n    "pkg"\n  ]'],
  ['a comment after the first element', '[\n  "-y",  # yes\n  "pkg",\n]', 0, ['"-e"'], '[\n  "-e",\n  "-y",  # yes\n  "pkg",\n]'],
  ['CRLF lines', '[\r\n  "-y",\r\n  "pkg"\r\n]', 0, ['"-e"'], '[\r\n  "-e",\r\n  "-y",\r\n  "pkg"\r\n]'],
  ['cmd /c npx dropped', '["/c", "npx", "-y", "pkg"]', 2, ['"-e"', '"K"'], '["-e", "K", "-y", "pkg"]'],
  ['nothing inserted, two dropped', '["-e", "K", "pkg"]', 2, [], '["pkg"]'],
  ['TOML literal strings', "['-y', 'pkg']", 0, ['"-e"'], "[\"-e\", '-y', 'pkg']"],
];

for (const [name, text, drop, insert, expected] of cases) {
  front(`${name}: keeps the array's layout`, () => {
    assert.is(applyEdits(text, [editArrayFront(text, arrayIn(text), drop, insert)]), expected);
  });
}

front('leaves everything from the first kept element on untouched', () => {
  const text = 'x = ["a", "b"] # tail';
  const edit = editArrayFront(text, arrayIn(text), 1, ['"c"']);
  assert.is(edit.offset + edit.length, text.indexOf('"b"'));
});

front('refuses to drop every element (nothing would mark where the rest goes)', () => {
  assert.throws(() => editArrayFront('["a"]', arrayIn('["a"]'), 1, []), /no element would be left/);
});

const separator = suite('arraySeparator');

separator('falls back to the first element\'s indentation when the separator holds a comment', () => {
  const text = '[\n\t\t"-y", // auto\n\t\t"pkg"\n]';
  assert.is(arraySeparator(text, arrayIn(text)), ',\n\t\t');
});

const edits = suite('applyEdits and lines');

edits('applies edits in any order and refuses overlapping ones', () => {
  assert.is(applyEdits('abcdef', [{ offset: 4, length: 1, content: 'E' }, { offset: 0, length: 2, content: 'AB' }]), 'ABcdEf');
  assert.throws(() => applyEdits('abc', [{ offset: 0, length: 2, content: '' }, { offset: 1, length: 1, content: '' }]), /overlapping/);
});

edits('finds the line of an offset', () => {
  const starts = lineStarts('ab\ncd\n\nef');
  assert.equal(starts, [0, 3, 6, 7]);
  assert.equal([0, 2, 3, 6, 8].map((o) => lineAt(starts, o)), [0, 0, 1, 2, 3]);
});

front.run();
separator.run();
edits.run();
