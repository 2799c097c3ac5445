import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveLokOptions } from '../../src/request/options.js';
import type { ParentRead } from '../../src/request/client-env.js';
import { resolveClientEnv } from '../../src/shim/run.js';
import { testContext } from '../support/context.js';

const CLIENT = { HOME: '/home/me', PATH: '/usr/bin:/bin', GITHUB_TOKEN: 'shell-secret' };
const fromClient: () => ParentRead = () => ({ ok: true, program: 'node', has: (name, value) => (CLIENT as Record<string, string>)[name] === value });
const unreadable: () => ParentRead = () => ({ ok: false, reason: 'Windows offers no way to read another process\'s environment' });

function run(env: Record<string, string>, flags: Parameters<typeof resolveLokOptions>[0], parent: () => ParentRead): { env: Record<string, string>; lines: string[] } {
  const ctx = testContext({ home: '/home/me', env });
  const out = resolveClientEnv(ctx, resolveLokOptions(flags, env), parent);
  return { env: out.env, lines: out.notice ? [out.notice] : [] };
}

const resolve = suite('resolveClientEnv');

resolve('passes the config\'s variables, naming them (never their values) on stderr', () => {
  const out = run({ ...CLIENT, API_KEY: 'k3y', MODE: 'fast' }, {}, fromClient);
  assert.equal(out.env, { API_KEY: 'k3y', MODE: 'fast' });
  assert.equal(out.lines, ['mcp-lok: passing API_KEY, MODE to the server: set by the client for it, not inherited (-e NAME passes only the names given; --client-env off, only -e).']);
});

resolve('says nothing when the client added nothing', () => {
  assert.equal(run({ ...CLIENT }, {}, fromClient), { env: {}, lines: [] });
});

resolve('passes nothing, and reads no parent, with --client-env off or MCP_LOK_CLIENT_ENV=off', () => {
  const never = (): ParentRead => { throw new Error('read the parent'); };
  assert.equal(run({ ...CLIENT, API_KEY: 'k' }, { clientEnv: ['off'] }, never), { env: {}, lines: [] });
  assert.equal(run({ ...CLIENT, API_KEY: 'k', MCP_LOK_CLIENT_ENV: 'off' }, {}, never), { env: {}, lines: [] });
});

resolve('with -e the list is explicit: nothing else passes this way, and no parent is read', () => {
  const never = (): ParentRead => { throw new Error('read the parent'); };
  assert.equal(run({ ...CLIENT, API_KEY: 'k', OTHER: 'o' }, { env: ['API_KEY'] }, never), { env: {}, lines: [] });
});

resolve('passes nothing when the parent cannot be read, and says why and how to pass variables, in one line', () => {
  const out = run({ ...CLIENT, API_KEY: 'k' }, {}, unreadable);
  assert.equal(out.env, {});
  assert.equal(out.lines, ['mcp-lok: no variable from the client\'s config is passed to the server: Windows offers no way to read another process\'s environment; name each one it needs with -e NAME before the package (--client-env off silences this).']);
});

resolve('stays quiet about an unreadable parent when the user names variables with -e', () => {
  assert.equal(run({ ...CLIENT, API_KEY: 'k' }, { env: ['API_KEY'] }, unreadable), { env: {}, lines: [] });
});

resolve.run();
