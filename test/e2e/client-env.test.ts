// The env a client config sets for a server reaches it, and the client's own environment does
// not: a stand-in client process (test/fixtures/clients/env-client.mjs), holding a secret of
// its own, starts mcp-lok-npx as real clients do, and a fixture server prints what it got.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { removeFixtureVolumes } from './escape-support.js';
import { afterLines, LOK_HOME, requireEngine, ROOT, runBin, SHIM, shimEnv, type RunResult } from './harness.js';
import { startFixtureRegistry, type FixtureRegistry } from './registry.js';

const CLIENT = join(ROOT, 'test', 'fixtures', 'clients', 'env-client.mjs');
const SECRET = `client-secret-${process.pid}`;
const TOKEN = `config-token-${process.pid}`;

interface Seen { env: Record<string, string>; args: string[] }

let registry: FixtureRegistry;
const clientEnv = suite('mcp-lok-npx started by a client: the config\'s variables, not the client\'s');

clientEnv.before(async () => {
  await requireEngine();
  registry = await startFixtureRegistry();
});
clientEnv.after(async () => {
  await registry?.close();
  await removeFixtureVolumes('lok-fixture-env');
});

/** Starts the fixture server through the stand-in client, whose own environment holds CLIENT_SECRET. */
async function throughClient(mode: 'whole' | 'sdk', config: Record<string, string>, flags: string[] = []): Promise<{ seen: Seen; result: RunResult }> {
  // No home volume: the SDK-style client passes only its allowlist, so the harness's MCP_LOK_EPHEMERAL would not arrive.
  const shimArgs = [SHIM, '--ephemeral', '--registry', registry.url, ...flags, '-y', 'lok-fixture-env'];
  const result = await runBin(CLIENT, [mode, JSON.stringify(config), process.execPath, ...shimArgs], {
    env: { CLIENT_SECRET: SECRET }, holdStdinUntil: afterLines(1),
  });
  assert.is(result.code, 0, result.stderr);
  return { seen: JSON.parse(result.stdout.toString()) as Seen, result };
}

clientEnv('a client that passes its whole environment: the server gets the config\'s variable, not the client\'s secret', async () => {
  const { seen, result } = await throughClient('whole', { CONFIG_TOKEN: TOKEN });
  assert.is(seen.env.CONFIG_TOKEN, TOKEN);
  assert.is(seen.env.CLIENT_SECRET, undefined);
  assert.not.ok(result.stdout.toString().includes(SECRET));
  // stderr names what passed, never a value.
  assert.match(result.stderr, /mcp-lok: passing CONFIG_TOKEN to the server: set by the client for it/);
  assert.not.ok(result.stderr.includes(TOKEN));
  // The sandbox's own variables stay its own.
  assert.is(seen.env.HOME, '/home/node');
  assert.is(seen.env.MCP_LOK_HOME, undefined);
});

clientEnv('a client on the MCP SDK\'s transport: the config\'s variable passes, mcp-lok\'s own settings in it do not', async () => {
  const { seen } = await throughClient('sdk', { CONFIG_TOKEN: TOKEN, MCP_LOK_HOME: LOK_HOME, MCP_LOK_MEMORY: '512m' });
  assert.is(seen.env.CONFIG_TOKEN, TOKEN);
  assert.is(seen.env.CLIENT_SECRET, undefined);
  assert.is(seen.env.MCP_LOK_HOME, undefined);
  assert.is(seen.env.MCP_LOK_MEMORY, undefined);
  assert.not.ok(Object.keys(seen.env).some((name) => name.startsWith('MCP_LOK_')));
});

clientEnv('a config that gives a client variable another value passes the config\'s value', async () => {
  const { seen } = await throughClient('whole', { CLIENT_SECRET: 'set-by-config' });
  assert.is(seen.env.CLIENT_SECRET, 'set-by-config');
});

clientEnv('--client-env off and MCP_LOK_CLIENT_ENV=off pass only what -e names', async () => {
  const off = await throughClient('whole', { CONFIG_TOKEN: TOKEN }, ['--client-env', 'off']);
  assert.is(off.seen.env.CONFIG_TOKEN, undefined);
  assert.not.match(off.result.stderr, /passing|no variable from the client/);
  const named = await throughClient('whole', { CONFIG_TOKEN: TOKEN, OTHER: 'x', MCP_LOK_CLIENT_ENV: 'off' }, ['-e', 'CONFIG_TOKEN']);
  assert.is(named.seen.env.CONFIG_TOKEN, TOKEN);
  assert.is(named.seen.env.OTHER, undefined);
});

clientEnv('-e NAME still passes a variable the client inherited, when the user asks for it', async () => {
  const { seen } = await throughClient('whole', {}, ['-e', 'CLIENT_SECRET']);
  assert.is(seen.env.CLIENT_SECRET, SECRET);
});

clientEnv('a wrapper script started by its #! line that exports a variable: the variable does not pass (the script is a shell)', async () => {
  const wrapper = join(ROOT, 'test', 'fixtures', 'clients', 'rc-wrapper.sh');
  const child = spawn(wrapper, [process.execPath, SHIM, '--ephemeral', '--registry', registry.url, '-y', 'lok-fixture-env'], { env: shimEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); if (stdout.includes('\n')) child.stdin.end(); });
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const code = await new Promise<number | null>((done) => child.on('exit', done));
  assert.is(code, 0, stderr);
  const seen = JSON.parse(stdout) as Seen;
  assert.is(seen.env.RC_SECRET, undefined);
  assert.match(stderr, /no variable from the client's config is passed to the server: it was started by a shell/);
});

clientEnv.run();
