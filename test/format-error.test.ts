import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { formatError, redactSecrets } from '../src/format-error.js';
import { LokError } from '../src/errors.js';

const format = suite('formatError');

format('prints one line with the message and the hint, and keeps the exit code', () => {
  const { text, exitCode } = formatError(new LokError('ENGINE_UNAVAILABLE', 'No engine.', { exitCode: 125, hint: 'Start Docker.' }), 'mcp-lok-npx', false);
  assert.is(text, 'mcp-lok-npx: No engine. Start Docker.');
  assert.is(exitCode, 125);
});

format('turns unexpected errors into an internal error without a stack unless debugging', () => {
  const plain = formatError(new Error('boom'), 'mcp-lok', false);
  assert.is(plain.text.split('\n').length, 1);
  assert.match(plain.text, /internal error: boom/);
  assert.is(plain.exitCode, 1);
  assert.ok(formatError(new Error('boom'), 'mcp-lok', true).text.split('\n').length > 1);
});

format('shows terminal escapes from outside text (npm, a registry, a server) as escapes, on one line', () => {
  const { text } = formatError(new LokError('INSTALL_FAILED', 'Installing x failed: \u001b]0;pwned\u0007\u001b[2J.', { hint: 'Run \u009b1m again.' }), 'mcp-lok', false);
  assert.is(text, 'mcp-lok: Installing x failed: \\x1b]0;pwned\\x07\\x1b[2J. Run \\x9b1m again.');
  assert.is(formatError(new Error('bad \u001b[31m'), 'mcp-lok', false).text.includes('\u001b'), false);
});

format.run();

const redact = suite('redactSecrets');

for (const [input, leaked] of [
  ['//registry.npmjs.org/:_authToken=npm_abcdefghijklmnopqrstuvwxyz', 'npm_abcdefghijklmnopqrstuvwxyz'],
  ['https://user:hunter2@registry.example/', 'hunter2'],
  ['token=abc123&x=1', 'abc123'],
] as const) {
  redact(`hides ${leaked}`, () => {
    const out = redactSecrets(input);
    assert.not.match(out, leaked);
    assert.match(out, /\*\*\*/);
  });
}

redact.run();
