import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_TARGET_PORT } from '../../src/app/serve-http.js';
import { COMMANDS } from '../../src/cli/commands.js';
import { renderHelp, renderRunHelp } from '../../src/cli/help.js';
import { DEFAULT_BIND_HOST, parseRunArgs, RUN_FLAGS, runOptions, type RunCommand } from '../../src/cli/run-args.js';
import { LokError } from '../../src/errors.js';
import { renderShimHelp, SHIM_OPTIONS } from '../../src/request/options.js';

const COMMANDS_WITH_RUN_ARGS: readonly RunCommand[] = ['run', 'start'];

/** Every flag spelling any table knows, plus a few no table has: the candidates to probe the parser with. */
const CANDIDATES = [...new Set([
  ...Object.values(RUN_FLAGS).flatMap((d) => [...d.flags]),
  ...Object.values(SHIM_OPTIONS).flatMap((d) => [...d.flags]),
  '--bogus', '-x', '--all', '--force', '--detach', '-d', '--rm', '--network', '--volume', '-v',
])];

/** Returns whether parseRunArgs takes `flag` for `command` (it may still refuse the value given to it). */
function parserTakes(flag: string, command: RunCommand): boolean {
  try {
    // An HTTP transport so that HTTP-only flags are not refused for stdio; `x` is the flag's value or the server.
    parseRunArgs(['--transport', 'sse', flag, 'x', 'img'], {}, command);
    return true;
  } catch (error) {
    if (!(error instanceof LokError)) throw error;
    return !/^Unknown option/.test(error.message);
  }
}

/** Returns the help without its Examples (whose lines quote real command lines, not flags to explain). */
function optionsPart(text: string): string {
  return text.slice(0, text.indexOf('\nExamples:\n'));
}

function mentions(text: string, flag: string): boolean {
  return new RegExp(`(?<![\\w-])${flag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`).test(text);
}

const table = suite('run and start help from the option table');

for (const command of COMMANDS_WITH_RUN_ARGS) {
  table(`${command} --help lists every flag the parser takes`, () => {
    const help = optionsPart(renderRunHelp(command));
    const taken = CANDIDATES.filter((flag) => parserTakes(flag, command));
    assert.ok(taken.includes('--refresh-after') && taken.includes('--engine'), 'the parser takes --refresh-after and --engine');
    for (const flag of taken) assert.ok(mentions(help, flag), `${command} takes ${flag}, but its help does not list it`);
  });

  table(`${command} --help mentions no flag the parser refuses`, () => {
    const help = renderRunHelp(command);
    const shown = [...new Set(help.match(/(?<![\w/-])--?[a-zA-Z][\w-]*/g) ?? [])];
    assert.ok(shown.length >= runOptions(command).length, 'found the flags in the help');
    for (const flag of shown) assert.ok(parserTakes(flag, command), `${command} --help mentions ${flag}, which the parser refuses`);
  });

  table(`${command} --help lists each table entry once, under the flags ${command} takes`, () => {
    const help = optionsPart(renderRunHelp(command));
    for (const option of runOptions(command)) {
      const label = `  ${option.def.flags.join(', ')}${option.def.value ? ` ${option.def.value}` : ''}`;
      assert.is(help.split('\n').filter((line) => line.startsWith(`${label} `) || line === label).length, 1, label);
    }
  });

  table(`${command} --help's examples parse`, () => {
    const examples = renderRunHelp(command).split('\nExamples:\n')[1]?.trim().split('\n') ?? [];
    assert.ok(examples.length >= 2);
    for (const example of examples) {
      const [program, name, ...argv] = example.trim().split(/\s+/);
      assert.equal([program, name], ['mcp-lok', command], example);
      assert.is(parseRunArgs(argv, {}, command).kind, 'run', example);
    }
  });

  table(`${command} --help has no colour codes and no option line wider than 120 columns`, () => {
    const help = renderRunHelp(command);
    assert.not.match(help, /\u001b/);
    assert.ok(help.endsWith('\n'));
    for (const line of optionsPart(help).split('\n')) assert.ok(line.length <= 120, line);
  });

  table(`${command} --help shows the shim's options as mcp-lok-npx --help does`, () => {
    const help = renderRunHelp(command);
    const shim = renderShimHelp();
    const shimOnly = Object.values(SHIM_OPTIONS).filter((d) => d.shimOnly);
    for (const def of Object.values(SHIM_OPTIONS).filter((d) => d.group === 'mcp-lok' && !d.shimOnly)) {
      const described = shim.split('\n').filter((line) => line.includes(def.description));
      assert.is(described.length, 1, def.description);
      assert.ok(help.includes(described[0] ?? '-'), `${def.flags.join(', ')} reads differently in ${command} --help`);
    }
    const ownVariable = (line: string): boolean => shimOnly.some((d) => 'env' in d && line.includes(`[env ${String(d.env)}`));
    for (const line of shim.split('\n').filter((l) => l.includes('[env ') && !ownVariable(l))) assert.ok(help.includes(line), line);
    // Only mcp-lok-npx has a client config whose variables it can tell apart.
    for (const def of shimOnly) for (const flag of def.flags) assert.not.ok(help.includes(flag), flag);
  });
}

table('run and start show their own defaults', () => {
  assert.ok(renderRunHelp('run').includes('[default stdio]'));
  assert.ok(renderRunHelp('start').includes('[default streamable-http]'));
  assert.ok(renderRunHelp('start').includes(`[default ${DEFAULT_BIND_HOST}]`));
  assert.is(RUN_FLAGS.targetPort.default, String(DEFAULT_TARGET_PORT));
  assert.ok(renderRunHelp('run').includes(`[default ${DEFAULT_TARGET_PORT}]`));
});

table('--json is start\'s alone: in its help and parsed there, in neither for run', () => {
  assert.ok(mentions(renderRunHelp('start'), '--json') && parserTakes('--json', 'start'));
  assert.not.ok(mentions(renderRunHelp('run'), '--json') || parserTakes('--json', 'run'));
});

table.run();

const overview = suite('renderHelp');

overview('lists every command of the table with its summary', () => {
  const help = renderHelp();
  for (const c of COMMANDS) assert.match(help, new RegExp(`\\n  ${c.name} +${c.summary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n`), c.name);
});

overview('names as commands only those that exist, and promises none as coming', () => {
  const help = renderHelp();
  assert.not.match(help, /coming/i);
  const named = [...help.matchAll(/`mcp-lok ([a-z]+)/g)].map((m) => m[1]);
  for (const name of named) assert.ok(COMMANDS.some((c) => c.name === name), `${name} is not a command`);
});

overview.run();
