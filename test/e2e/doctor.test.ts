// `mcp-lok doctor` against the real engine, and with no engine where MCP_LOK_ENGINE points.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { engineRequest } from '../../src/engine/http.js';
import { ENGINE, MANAGER, SHIM, lokContainers, requireEngine, runBin } from './harness.js';

interface Report { ok: boolean; checks: Array<{ id: string; status: string; summary: string; fix?: string; detail?: Record<string, unknown> }> }

const dir = mkdtempSync(join(tmpdir(), 'lok-doctor-e2e-'));
const home = join(dir, 'home');
const env = { HOME: home, XDG_CONFIG_HOME: '', CODEX_HOME: '', CLAUDE_CONFIG_DIR: '' };

function check(report: Report, id: string): Report['checks'][number] {
  const found = report.checks.find((c) => c.id === id);
  if (!found) throw new Error(`no ${id} check in ${JSON.stringify(report)}`);
  return found;
}

const doctor = suite('mcp-lok doctor');

doctor.before(async () => {
  await requireEngine();
  mkdirSync(join(home, '.cursor'), { recursive: true });
  // One wrapped server (Claude Code), one npx server left bare (Cursor).
  writeFileSync(join(home, '.claude.json'), JSON.stringify({ mcpServers: { memory: { command: SHIM, args: ['-y', '@modelcontextprotocol/server-memory'] } } }));
  writeFileSync(join(home, '.cursor', 'mcp.json'), JSON.stringify({ mcpServers: { fs: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', '/srv'] } } }));
  const built = await runBin(MANAGER, ['image', 'build'], { env, timeoutMs: 1_200_000 });
  assert.is(built.code, 0, built.stderr);
});

doctor.after(() => { rmSync(dir, { recursive: true, force: true }); });

doctor('on a working machine: the engine, the image, a real sandbox, mcp-lok-npx and the clients', async () => {
  const result = await runBin(MANAGER, ['doctor', '--json'], { env, timeoutMs: 300_000 });
  assert.is(result.code, 0, `${result.stdout.toString()}\n${result.stderr}`);
  const report = JSON.parse(result.stdout.toString()) as Report;
  assert.ok(report.ok);
  assert.is(check(report, 'engine').status, 'ok');
  assert.match(check(report, 'engine').summary, /^unix:\/\/\/var\/run\/docker\.sock, found by /);
  assert.is(check(report, 'engine-version').status, 'ok');
  assert.is(check(report, 'image').status, 'ok');
  const sandbox = check(report, 'sandbox');
  assert.is(sandbox.status, 'ok', sandbox.summary);
  assert.equal([sandbox.detail?.uid !== 0, sandbox.detail?.readOnlyRoot, sandbox.detail?.networks], [true, true, []]);
  assert.equal(check(report, 'shim').detail?.file, SHIM);
  const clients = check(report, 'clients');
  assert.is(clients.status, 'warn');
  assert.match(clients.summary, /Claude Code 1\/1 wrapped; Cursor 0\/1 wrapped/);
  assert.match(clients.fix ?? '', /1 npx server runs without a sandbox: `mcp-lok wrap` wraps it\./);
  // The test server's container is gone.
  const left = (await lokContainers()).filter((c) => c.Names.some((n) => n.startsWith('/mcp-lok-doctor-')));
  assert.equal(left.map((c) => c.Names), []);

  const screen = await runBin(MANAGER, ['doctor'], { env, timeoutMs: 300_000 });
  assert.is(screen.code, 0, screen.stderr);
  assert.match(screen.stdout.toString(), /^ok +Sandbox +a test server answered over stdio \(uid \d+, read-only root, no network, node v/m);
  assert.match(screen.stdout.toString(), /mcp-lok can run servers here/);
});

doctor('leaves no home volume behind when servers get homes by default (MCP_LOK_EPHEMERAL unset)', async () => {
  const doctorHomes = async (): Promise<string[]> => {
    const res = await engineRequest(ENGINE, 'GET', `/volumes?filters=${encodeURIComponent(JSON.stringify({ label: ['mcp-lok-kind=home'] }))}`);
    return ((res.body as { Volumes?: Array<{ Name: string }> }).Volumes ?? []).map((v) => v.Name).filter((n) => n.startsWith('mcp-lok-home-mcp-lok-doctor-'));
  };
  const before = await doctorHomes();
  const result = await runBin(MANAGER, ['doctor', '--json'], { env: { ...env, MCP_LOK_EPHEMERAL: '' }, timeoutMs: 300_000 });
  assert.is(result.code, 0, `${result.stdout.toString()}\n${result.stderr}`);
  const left = (await doctorHomes()).filter((n) => !before.includes(n));
  // Remove what a failing run left, so the suite's leftover check stays about this test only.
  for (const name of left) {
    await engineRequest(ENGINE, 'DELETE', `/volumes/${encodeURIComponent(name)}`).catch(() => undefined);
    await engineRequest(ENGINE, 'DELETE', `/volumes/${encodeURIComponent(`${name}-data`)}`).catch(() => undefined);
  }
  assert.equal(left, []);
});

doctor('with no engine where MCP_LOK_ENGINE points: the problem, its fix, and a non-zero exit', async () => {
  const missing = join(dir, 'no-such-dir', 'docker.sock');
  const result = await runBin(MANAGER, ['doctor', '--json'], { env: { ...env, MCP_LOK_ENGINE: `unix://${missing}` }, timeoutMs: 120_000 });
  assert.is(result.code, 1, result.stderr);
  const report = JSON.parse(result.stdout.toString()) as Report;
  assert.is(report.ok, false);
  const engine = check(report, 'engine');
  assert.is(engine.status, 'fail');
  assert.match(engine.summary, new RegExp(`No container engine answered at ${missing}`));
  assert.match(engine.fix ?? '', new RegExp(`MCP_LOK_ENGINE=unix://${missing} names the engine: start the engine there, or correct or unset MCP_LOK_ENGINE\\.`));
  assert.equal([check(report, 'image').status, check(report, 'sandbox').status], ['skip', 'skip']);
  const screen = await runBin(MANAGER, ['doctor'], { env: { ...env, MCP_LOK_ENGINE: `unix://${missing}` }, timeoutMs: 120_000 });
  assert.is(screen.code, 1);
  assert.match(screen.stdout.toString(), /^PROBLEM +Container engine +No container engine answered/m);
  assert.match(screen.stdout.toString(), /^ +fix: MCP_LOK_ENGINE=/m);
  assert.match(screen.stdout.toString(), /1 problem: servers will not run until it is fixed\./);
});

doctor.run();
