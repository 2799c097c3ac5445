import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LokError } from '../../src/errors.js';
import { catchError } from '../support/catch-error.js';
import { resolveLokOptions } from '../../src/request/options.js';
import { parseNpxArgs, type NpxInvocation } from '../../src/request/npx-args.js';
import { parsePackageSpec } from '../../src/request/package-spec.js';


const LOK = resolveLokOptions({}, {});

function run(packages: string[], rest: Partial<Extract<NpxInvocation, { kind: 'run' }>> = {}): NpxInvocation {
  return { kind: 'run', lok: LOK, yes: undefined, quiet: false, packages: packages.map((p) => parsePackageSpec(p)), command: undefined, args: [], ...rest };
}

const parse = suite('parseNpxArgs');

for (const [argv, expected] of [
  [['-y', '@modelcontextprotocol/server-memory'], run(['@modelcontextprotocol/server-memory'], { yes: true })],
  [['-y', '@modelcontextprotocol/server-everything', 'stdio'], run(['@modelcontextprotocol/server-everything'], { yes: true, args: ['stdio'] })],
  [['@playwright/mcp@latest'], run(['@playwright/mcp@latest'])],
  [['-y', '@modelcontextprotocol/server-filesystem', '/Users/me/Desktop', '/tmp'], run(['@modelcontextprotocol/server-filesystem'], { yes: true, args: ['/Users/me/Desktop', '/tmp'] })],
  [['-y', 'server-everything', '--port', '3'], run(['server-everything'], { yes: true, args: ['--port', '3'] })],
  [['-y', '-p', 'a', '-p', 'b', 'b-cli', '--x'], run(['a', 'b'], { yes: true, command: 'b-cli', args: ['--x'] })],
  [['--package=a@1.2.3', 'a-cli'], run(['a@1.2.3'], { command: 'a-cli' })],
  [['-pa', 'a-cli'], run(['a'], { command: 'a-cli' })],
  [['-p', 'a'], run(['a'])],
  [['--', 'pkg', '--help'], run(['pkg'], { args: ['--help'] })],
  [['pkg', '-y', '--debug'], run(['pkg'], { args: ['-y', '--debug'] })],
  [['pkg', '--', 'x'], run(['pkg'], { args: ['--', 'x'] })],
  [['-yq', 'pkg'], run(['pkg'], { yes: true, quiet: true })],
  [['--silent', 'pkg'], run(['pkg'], { quiet: true })],
  [['--no', 'pkg'], run(['pkg'], { yes: false })],
  [['--no-install', 'pkg'], run(['pkg'], { yes: false })],
  [['--yes=false', 'pkg'], run(['pkg'], { yes: false })],
  [['--no', '--yes', 'pkg'], run(['pkg'], { yes: true })],
  [['--loglevel', 'silent', '--prefer-offline', '--prefer-online', '--offline', 'pkg'], run(['pkg'])],
  [['--loglevel=warn', 'pkg'], run(['pkg'])],
  [['-h'], { kind: 'help' }],
  [['--help', 'pkg'], { kind: 'help' }],
  [['--memory', 'lots', '--help'], { kind: 'help' }],
  [['-v'], { kind: 'version' }],
  [['--version'], { kind: 'version' }],
  [['pkg', '-v'], run(['pkg'], { args: ['-v'] })],
] as const) {
  parse(`reads ${JSON.stringify(argv)}`, () => {
    assert.equal(parseNpxArgs([...argv], {}), expected);
  });
}

parse('takes the positional after -- even when it looks like a flag', () => {
  const error = catchError(() => parseNpxArgs(['-y', '--', '-p', 'x'], {}));
  assert.is(error.code, 'INVALID_INPUT');
  assert.match(error.message, /^`-p` is not a valid npm package name/);
});

parse('mixes mcp-lok options with npx options before the package, in both value forms', () => {
  const out = parseNpxArgs([
    '--profile', 'network', '-y', '--memory=1g', '-e', 'TOKEN', '-e', 'MODE=fast', '--cpus', '2', '-q',
    '--pids=128', '--name', 'mem', '--ca-cert', '/ca.pem', '--registry', 'https://r.example', '--refresh-after', '0', '--update-check', 'never',
    '--engine', 'tcp://localhost:2375', '--debug', '--client-env', 'off', '--ephemeral', '--pin-tools', 'enforce', '@modelcontextprotocol/server-memory', '--memory', '9g',
  ], {});
  assert.equal(out, run(['@modelcontextprotocol/server-memory'], {
    yes: true,
    quiet: true,
    args: ['--memory', '9g'],
    lok: {
      profile: 'network', env: [{ name: 'TOKEN', value: undefined }, { name: 'MODE', value: 'fast' }], clientEnv: false, name: 'mem', ephemeral: true,
      memoryBytes: 1024 ** 3, cpus: 2, pids: 128, caCert: '/ca.pem', registry: 'https://r.example/',
      refreshAfterMs: 0, updateCheckMs: Infinity, pinTools: 'enforce', engine: 'tcp://localhost:2375', debug: true,
    },
  }));
});

parse('accepts --permission-profile and short -e values glued on', () => {
  const out = parseNpxArgs(['--permission-profile=network', '-eTOKEN', '-e=MODE=x', 'pkg'], {});
  assert.ok(out.kind === 'run');
  if (out.kind !== 'run') return;
  assert.is(out.lok.profile, 'network');
  assert.equal(out.lok.env, [{ name: 'TOKEN', value: undefined }, { name: 'MODE', value: 'x' }]);
});

parse('takes defaults from the environment and lets flags override them', () => {
  const env = { MCP_LOK_MEMORY: '2g', MCP_LOK_PROFILE: 'network', MCP_LOK_DEBUG: '1', MCP_LOK_ENV: 'A,B=1' };
  const fromEnv = parseNpxArgs(['pkg'], env);
  const fromFlags = parseNpxArgs(['--memory', '256m', '--profile', 'stdio', '-e', 'B=2', 'pkg'], env);
  if (fromEnv.kind !== 'run' || fromFlags.kind !== 'run') throw new Error('expected run');
  assert.equal([fromEnv.lok.memoryBytes, fromEnv.lok.profile, fromEnv.lok.debug], [2 * 1024 ** 3, 'network', true]);
  assert.equal([fromFlags.lok.memoryBytes, fromFlags.lok.profile], [256 * 1024 ** 2, 'stdio']);
  assert.equal(fromFlags.lok.env, [{ name: 'A', value: undefined }, { name: 'B', value: '2' }]);
});

for (const [argv, code, pattern] of [
  [[], 'USAGE', /^Missing the package to run\. Usage: mcp-lok-npx \[options\] <package>\[@version\] \[args\.\.\.\]$/],
  [['-y'], 'USAGE', /^Missing the package to run/],
  [['--'], 'USAGE', /^Missing the package to run/],
  [['-c', 'echo hi'], 'USAGE', /`-c` is not supported/],
  [['--call', 'echo hi'], 'USAGE', /`--call` is not supported/],
  [['--call=echo hi'], 'USAGE', /`--call` is not supported/],
  [['-yc', 'echo hi'], 'USAGE', /`-c` is not supported/],
  [['--shell-auto-fallback'], 'USAGE', /`--shell-auto-fallback` is not supported/],
  [['--workspace', 'a', 'pkg'], 'USAGE', /`--workspace` is not supported/],
  [['--bogus', 'pkg'], 'USAGE', /Unknown option `--bogus`/],
  [['-x', 'pkg'], 'USAGE', /Unknown option `-x`/],
  [['-yz', 'pkg'], 'USAGE', /Unknown option `-z`/],
  [['--yes=maybe', 'pkg'], 'USAGE', /Expected `--yes` to be `true` or `false`, got `maybe`/],
  [['--memory'], 'USAGE', /^Missing the value of `--memory`\.$/],
  [['-p'], 'USAGE', /^Missing the value of `-p`\.$/],
  [['--profile', '--debug', 'pkg'], 'USAGE', /^Missing the value of `--profile` \(got the option `--debug`\)\.$/],
  [['-p', 'a', 'a@1'], 'USAGE', /bin name such as `server-cli`, got `a@1`/],
  [['-p', 'a', 'dir/a-cli'], 'USAGE', /got `dir\/a-cli`/],
  [['--memory', 'lots', 'pkg'], 'INVALID_INPUT', /^Expected `--memory` to be a size such as `512m` \(at least `6m`\), got `lots`\.$/],
  [['-e', '1BAD', 'pkg'], 'INVALID_INPUT', /`--env`/],
  [['-e=', 'pkg'], 'INVALID_INPUT', /`--env`.*got ``/],
  [['--memory=', 'pkg'], 'INVALID_INPUT', /`--memory`.*got ``/],
  [['./my-server'], 'PACKAGE_SPEC_UNSUPPORTED', /^Cannot run `\.\/my-server`: local paths are not supported yet/],
  [['-p', 'github:u/r', 'x'], 'PACKAGE_SPEC_UNSUPPORTED', /git repositories/],
  [['Bad-Name'], 'INVALID_INPUT', /`Bad-Name` is not a valid npm package name/],
] as const) {
  parse(`refuses ${JSON.stringify(argv)} with ${code}`, () => {
    const error = catchError(() => parseNpxArgs([...argv], {}));
    assert.is(error.code, code);
    assert.is(error.exitCode, 2);
    assert.match(error.message, pattern);
    if (code === 'USAGE') assert.match(error.hint ?? '', /mcp-lok-npx --help|-p/);
  });
}

parse('refuses a bad MCP_LOK_* variable by name', () => {
  const error = catchError(() => parseNpxArgs(['pkg'], { MCP_LOK_CPUS: '100' }));
  assert.is(error.message, 'Expected MCP_LOK_CPUS to be a number of CPUs from `0.01` to `64` such as `1.5`, got `100`.');
});

parse('does not read the environment for help or version', () => {
  assert.equal(parseNpxArgs(['--help'], { MCP_LOK_CPUS: '100' }), { kind: 'help' });
});

parse.run();
