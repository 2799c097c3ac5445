import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LokError } from '../../src/errors.js';
import { catchError } from '../support/catch-error.js';
import { DEFAULT_UPDATE_CHECK_MS, findOption, flagColumnWidth, renderFlagHelp, renderShimHelp, resolveLokOptions, SHIM_OPTIONS, type LokOptions, type RawLokValues } from '../../src/request/options.js';


const DEFAULTS: LokOptions = {
  profile: 'stdio',
  env: [],
  clientEnv: true,
  name: undefined,
  ephemeral: false,
  memoryBytes: 1024 ** 3,
  cpus: 2,
  pids: 256,
  caCert: undefined,
  registry: undefined,
  refreshAfterMs: undefined,
  updateCheckMs: 24 * 3_600_000,
  pinTools: 'observe',
  engine: undefined,
  debug: false,
};

const resolve = suite('resolveLokOptions');

resolve('uses the documented defaults when neither flags nor variables are given', () => {
  assert.equal(resolveLokOptions({}, {}), DEFAULTS);
});

resolve('reads every option from its MCP_LOK_* variable', () => {
  const env = {
    MCP_LOK_PROFILE: 'network', MCP_LOK_ENV: 'TOKEN, MODE=fast,,', MCP_LOK_NAME: 'srv', MCP_LOK_MEMORY: '1g',
    MCP_LOK_CPUS: '0.5', MCP_LOK_PIDS: '64', MCP_LOK_CA_CERT: '/etc/ca.pem', MCP_LOK_REGISTRY: 'https://r.example',
    MCP_LOK_REFRESH_AFTER: 'never', MCP_LOK_UPDATE_CHECK: '12h', MCP_LOK_ENGINE: 'unix:///run/docker.sock', MCP_LOK_DEBUG: 'true', MCP_LOK_CLIENT_ENV: 'off', MCP_LOK_EPHEMERAL: '1',
    MCP_LOK_PIN_TOOLS: 'enforce',
  };
  assert.equal(resolveLokOptions({}, env), {
    profile: 'network', env: [{ name: 'TOKEN', value: undefined }, { name: 'MODE', value: 'fast' }], clientEnv: false, name: 'srv', ephemeral: true,
    memoryBytes: 1024 ** 3, cpus: 0.5, pids: 64, caCert: '/etc/ca.pem', registry: 'https://r.example/',
    refreshAfterMs: Infinity, updateCheckMs: 12 * 3_600_000, pinTools: 'enforce', engine: 'unix:///run/docker.sock', debug: true,
  });
});

resolve('lets command-line values win over variables, the last flag winning', () => {
  const out = resolveLokOptions({ memoryBytes: ['256m', '1g'], profile: ['stdio'], debug: ['false'] }, { MCP_LOK_MEMORY: '2g', MCP_LOK_PROFILE: 'network', MCP_LOK_DEBUG: '1' });
  assert.is(out.memoryBytes, 1024 ** 3);
  assert.is(out.profile, 'stdio');
  assert.is(out.debug, false);
});

resolve('keeps a home volume unless --ephemeral or MCP_LOK_EPHEMERAL says otherwise, the flag winning', () => {
  assert.is(resolveLokOptions({}, {}).ephemeral, false);
  assert.is(resolveLokOptions({ ephemeral: ['true'] }, {}).ephemeral, true);
  assert.is(resolveLokOptions({}, { MCP_LOK_EPHEMERAL: '1' }).ephemeral, true);
  assert.is(resolveLokOptions({ ephemeral: ['false'] }, { MCP_LOK_EPHEMERAL: '1' }).ephemeral, false);
  assert.match(catchError(() => resolveLokOptions({}, { MCP_LOK_EPHEMERAL: 'maybe' })).message, /MCP_LOK_EPHEMERAL to be `1`, `true`, `0` or `false`/);
  assert.ok(renderShimHelp().includes('--ephemeral'));
});

resolve('adds -e entries to MCP_LOK_ENV, the flag winning for the same name', () => {
  const out = resolveLokOptions({ env: ['MODE=slow', 'EXTRA'] }, { MCP_LOK_ENV: 'TOKEN,MODE=fast' });
  assert.equal(out.env, [{ name: 'TOKEN', value: undefined }, { name: 'MODE', value: 'slow' }, { name: 'EXTRA', value: undefined }]);
});

resolve('pins by default, floats only when --refresh-after or MCP_LOK_REFRESH_AFTER says so, the flag winning', () => {
  assert.is(resolveLokOptions({}, {}).refreshAfterMs, undefined);
  assert.is(resolveLokOptions({ refreshAfterMs: ['12h'] }, {}).refreshAfterMs, 12 * 3_600_000);
  assert.is(resolveLokOptions({}, { MCP_LOK_REFRESH_AFTER: '0' }).refreshAfterMs, 0);
  assert.is(resolveLokOptions({ refreshAfterMs: ['never'] }, { MCP_LOK_REFRESH_AFTER: '0' }).refreshAfterMs, Infinity);
});

resolve('looks for newer versions once a day unless --update-check or MCP_LOK_UPDATE_CHECK says otherwise', () => {
  assert.is(resolveLokOptions({}, {}).updateCheckMs, DEFAULT_UPDATE_CHECK_MS);
  assert.is(DEFAULT_UPDATE_CHECK_MS, 24 * 3_600_000);
  assert.is(resolveLokOptions({ updateCheckMs: ['never'] }, {}).updateCheckMs, Infinity);
  assert.is(resolveLokOptions({}, { MCP_LOK_UPDATE_CHECK: '30s' }).updateCheckMs, 30_000);
  assert.is(resolveLokOptions({ updateCheckMs: ['0'] }, { MCP_LOK_UPDATE_CHECK: 'never' }).updateCheckMs, 0);
});

resolve('treats empty variables as unset', () => {
  assert.equal(resolveLokOptions({}, { MCP_LOK_MEMORY: '', MCP_LOK_NAME: ' ', MCP_LOK_DEBUG: '' }), DEFAULTS);
});

const REFUSALS: Array<[RawLokValues, Record<string, string>, string]> = [
  [{ memoryBytes: ['lots'] }, {}, 'Expected `--memory` to be a size such as `512m` (at least `6m`), got `lots`.'],
  [{}, { MCP_LOK_MEMORY: 'lots' }, 'Expected MCP_LOK_MEMORY to be a size such as `512m` (at least `6m`), got `lots`.'],
  [{ memoryBytes: ['1m'] }, {}, 'Expected `--memory` to be a size such as `512m` (at least `6m`), got `1m`.'],
  [{ cpus: ['0'] }, {}, 'Expected `--cpus` to be a number of CPUs from `0.01` to `64` such as `1.5`, got `0`.'],
  [{}, { MCP_LOK_PIDS: '1' }, 'Expected MCP_LOK_PIDS to be a whole number from `16` to `32768`, got `1`.'],
  [{ name: ['-bad'] }, {}, 'Expected `--name` to be a container name such as `my-server` (letters, digits, `_`, `.`, `-`; at most 63), got `-bad`.'],
  [{ registry: ['ftp://x'] }, {}, 'Expected `--registry` to be an http(s) URL such as `https://registry.npmjs.org/`, got `ftp://x`.'],
  [{ refreshAfterMs: ['soon'] }, {}, 'Expected `--refresh-after` to be a duration such as `30s`, `15m`, `12h`, `7d`, `0` or `never`, got `soon`.'],
  [{ updateCheckMs: ['daily'] }, {}, 'Expected `--update-check` to be a duration such as `30s`, `15m`, `12h`, `7d`, `0` or `never`, got `daily`.'],
  [{}, { MCP_LOK_UPDATE_CHECK: '-1' }, 'Expected MCP_LOK_UPDATE_CHECK to be a duration such as `30s`, `15m`, `12h`, `7d`, `0` or `never`, got `-1`.'],
  [{ pinTools: ['strict'] }, {}, 'Expected `--pin-tools` to be `observe`, `enforce` or `off`, got `strict`.'],
  [{}, { MCP_LOK_PIN_TOOLS: 'on' }, 'Expected MCP_LOK_PIN_TOOLS to be `observe`, `enforce` or `off`, got `on`.'],
  [{ engine: ['docker.sock'] }, {}, 'Expected `--engine` to be an engine address such as `unix:///var/run/docker.sock`, `/path/to/docker.sock` or `tcp://host:2375`, got `docker.sock`.'],
  [{}, { MCP_LOK_DEBUG: 'maybe' }, 'Expected MCP_LOK_DEBUG to be `1`, `true`, `0` or `false`, got `maybe`.'],
  [{ clientEnv: ['all'] }, {}, 'Expected `--client-env` to be `auto` or `off`, got `all`.'],
  [{ profile: [''] }, {}, 'Expected `--profile` to be a profile name such as `stdio` or a path to a profile file, got ``.'],
  [{ env: ['1BAD=hunter2'] }, {}, 'Expected `--env` to be a variable name such as `API_KEY` or `API_KEY=value`, got `1BAD=…`.'],
  [{}, { MCP_LOK_ENV: 'OK,BAD-NAME=hunter2' }, 'Expected MCP_LOK_ENV to be a variable name such as `API_KEY` or `API_KEY=value`, got `BAD-NAME=…`.'],
];

for (const [cli, env, message] of REFUSALS) {
  resolve(`refuses ${JSON.stringify({ ...cli, ...env })} with a message naming where the value came from`, () => {
    const error = catchError(() => resolveLokOptions(cli, env));
    assert.is(error.code, 'INVALID_INPUT');
    assert.is(error.exitCode, 2);
    assert.is(error.message, message);
  });
}

resolve('never prints the value of a rejected -e entry, which may be a secret', () => {
  assert.not.match(catchError(() => resolveLokOptions({ env: ['9X=hunter2'] }, {})).message, /hunter2/);
});

resolve.run();

const find = suite('findOption');

for (const [flag, key] of [
  ['--profile', 'profile'],
  ['--permission-profile', 'profile'],
  ['-e', 'env'],
  ['--env', 'env'],
  ['--memory', 'memoryBytes'],
  ['--refresh-after', 'refreshAfterMs'],
  ['--update-check', 'updateCheckMs'],
  ['-y', 'yes'],
  ['--no-install', 'no'],
  ['--silent', 'quiet'],
  ['--offline', 'cacheMode'],
  ['-v', 'version'],
  ['--nope', undefined],
  ['--constructor', undefined],
] as const) {
  find(`finds ${flag} ${key ? `as the ${key} option` : 'nowhere'}`, () => {
    assert.is(findOption(flag)?.key, key);
  });
}

find('gives every flag to exactly one option', () => {
  const flags = Object.values(SHIM_OPTIONS).flatMap((d) => [...d.flags]);
  assert.is(new Set(flags).size, flags.length);
});

find.run();

const help = suite('renderShimHelp');

help('starts with the usage line and ends with a newline', () => {
  const text = renderShimHelp();
  assert.ok(text.startsWith('Usage: mcp-lok-npx [mcp-lok options] [npx options] <package>[@version] [args...]\n'));
  assert.ok(text.endsWith('\n'));
});

help('lists every flag of the table, with its variable and default', () => {
  const text = renderShimHelp();
  for (const def of Object.values(SHIM_OPTIONS)) for (const flag of def.flags) assert.ok(text.includes(flag), flag);
  assert.ok(text.includes('[env MCP_LOK_MEMORY, default 1g]'));
  assert.ok(text.includes('[env MCP_LOK_PROFILE, default stdio]'));
  assert.ok(text.includes('[env MCP_LOK_ENV, comma-separated]'));
  assert.ok(text.includes('[env MCP_LOK_REFRESH_AFTER]\n'), 'pinned by default: --refresh-after has no default');
  assert.ok(text.includes('[env MCP_LOK_UPDATE_CHECK, default 24h]'));
});

help('puts mcp-lok options before npx options, and shows examples with a client config line', () => {
  const text = renderShimHelp();
  assert.ok(text.indexOf('mcp-lok options') < text.indexOf('npx options:'));
  assert.ok(text.indexOf('npx options:') < text.indexOf('Examples:'));
  assert.match(text, /"command": "mcp-lok-npx", "args": \["-y", "@modelcontextprotocol\/server-memory"\]/);
});

help('has no colour codes and no line wider than 120 columns', () => {
  const text = renderShimHelp();
  assert.not.match(text, /\u001b/);
  for (const line of text.split('\n')) assert.ok(line.length <= 120, line);
});

help('renders one flag: label and description on one line when the label fits, then its variable and default', () => {
  assert.equal(renderFlagHelp({ flags: ['--pids'], value: 'N', description: 'Process limit.', env: 'MCP_LOK_PIDS', default: '256' }, 10), [
    '  --pids N  Process limit.',
    '            [env MCP_LOK_PIDS, default 256]',
  ]);
  assert.equal(renderFlagHelp({ flags: ['--a-long-flag'], value: 'VALUE', description: 'Text.', repeatable: true }, 10), [
    '  --a-long-flag VALUE',
    '            Text. Repeatable.',
  ]);
  assert.equal(renderFlagHelp({ flags: ['--host'], description: 'Where.', default: '127.0.0.1' }, 8), [
    '  --host  Where.',
    '          [default 127.0.0.1]',
  ]);
  assert.is(flagColumnWidth([{ flags: ['-a'], description: '' }, { flags: ['--bb'], value: 'X', description: '' }]), 8);
  assert.is(flagColumnWidth([{ flags: ['--'.padEnd(40, 'x')], description: '' }]), 26);
});

help.run();
