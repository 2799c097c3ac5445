import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { findCommand } from '../../src/cli/commands.js';
import { formatAge, formatBytes, renderTable } from '../../src/cli/output.js';
import { describeParseError, parseCommandArgs } from '../../src/cli/parse-command.js';
import { STOP_GRACE_S } from '../../src/sandbox/hardening.js';
import { catchError } from '../support/catch-error.js';

const parse = suite('parseCommandArgs');
const list = findCommand('list')!;
const stop = findCommand('stop')!;

parse('reads flags, short flags and positionals', () => {
  assert.equal(parseCommandArgs(list, ['-a', '--json']).values.all, true);
  assert.equal(parseCommandArgs(stop, ['-t', '5', 'memory']).positionals, ['memory']);
  assert.is(parseCommandArgs(stop, ['--time=5', 'memory']).values.time, '5');
});

parse('says the default stop grace it uses (STOP_GRACE_S) in stop\'s help', () => {
  assert.is(stop.options?.time?.description, `Seconds to wait after SIGTERM before SIGKILL (default ${STOP_GRACE_S}).`);
  assert.is(STOP_GRACE_S, 3);
});

parse('lets --help through without the positionals', () => {
  assert.is(parseCommandArgs(stop, ['--help']).help, true);
  assert.equal(parseCommandArgs(stop, ['a', 'b']).positionals, ['a', 'b']);
});

for (const [spec, args, message] of [
  [list, ['--bogus'], /Unknown option '--bogus'/],
  [stop, [], /Missing NAME/],
  [findCommand('logs')!, ['a', 'b'], /Unexpected argument "b"/],
  [list, ['extra'], /Unexpected argument "extra"/],
] as const) {
  parse(`rejects ${args.join(' ') || 'nothing'} for ${spec.name} with exit 2`, () => {
    const error = catchError(() => parseCommandArgs(spec, [...args]));
    assert.is(error.exitCode, 2);
    assert.match(error.message, message);
  });
}

parse.run();

const output = suite('output helpers');

output('aligns table columns and leaves no trailing spaces', () => {
  const text = renderTable(['NAME', 'STATE'], [['a', 'running'], ['longer-name', 'exited']], false);
  assert.is(text, 'NAME         STATE\na            running\nlonger-name  exited\n');
});

output('formats ages and sizes for people', () => {
  const now = Date.parse('2026-01-01T01:00:00Z');
  assert.is(formatAge('2026-01-01T00:59:30Z', now), '30s');
  assert.is(formatAge('2026-01-01T00:00:00Z', now), '1h');
  assert.is(formatAge('2025-12-29T01:00:00Z', now), '3d');
  assert.is(formatBytes(512), '512 B');
  assert.is(formatBytes(118_600_000), '119 MB');
});

output.run();

const parseErrors = suite('describeParseError: node:util parseArgs complaints as one sentence');
for (const [given, expected] of [
  ["Option '--tag <value>' argument missing", '`--tag` needs a value.'],
  ["Option '-n, --namespace <value>' argument missing", '`--namespace` needs a value.'],
  ["Unknown option '--foo'. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- \"--foo\"", "Unknown option '--foo'."],
  ["Option '--all' does not take an argument", "Option '--all' does not take an argument."],
] as const) {
  parseErrors(`${given.slice(0, 40)}...`, () => { assert.is(describeParseError(given), expected); });
}
parseErrors.run();
