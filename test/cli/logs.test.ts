import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runLogs } from '../../src/cli/commands/logs.js';
import type { Context } from '../../src/app/context.js';
import { testContext } from '../support/context.js';
import type { EgressEntry } from '../../src/egress/proxy.js';
import { egressLogPath } from '../../src/egress/wiring.js';
import { rotateInPlace, rotatedLogPath } from '../../src/state/log-rotation.js';
import { currentOwner } from '../../src/state/owner.js';
import { getPaths } from '../../src/state/paths.js';
import { serverLogPath, writeRecord } from '../../src/state/records.js';

const RAW_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;
let home = '';

function context(): { ctx: Context; out: () => string } {
  let text = '';
  const stdout = new Writable({ write(chunk: Buffer, _enc, done) { text += chunk.toString('utf8'); done(); } });
  const ctx: Context = testContext({ home, stdout, stderr: stdout });
  return { ctx, out: () => text };
}

function writeServer(name: string, running = false): void {
  const { state } = getPaths({ MCP_LOK_HOME: home });
  writeRecord(state, {
    name, transport: 'streamable-http', host: '127.0.0.1', port: 8080, url: 'http://127.0.0.1:8080/mcp',
    mode: 'bridge', source: 'npx://pkg', profile: 'stdio', allows: [], supervisor: running ? currentOwner() : undefined,
    state: running ? 'running' : 'stopped', restarts: 0,
    startedAt: new Date(0).toISOString(), updatedAt: new Date(0).toISOString(),
  });
}

const logs = suite('mcp-lok logs');
logs.before.each(() => { home = mkdtempSync(join(tmpdir(), 'lok-logs-')); });
logs.after.each(() => { rmSync(home, { recursive: true, force: true }); });

logs('prints a server log with its escape sequences as visible text, the rotated file first', async () => {
  writeServer('noisy');
  const path = serverLogPath(getPaths({ MCP_LOK_HOME: home }).state, 'noisy');
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(rotatedLogPath(path), 'older line\n');
  writeFileSync(path, 'title \x1b]0;pwned\x07 csi \u009b6n cr\rhidden\ttab\n');
  const { ctx, out } = context();
  assert.is(await runLogs(ctx, { positionals: ['noisy'], values: {} }), 0);
  assert.is(out(), 'older line\ntitle \\x1b]0;pwned\\x07 csi \\x9b6n cr\\x0dhidden\ttab\n');
});

logs('-f loses nothing when the log is rotated while it follows', async () => {
  writeServer('busy', true);
  const path = serverLogPath(getPaths({ MCP_LOK_HOME: home }).state, 'busy');
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, 'one\n');
  const { ctx, out } = context();
  const following = runLogs(ctx, { positionals: ['busy'], values: { follow: true } });
  for (let i = 0; i < 200 && out() === ''; i++) await new Promise((r) => setTimeout(r, 25));
  assert.is(out(), 'one\n');
  // Written and rotated away in one go: the follower never sees it in the current file.
  appendFileSync(path, 'two\n');
  assert.ok(rotateInPlace(path, 1));
  appendFileSync(path, 'three\n');
  writeServer('busy', false);
  assert.is(await following, 0);
  assert.is(out(), 'one\ntwo\nthree\n');
});

const entry = (host: string, extra: Partial<EgressEntry> = {}): EgressEntry => ({
  time: '2026-01-01T00:00:00.000Z', host, port: 443, address: null, allowed: false, reason: `${host} is not in allow_host`, bytesOut: 0, bytesIn: 0, ...extra,
});

function writeEgress(name: string, rotated: EgressEntry[], current: EgressEntry[]): void {
  const path = egressLogPath(getPaths({ MCP_LOK_HOME: home }).state, name);
  mkdirSync(join(path, '..'), { recursive: true });
  const lines = (list: EgressEntry[]): string => list.map((e) => `${JSON.stringify(e)}\n`).join('');
  if (rotated.length > 0) writeFileSync(rotatedLogPath(path), lines(rotated));
  writeFileSync(path, lines(current));
}

logs('prints egress hosts and reasons a sandbox chose with their controls escaped, rotated entries first', async () => {
  writeEgress('noisy', [entry('first.example')], [entry('\x1b[2Jevil\u009b.example'), entry('ok.example', { allowed: true, failed: 'x\x07' })]);
  const { ctx, out } = context();
  assert.is(await runLogs(ctx, { positionals: ['noisy'], values: { egress: true } }), 0);
  const text = out();
  assert.not.match(text.replace(/[\n]/g, ''), RAW_CONTROL);
  assert.match(text, /\\x1b\[2Jevil\\x9b\.example/);
  assert.match(text, /allowed, failed: x\\x07/);
  const hosts = text.trim().split('\n').slice(1).map((l) => l.split(/\s+/)[1]);
  assert.equal(hosts, ['first.example', '\\x1b[2Jevil\\x9b.example', 'ok.example']);
});

logs('--egress --json prints valid JSON with no raw control character, values unchanged', async () => {
  const evil = entry('a\x1b]0;t\x07\u009b\u007fb');
  writeEgress('noisy', [], [evil]);
  const { ctx, out } = context();
  assert.is(await runLogs(ctx, { positionals: ['noisy'], values: { egress: true, json: true } }), 0);
  const text = out();
  assert.not.match(text.trimEnd(), RAW_CONTROL);
  assert.equal(JSON.parse(text), evil);
});

logs.run();
