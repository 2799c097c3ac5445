import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { findCommand } from '../../src/cli/commands.js';
import { renderPinStates, runUpdate } from '../../src/cli/commands/update.js';
import { answerOf } from '../../src/cli/confirm.js';
import { renderCommandHelp } from '../../src/cli/help.js';
import { parseCommandArgs } from '../../src/cli/parse-command.js';
import { catchErrorAsync } from '../support/catch-error.js';
import { testContext } from '../support/context.js';

const update = findCommand('update')!;
const cli = suite('mcp-lok update');
let home = '';
cli.before.each(() => { home = mkdtempSync(join(tmpdir(), 'lok-update-')); });
cli.after.each(() => { rmSync(home, { recursive: true, force: true }); });

cli('is in the command table, its help listing --yes, --rollback and --json', () => {
  const help = renderCommandHelp(update);
  for (const flag of ['-y, --yes', '--rollback', '--json']) assert.ok(help.includes(flag), flag);
  assert.equal(parseCommandArgs(update, ['pkg', '-y']).values.yes, true);
  assert.equal(parseCommandArgs(update, []).positionals, []);
});

for (const [args, message] of [
  [['--rollback'], /`--rollback` needs the server NAME or PACKAGE/],
  [['--rollback', '--yes', 'pkg'], /`--rollback` takes no `--yes`/],
  [['--yes'], /`--yes` needs the server NAME or PACKAGE/],
] as const) {
  cli(`refuses ${args.join(' ')} with one line and exit 2, touching no engine`, async () => {
    const error = await catchErrorAsync(() => runUpdate(testContext({ home }), parseCommandArgs(update, [...args])));
    assert.is(error.exitCode, 2);
    assert.match(error.message, message);
  });
}

cli('says so when nothing is pinned (exit 0), and that nothing pins a package it is asked about', async () => {
  const out: string[] = [];
  const ctx = testContext({ home });
  ctx.stdout.on('data', (c: Buffer) => out.push(c.toString()));
  assert.is(await runUpdate(ctx, parseCommandArgs(update, [])), 0);
  assert.is(out.join(''), 'Nothing is pinned yet: a package is pinned on its first start.\n');
  const error = await catchErrorAsync(() => runUpdate(ctx, parseCommandArgs(update, ['@scope/pkg'])));
  assert.is(error.exitCode, 1);
  assert.match(error.message, /^Nothing pins @scope\/pkg/);
});

cli('a target that is neither a server nor a package name is one line of update\'s own, exit 2', async () => {
  const error = await catchErrorAsync(() => runUpdate(testContext({ home }), parseCommandArgs(update, ['../x'])));
  assert.is(error.exitCode, 2);
  assert.is(error.message, '`../x` is neither a background server\'s name nor an npm package.');
  assert.match(error.hint ?? '', /mcp-lok update/);
});

cli('lists each pin, its pinned version and what the registry has now', () => {
  const text = renderPinStates([
    { specs: ['a@latest'], registry: 'r', pinned: [{ name: 'a', version: '1.0.0' }], newer: [{ name: 'a', version: '1.1.0' }] },
    { specs: ['b@^2'], registry: 'r', pinned: [{ name: 'b', version: '2.0.0' }], newer: [] },
    { specs: ['c@latest'], registry: 'r', pinned: [{ name: 'c', version: '3.0.0' }], newer: undefined, error: 'the registry could not be reached\u001b[2J' },
  ], false);
  assert.is(text, [
    'PACKAGE   PINNED  REGISTRY NOW',
    'a@latest  1.0.0   1.1.0 available',
    'b@^2      2.0.0   up to date',
    'c@latest  3.0.0   could not ask the registry: the registry could not be reached\\x1b[2J',
    '',
  ].join('\n'));
});

cli('asks only on a terminal and only after the review was printed: --json (its review comes after the answer) asks nothing', () => {
  assert.is(answerOf({ yes: true, json: true, terminal: true }), 'yes');
  assert.is(answerOf({ yes: false, json: false, terminal: true }), 'ask');
  assert.is(answerOf({ yes: false, json: false, terminal: false }), 'no-terminal');
  assert.is(answerOf({ yes: false, json: true, terminal: true }), 'json');
});

cli.run();
