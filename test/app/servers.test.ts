import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { BackgroundSpec } from '../../src/app/supervisor-protocol.js';
import { describeRecord, describeServer, removeServer, stopServer } from '../../src/app/servers.js';
import { EXIT } from '../../src/errors.js';
import { LABEL } from '../../src/sandbox/labels.js';
import { rotatedLogPath } from '../../src/state/log-rotation.js';
import { currentOwner } from '../../src/state/owner.js';
import { getPaths } from '../../src/state/paths.js';
import { readRecord, serverLogPath, writeRecord, type ServerRecord } from '../../src/state/records.js';
import { catchErrorAsync } from '../support/catch-error.js';
import { testContext } from '../support/context.js';
import { startStandIn, type ProcessStandIn } from '../support/supervisor-stand-in.js';

const STARTED = '2026-01-02T03:04:05.000Z';
const TOKEN = 'A'.repeat(32);

/** A background server's record as its supervisor writes it; stopped and unsupervised unless changed. */
function record(over: Partial<ServerRecord> = {}): ServerRecord {
  return {
    name: 'srv', transport: 'streamable-http', host: '127.0.0.1', port: 4000, url: 'http://127.0.0.1:4000/mcp',
    mode: 'proxy', source: 'npx://@scope/pkg@1.2.3', profile: 'stdio', allows: [], supervisor: undefined,
    state: 'stopped', restarts: 0, startedAt: STARTED, updatedAt: STARTED, ...over,
  };
}

// --- describeServer: a container summary as `list` shows it -------------------------------

const container = suite('describeServer');

container('reads every column from the labels, and the short id, status and creation time', () => {
  const info = describeServer({
    Id: '0123456789abcdef0123', Names: ['/mcp-lok-x-abc'], State: 'running', Status: 'Up 5 minutes', Created: 1_700_000_000,
    Labels: {
      [LABEL.managed]: 'true', [LABEL.name]: 'memory', [LABEL.launcher]: 'npx', [LABEL.transport]: 'stdio', [LABEL.profile]: 'api.json',
      [LABEL.allows]: 'read ~/docs; outbound api.mcp-lok.test:443', [LABEL.package]: '@scope/pkg@1.2.3', [LABEL.image]: 'mcp-lok/sandbox:0123456789abcdef',
    },
  });
  assert.equal(info, {
    name: 'memory', id: '0123456789ab', state: 'running', status: 'Up 5 minutes', launcher: 'npx', transport: 'stdio', url: null,
    profile: 'api.json', allows: ['read ~/docs', 'outbound api.mcp-lok.test:443'], package: '@scope/pkg@1.2.3',
    image: 'mcp-lok/sandbox:0123456789abcdef', createdAt: new Date(1_700_000_000_000).toISOString(),
  });
});

container('falls back to the container name without its slash, and says unknown rather than guessing', () => {
  const info = describeServer({ Id: 'fedcba9876543210', Names: ['/hand-made'], State: 'exited', Labels: {} });
  assert.is(info.name, 'hand-made');
  assert.is(info.status, 'exited', 'no Status: the state');
  assert.is(info.launcher, 'unknown');
  assert.is(info.profile, 'unknown');
  assert.is(info.transport, 'stdio');
  assert.equal(info.allows, []);
  assert.is(info.package, null);
  assert.is(info.image, '');
  assert.is(info.createdAt, new Date(0).toISOString());
});

container('names a container with neither label nor name by its short id', () => {
  assert.is(describeServer({ Id: 'fedcba9876543210', Names: [], State: 'created', Labels: {} }).name, 'fedcba987654');
});

container('never carries a token, a hint or a supervisor\'s counts (those are a background server\'s)', () => {
  const info = describeServer({ Id: 'fedcba9876543210', Names: ['/x'], State: 'running', Labels: { [LABEL.launcher]: 'start' } });
  for (const key of ['token', 'hint', 'mode', 'sessions', 'restarts']) assert.not.ok(key in info, key);
});

container.run();

// --- describeRecord: a background server's record as `list` shows it -----------------------

const rows = suite('describeRecord');
let supervisor: ProcessStandIn | undefined;
rows.before(async () => { supervisor = await startStandIn({ supervisor: true }); });
rows.after(async () => { await supervisor?.kill(); });

const running = (over: Partial<ServerRecord> = {}): ServerRecord => record({ supervisor: supervisor?.owner, state: 'running', ...over });

const STATUSES: Array<[string, Partial<ServerRecord>, string]> = [
  ['a proxied server: its state alone', { mode: 'proxy', sessions: 4 }, 'running'],
  ['a bridge with no session yet', { mode: 'bridge' }, 'running, 0 sessions'],
  ['a bridge with one session', { mode: 'bridge', sessions: 1 }, 'running, 1 session'],
  ['a bridge with two sessions', { mode: 'bridge', sessions: 2 }, 'running, 2 sessions'],
  ['one restart', { restarts: 1 }, 'running, 1 restart'],
  ['a bridge that restarted three times', { mode: 'bridge', sessions: 1, restarts: 3 }, 'running, 1 session, 3 restarts'],
  ['a restarting server', { state: 'restarting', restarts: 2 }, 'restarting, 2 restarts'],
  ['one waiting for its engine', { state: 'waiting for the engine' }, 'waiting for the engine'],
];
for (const [title, over, status] of STATUSES) {
  rows(`shows ${title} as "${status}"`, () => {
    const info = describeRecord(running(over));
    assert.is(info.status, status);
    assert.is(info.state, over.state ?? 'running');
    assert.is(info.url, 'http://127.0.0.1:4000/mcp');
    assert.not.ok('hint' in info);
  });
}

rows('shows a running server\'s columns: launcher start, its mode, counts and start time, no container id', () => {
  const info = describeRecord(running({ mode: 'bridge', sessions: 2, restarts: 1, allows: ['read ~/docs'], profile: 'docs.json' }));
  assert.equal(info, {
    name: 'srv', id: '-', state: 'running', status: 'running, 2 sessions, 1 restart', launcher: 'start', transport: 'streamable-http',
    url: 'http://127.0.0.1:4000/mcp', profile: 'docs.json', allows: ['read ~/docs'], package: '@scope/pkg@1.2.3', image: '',
    createdAt: STARTED, mode: 'bridge', sessions: 2, restarts: 1, token: null,
  });
});

rows('shows a stopped server with its last exit, no address, and how to start it again', () => {
  const info = describeRecord(record({ lastExit: 'exited with code 1', sessions: 3 }));
  assert.is(info.state, 'stopped');
  assert.is(info.status, 'stopped (exited with code 1)');
  assert.is(info.url, null);
  assert.is(info.sessions, 0);
  assert.is(info.hint, 'mcp-lok start srv');
});

rows('shows a stopped server without a last exit as just stopped', () => {
  assert.is(describeRecord(record()).status, 'stopped');
});

for (const [title, owner] of [
  ['names no supervisor', () => undefined],
  ['names a live process that is not a supervisor (this test)', () => currentOwner()],
  ['names a supervisor of another boot', () => supervisor && { ...supervisor.owner, startTicks: `00000000:${supervisor.owner.startTicks.split(':')[1] ?? ''}` }],
] as const) {
  rows(`shows a record that says running but ${title} as stopped, its supervisor gone`, () => {
    const info = describeRecord(record({ state: 'running', supervisor: owner(), mode: 'bridge', sessions: 2, restarts: 1 }));
    assert.is(info.state, 'stopped');
    assert.is(info.status, 'stopped (its supervisor is gone)');
    assert.is(info.url, null);
    assert.is(info.sessions, 0);
    assert.is(info.hint, 'mcp-lok start srv');
  });
}

rows('shows an npx source as its package and an image source as its image', () => {
  const npx = describeRecord(record({ source: 'npx://cowsay@1' }));
  assert.is(npx.package, 'cowsay@1');
  assert.is(npx.image, '');
  const image = describeRecord(record({ source: 'registry.mcp-lok.test/org/server:1.0' }));
  assert.is(image.package, null);
  assert.is(image.image, 'registry.mcp-lok.test/org/server:1.0');
});

rows('carries the recorded token (for list --json), and null when the record has none', () => {
  assert.is(describeRecord(record({ spec: { token: TOKEN } as BackgroundSpec })).token, TOKEN);
  assert.is(describeRecord(record({ spec: { token: undefined } as BackgroundSpec })).token, null);
  assert.is(describeRecord(record()).token, null, 'a record of an older version has no request at all');
});

rows.run();

// --- stopServer and removeServer on background servers (no engine needed) ------------------

let home = '';
const state = (): string => getPaths({ MCP_LOK_HOME: home }).state;
const standIns: ProcessStandIn[] = [];

async function standIn(options: { supervisor: boolean }): Promise<ProcessStandIn> {
  const started = await startStandIn(options);
  standIns.push(started);
  return started;
}

/** Writes a record and a log (current and rotated) for it. */
function writeServer(over: Partial<ServerRecord> = {}): { log: string } {
  const r = record(over);
  writeRecord(state(), r);
  const log = serverLogPath(state(), r.name);
  mkdirSync(join(log, '..'), { recursive: true });
  writeFileSync(rotatedLogPath(log), 'older\n');
  writeFileSync(log, 'newer\n');
  return { log };
}

const stop = suite('stopServer: background servers');
stop.before.each(() => { home = mkdtempSync(join(tmpdir(), 'lok-servers-')); });
stop.after.each(async () => {
  for (const s of standIns.splice(0)) await s.kill();
  rmSync(home, { recursive: true, force: true });
});

stop('refuses a name that is not a server name (a path, an option) with one usage line, and touches no file', async () => {
  const outside = join(home, 'victim.json');
  writeFileSync(outside, '{}');
  const ctx = testContext({ home });
  for (const name of ['../../victim', '../victim', '-rf', '', 'a/b', 'x'.repeat(64)]) {
    for (const act of [() => stopServer(ctx, name, 1), () => removeServer(ctx, name, true)]) {
      const error = await catchErrorAsync(act);
      assert.is(error.exitCode, EXIT.usage, name);
      assert.match(error.message, /Expected a server name/);
    }
  }
  assert.ok(existsSync(outside));
});

stop('returns false for a stopped one, asks no engine, and keeps its record', async () => {
  writeServer();
  assert.is(await stopServer(testContext({ home }), 'srv', 1), false);
  assert.ok(readRecord(state(), 'srv'));
});

stop('returns false for a record that says running whose supervisor is gone', async () => {
  writeServer({ state: 'running', supervisor: undefined });
  assert.is(await stopServer(testContext({ home }), 'srv', 1), false);
});

stop('stops a running one with SIGTERM to its supervisor and returns true', async () => {
  const s = await standIn({ supervisor: true });
  writeServer({ state: 'running', supervisor: s.owner });
  assert.is(await stopServer(testContext({ home }), 'srv', 1), true);
  assert.is(await s.ended, 'SIGTERM');
});

stop('never signals a process a record names that is not a supervisor', async () => {
  const other = await standIn({ supervisor: false });
  writeServer({ state: 'running', supervisor: other.owner });
  assert.is(await stopServer(testContext({ home }), 'srv', 1), false);
  assert.is(other.child.exitCode, null);
  assert.is(other.child.signalCode, null);
});

stop('looks a name without a record up on the engine (its error comes through)', async () => {
  const ctx = testContext({ home, engine: () => Promise.reject(new Error('engine asked')) });
  try {
    await stopServer(ctx, 'nothing', 1);
    assert.unreachable('stopServer resolved');
  } catch (error) {
    assert.is((error as Error).message, 'engine asked');
  }
});

stop.run();

const remove = suite('removeServer: background servers');
remove.before.each(() => { home = mkdtempSync(join(tmpdir(), 'lok-servers-')); });
remove.after.each(async () => {
  for (const s of standIns.splice(0)) await s.kill();
  rmSync(home, { recursive: true, force: true });
});

remove('removes a stopped one\'s record and both its log files, asking no engine', async () => {
  const { log } = writeServer();
  await removeServer(testContext({ home }), 'srv', false);
  assert.is(readRecord(state(), 'srv'), undefined);
  assert.not.ok(existsSync(log));
  assert.not.ok(existsSync(rotatedLogPath(log)));
});

remove('removes a record whose supervisor is gone without -f', async () => {
  writeServer({ state: 'running', supervisor: undefined });
  await removeServer(testContext({ home }), 'srv', false);
  assert.is(readRecord(state(), 'srv'), undefined);
});

remove('refuses a running one without force, with how to stop it, and leaves it all in place', async () => {
  const s = await standIn({ supervisor: true });
  const { log } = writeServer({ state: 'running', supervisor: s.owner });
  const error = await catchErrorAsync(() => removeServer(testContext({ home }), 'srv', false));
  assert.is(error.code, 'INVALID_INPUT');
  assert.is(error.exitCode, EXIT.failure);
  assert.is(error.message, 'The server "srv" is running.');
  assert.is(error.hint, 'Stop it first (`mcp-lok stop srv`) or use `mcp-lok rm -f srv`.');
  assert.ok(readRecord(state(), 'srv'));
  assert.ok(existsSync(log));
  assert.is(s.child.exitCode, null);
  assert.is(s.child.signalCode, null);
});

remove('with force, stops a running one\'s supervisor and removes its record and log', async () => {
  const s = await standIn({ supervisor: true });
  const { log } = writeServer({ state: 'running', supervisor: s.owner });
  await removeServer(testContext({ home }), 'srv', true);
  assert.is(await s.ended, 'SIGTERM');
  assert.is(readRecord(state(), 'srv'), undefined);
  assert.not.ok(existsSync(log));
});

remove('looks a name without a record up on the engine (its error comes through)', async () => {
  const ctx = testContext({ home, engine: () => Promise.reject(new Error('engine asked')) });
  try {
    await removeServer(ctx, 'nothing', true);
    assert.unreachable('removeServer resolved');
  } catch (error) {
    assert.is((error as Error).message, 'engine asked');
  }
});

remove.run();
