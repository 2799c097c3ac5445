import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { defaultContainerName } from '../../src/app/plan.js';
import { resolveLokOptions } from '../../src/request/options.js';
import { completeRequest, resolveUserEnv, type ParsedServer } from '../../src/request/server-request.js';
import { catchError } from '../support/catch-error.js';

const env = suite('resolveUserEnv');

env('copies named variables from our environment and sets given values', () => {
  const out = resolveUserEnv([{ name: 'TOKEN', value: undefined }, { name: 'MODE', value: 'fast' }], { TOKEN: 't0k', HOME: '/root', SECRET: 's' });
  assert.equal(out, { TOKEN: 't0k', MODE: 'fast' });
});

env('passes nothing that was not named, and skips names that are unset', () => {
  assert.equal(resolveUserEnv([{ name: 'MISSING', value: undefined }], { HOME: '/root', PATH: '/bin' }), {});
});

env('keeps empty values and values with = signs', () => {
  assert.equal(resolveUserEnv([{ name: 'A', value: '' }, { name: 'B', value: 'x=y' }], {}), { A: '', B: 'x=y' });
});

env.run();

const name = suite('defaultContainerName');

for (const [pkg, expected] of [
  ['@modelcontextprotocol/server-memory', 'mcp-lok-modelcontextprotocol-server-memory-abc123'],
  ['cowsay', 'mcp-lok-cowsay-abc123'],
  ['@x/' + 'y'.repeat(80), `mcp-lok-x-${'y'.repeat(38)}-abc123`],
] as const) {
  name(`names ${pkg.slice(0, 40)} validly`, () => {
    const n = defaultContainerName(pkg, 'abc123');
    assert.is(n, expected);
    assert.match(n, /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/);
  });
}

name.run();

const complete = suite('completeRequest');

const parsed = (flags: Parameters<typeof resolveLokOptions>[0]): ParsedServer => ({
  source: { kind: 'npx', packages: [], command: undefined, allowInstall: true },
  args: [],
  lok: resolveLokOptions(flags, {}),
  quiet: false,
  launcher: 'npx',
});

complete('gives the server the client\'s variables, and -e over them', () => {
  const req = completeRequest(parsed({ env: ['MODE=explicit', 'TOKEN'] }), {
    configDir: '/cfg', cwd: '/home/me', env: { TOKEN: 't' }, clientEnv: { MODE: 'from-config', API_KEY: 'k' },
  });
  assert.equal(req.env, { MODE: 'explicit', API_KEY: 'k', TOKEN: 't' });
});

complete('makes a relative CA file absolute against the working folder', () => {
  const req = completeRequest(parsed({ caCert: ['certs/ca.pem'] }), { configDir: '/cfg', cwd: '/home/me', env: {} });
  assert.is(req.lok.caCert, '/home/me/certs/ca.pem');
});

const RELATIVE: Array<[Parameters<typeof resolveLokOptions>[0], string]> = [[{ caCert: ['ca.pem'] }, 'CA file (--ca-cert, MCP_LOK_CA_CERT)'], [{ profile: ['./mine.json'] }, 'profile'], [{ profile: ['profiles/mine.json'] }, 'profile']];
for (const [flags, what] of RELATIVE) {
  complete(`refuses a relative ${what} path when the working folder is / (a desktop client's)`, () => {
    const error = catchError(() => completeRequest(parsed(flags), { configDir: '/cfg', cwd: '/', env: {} }));
    assert.is(error.code, 'INVALID_INPUT');
    assert.is(error.exitCode, 2);
    assert.ok(error.message.startsWith(`The ${what} path `), error.message);
    assert.match(error.message, /is relative, but the working folder is \/ \(desktop clients start servers there\): mcp-lok does not read it as `\/(ca\.pem|mine\.json|profiles\/mine\.json)`\.$/);
    assert.match(error.hint ?? '', /absolute path/);
  });
}

complete.run();
