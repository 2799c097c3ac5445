import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { invalidInput, showInput } from '../../src/request/input-errors.js';

const show = suite('showInput');

for (const [input, expected] of [
  ['pkg', '`pkg`'],
  ['', '``'],
  ['a\nb', '`a\\u000ab`'],
  ['\u001b[31mred', '`\\u001b[31mred`'],
  ['x'.repeat(100), `\`${'x'.repeat(80)}…\``],
] as const) {
  show(`shows ${JSON.stringify(input.slice(0, 12))} on one safe line`, () => {
    assert.is(showInput(input), expected);
  });
}

show.run();

const invalid = suite('invalidInput');

invalid('returns an INVALID_INPUT error that exits with the usage code', () => {
  const error = invalidInput('Bad.', 'Do this.');
  assert.equal([error.code, error.exitCode, error.message, error.hint], ['INVALID_INPUT', 2, 'Bad.', 'Do this.']);
  assert.is(invalidInput('Bad.').hint, undefined);
});

invalid.run();
