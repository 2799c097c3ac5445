import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chooseToken, defaultServerName, newToken, reservePort, restartBackground } from '../../src/app/background.js';
import type { BackgroundSpec } from '../../src/app/supervisor-protocol.js';
import { EXIT } from '../../src/errors.js';
import { checkRecordedSpec } from '../../src/request/recorded-spec.js';
import { getPaths } from '../../src/state/paths.js';
import { serverLogPath, writeRecord, type ServerRecord } from '../../src/state/records.js';
import { catchErrorAsync } from '../support/catch-error.js';
import { testContext } from '../support/context.js';
import { startStandIn, type ProcessStandIn } from '../support/supervisor-stand-in.js';

// --- defaultServerName ---------------------------------------------------------------------

const names = suite('defaultServerName');
for (const [source, name] of [
  ['npx://@scope/server-x', 'server-x'],
  ['npx://plain', 'plain'],
  ['npx://plain@latest', 'plain'],
  ['npx://@scope/a+b!c@1.0.0', 'a-b-c'],
  ['mcp-lok/sandbox:abc', 'sandbox'],
  ['my-image', 'my-image'],
  ['registry.mcp-lok.test:5000/org/tool@sha256:0123', 'tool'],
  ['npx://...hidden', 'hidden'],
  ['npx://@scope/-_-x', 'x'],
  ['npx://@scope/!!!', 'server'],
  ['', 'server'],
] as const) {
  names(`names ${JSON.stringify(source)} ${name}`, () => assert.is(defaultServerName(source), name));
}

names('keeps names to 50 characters', () => {
  assert.is(defaultServerName(`npx://${'a'.repeat(80)}`), 'a'.repeat(50));
});

names('gives only characters a server name may hold, whatever the source', () => {
  for (const source of ['npx://x y\tz', 'npx://\u001b[31mred', 'img/../../etc:1', 'npx://ünïcode', 'npx://a/b/c']) {
    assert.match(defaultServerName(source), /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,49}$/, source);
  }
});

names.run();

// --- newToken and chooseToken --------------------------------------------------------------

const tokens = suite('newToken and chooseToken');

tokens('makes a 192-bit base64url token, new each time', () => {
  const a = newToken();
  const b = newToken();
  assert.match(a, /^[A-Za-z0-9_-]{32}$/);
  assert.is(Buffer.from(a, 'base64url').length, 24);
  assert.is.not(a, b);
});

tokens('makes tokens a record check accepts (a restart keeps the token it was started with)', () => {
  const token = newToken();
  assert.is(checkRecordedSpec(spec({ host: '0.0.0.0', token }), 'srv').token, token);
});

for (const [host, auth, wanted] of [
  ['127.0.0.1', false, false],
  ['127.1.2.3', false, false],
  ['localhost', false, false],
  ['::1', false, false],
  ['127.0.0.1', true, true],
  ['::1', true, true],
  ['0.0.0.0', false, true],
  ['::', false, true],
  ['lan.mcp-lok.test', false, true],
  ['0.0.0.0', true, true],
] as const) {
  tokens(`${wanted ? 'requires' : 'needs no'} a token on ${host}${auth ? ' with --auth' : ''}`, () => {
    const token = chooseToken(host, auth);
    if (wanted) assert.match(token ?? '', /^[A-Za-z0-9_-]{32}$/);
    else assert.is(token, undefined);
  });
}

tokens.run();

// --- reservePort ---------------------------------------------------------------------------

const listen = (host: string, port: number): Promise<Server> => new Promise((resolve, reject) => {
  const server = createServer();
  server.once('error', reject);
  server.listen({ host, port, exclusive: true }, () => resolve(server));
});
const close = (server: Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()));

const ports = suite('reservePort');

ports('reads port 0 as any free port, and lets it go again', async () => {
  const port = await reservePort('127.0.0.1', 0);
  assert.ok(port > 0 && port < 65536);
  // Free again: the supervisor binds it next.
  await close(await listen('127.0.0.1', port));
});

ports('gives a port that is free back as it is', async () => {
  const port = await reservePort('127.0.0.1', undefined);
  assert.is(await reservePort('127.0.0.1', port), port);
});

ports('refuses a port in use with one clear error and how to choose another', async () => {
  const busy = await listen('127.0.0.1', 0);
  const port = (busy.address() as { port: number }).port;
  try {
    const error = await catchErrorAsync(() => reservePort('127.0.0.1', port));
    assert.is(error.code, 'PORT_IN_USE');
    assert.is(error.exitCode, EXIT.failure);
    assert.match(error.hint ?? '', /--port/);
  } finally {
    await close(busy);
  }
});

ports.run();

// --- restartBackground: every refusal comes before a supervisor is spawned ------------------

let home = '';
let savedHome: string | undefined;
const standIns: ProcessStandIn[] = [];
const state = (): string => getPaths({ MCP_LOK_HOME: home }).state;

/** A record's request as `start npx://x` on loopback writes it. */
function spec(over: Partial<BackgroundSpec> = {}): BackgroundSpec {
  return JSON.parse(JSON.stringify({
    name: 'srv', sourceText: 'npx://x', transport: 'streamable-http', host: '127.0.0.1', port: 4000, targetPort: undefined, token: undefined,
    server: {
      source: { kind: 'npx', packages: [{ raw: 'x', name: 'x', selector: 'latest', kind: 'tag' }], command: undefined, allowInstall: true },
      args: [], env: {}, quiet: false, launcher: 'start',
      lok: { profile: 'stdio', env: [], name: 'srv', memoryBytes: 2 ** 30, cpus: 2, pids: 256, caCert: undefined, registry: undefined, refreshAfterMs: 86_400_000, engine: undefined, debug: false },
      profile: { name: 'stdio', source: 'built-in', profile: { read: [], write: [], outbound: { insecureAllowAll: false, transports: [], hosts: [], ports: [] } } },
    },
    ...over,
  })) as BackgroundSpec;
}

function writeServer(over: Partial<ServerRecord> = {}): void {
  writeRecord(state(), {
    name: 'srv', spec: spec(), transport: 'streamable-http', host: '127.0.0.1', port: 4000, url: 'http://127.0.0.1:4000/mcp', mode: 'bridge',
    source: 'npx://x', profile: 'stdio', allows: [], supervisor: undefined, state: 'stopped', restarts: 0,
    startedAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', ...over,
  });
}

/** True once a supervisor was spawned for `srv`: spawning opens its log first. */
const spawned = (): boolean => existsSync(serverLogPath(state(), 'srv'));

const restart = suite('restartBackground');
restart.before.each(() => {
  home = mkdtempSync(join(tmpdir(), 'lok-background-'));
  // Should a refusal below ever fall through to a spawn, the supervisor keeps to this home.
  savedHome = process.env.MCP_LOK_HOME;
  process.env.MCP_LOK_HOME = home;
});
restart.after.each(async () => {
  for (const s of standIns.splice(0)) await s.kill();
  if (savedHome === undefined) delete process.env.MCP_LOK_HOME;
  else process.env.MCP_LOK_HOME = savedHome;
  rmSync(home, { recursive: true, force: true });
});

restart('is NOT_FOUND for a name with no record, saying how to start a new one', async () => {
  const error = await catchErrorAsync(() => restartBackground(testContext({ home }), 'srv'));
  assert.is(error.code, 'NOT_FOUND');
  assert.is(error.message, 'No background server is named "srv".');
  assert.match(error.hint ?? '', /mcp-lok list --all/);
});

restart('answers already running for a supervised one, with its address, mode and token, starting nothing', async () => {
  const supervisor = await startStandIn({ supervisor: true });
  standIns.push(supervisor);
  const token = newToken();
  writeServer({ state: 'running', supervisor: supervisor.owner, spec: spec({ token }) });
  let approved = false;
  const started = await restartBackground(testContext({ home }), 'srv', async () => { approved = true; });
  assert.equal(started, { name: 'srv', url: 'http://127.0.0.1:4000/mcp', mode: 'bridge', token, already: true });
  assert.not.ok(approved, 'nothing to approve: nothing starts');
  assert.not.ok(spawned());
});

restart('refuses a record of an older version (no request kept) with how to start it anew', async () => {
  writeServer({ spec: undefined });
  const error = await catchErrorAsync(() => restartBackground(testContext({ home }), 'srv'));
  assert.is(error.code, 'INVALID_INPUT');
  assert.match(error.message, /started by an older mcp-lok/);
  assert.is(error.hint, 'Remove it with `mcp-lok rm srv` and start it anew.');
  assert.not.ok(spawned());
});

restart('checks the recorded request again before asking for approval: an edited record is refused', async () => {
  writeServer({ spec: spec({ host: '0.0.0.0' }) });
  let approved = false;
  const error = await catchErrorAsync(() => restartBackground(testContext({ home }), 'srv', async () => { approved = true; }));
  assert.is(error.code, 'INVALID_INPUT');
  assert.match(error.message, /damaged \(a listener on 0\.0\.0\.0 without a token\)/);
  assert.not.ok(approved);
  assert.not.ok(spawned());
});

restart('hands the checked request to approve, and starts nothing when it refuses', async () => {
  writeServer();
  let seen: BackgroundSpec | undefined;
  const refusal = new Error('not approved');
  try {
    await restartBackground(testContext({ home }), 'srv', async (s) => { seen = s; throw refusal; });
    assert.unreachable('restartBackground resolved');
  } catch (error) {
    assert.is(error, refusal);
  }
  assert.is(seen?.name, 'srv');
  assert.equal(seen?.server.source, { kind: 'npx', packages: [{ raw: 'x', name: 'x', selector: 'latest', kind: 'tag' }], command: undefined, allowInstall: true });
  assert.not.ok(spawned());
});

restart('refuses when its recorded port is taken meanwhile, starting nothing', async () => {
  const busy = await listen('127.0.0.1', 0);
  const port = (busy.address() as { port: number }).port;
  try {
    writeServer({ spec: spec({ port }) });
    const error = await catchErrorAsync(() => restartBackground(testContext({ home }), 'srv'));
    assert.is(error.code, 'PORT_IN_USE');
    assert.match(error.message, new RegExp(`Port ${port} on 127\\.0\\.0\\.1 is already in use`));
    assert.not.ok(spawned());
  } finally {
    await close(busy);
  }
});

restart.run();
