// Desktop clients (Claude Desktop, Cursor launched from the dock) start servers with a bare
// environment, a PATH of /usr/bin:/bin and `/` as the working folder: mcp-lok-npx must find the
// engine without a docker program, and never read or mount anything relative to `/`.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { removeFixtureVolumes } from './escape-support.js';
import { afterLines, lokContainers, requireEngine, SHIM, tempDir, type RunResult } from './harness.js';
import { startFixtureRegistry, type FixtureRegistry } from './registry.js';

interface Seen { env: Record<string, string>; args: string[] }

let registry: FixtureRegistry;
let home = '';
const gui = suite('mcp-lok-npx started as a desktop client starts it');

gui.before(async () => {
  await requireEngine();
  registry = await startFixtureRegistry();
  home = tempDir('mcp-lok-gui-');
});
gui.after(async () => {
  await registry?.close();
  await removeFixtureVolumes('lok-fixture-env');
  if (home) rmSync(home, { recursive: true, force: true });
});

/** Runs the shim under `env -i HOME=… PATH=…` (plus `extra`) in `/`, holding stdin open until it printed a line or exited. */
function runBare(args: string[], path: string, extra: Record<string, string> = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const vars = Object.entries({ HOME: home, PATH: path, MCP_LOK_EPHEMERAL: '1', ...extra }).map(([k, v]) => `${k}=${v}`);
    const child = spawn('/usr/bin/env', ['-i', ...vars, process.execPath, SHIM, ...args], { cwd: '/', stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`timed out: ${args.join(' ')}\n${err}`)); }, 180_000);
    child.stdout.on('data', (c: Buffer) => { out.push(c); if (afterLines(1)(Buffer.concat(out).toString())) child.stdin.end(); });
    child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    child.stdin.on('error', () => undefined);
    child.on('exit', () => child.stdin.end());
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout: Buffer.concat(out), stderr: err }); });
  });
}

gui('runs a server with only HOME and PATH=/usr/bin:/bin, from /, keeping its files under HOME', async () => {
  const result = await runBare(['--registry', registry.url, '-y', 'lok-fixture-env', 'data', './notes'], '/usr/bin:/bin');
  assert.is(result.code, 0, result.stderr);
  const seen = JSON.parse(result.stdout.toString()) as Seen;
  // Relative arguments reach the server as given: they are its own, resolved in its sandbox.
  assert.equal(seen.args, ['data', './notes']);
  assert.is(seen.env.HOME, '/home/node');
  // mcp-lok's records live under HOME, never under the working folder `/`.
  assert.ok(existsSync(join(home, '.cache', 'mcp-lok')), 'no cache under HOME');
  assert.not.ok(existsSync('/.cache/mcp-lok') || existsSync('/.local/share/mcp-lok'), 'files under /');
});

gui('finds the engine without running any docker program', async () => {
  // A docker on PATH that only leaves a mark: the engine is found through its socket, not the CLI.
  const bin = join(home, 'fake-bin');
  const mark = join(home, 'docker-was-run');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'docker'), `#!/bin/sh\necho "$@" >> '${mark}'\nexit 1\n`, { mode: 0o755 });
  const result = await runBare(['--registry', registry.url, '-y', 'lok-fixture-env'], `${bin}:/usr/bin:/bin`);
  assert.is(result.code, 0, result.stderr);
  assert.not.ok(existsSync(mark), 'mcp-lok-npx ran docker');
});

for (const [what, args, extra] of [
  ['a relative --profile', ['--profile', 'my-profile.json'], {}],
  ['a relative MCP_LOK_CA_CERT', [], { MCP_LOK_CA_CERT: 'certs/ca.pem' }],
] as Array<[string, string[], Record<string, string>]>) {
  gui(`refuses ${what} under cwd / in one line, creating nothing`, async () => {
    const name = `e2e-gui-${process.pid}-${what.length}`;
    const result = await runBare(['--registry', registry.url, '--name', name, ...args, '-y', 'lok-fixture-env'], '/usr/bin:/bin', extra);
    assert.is(result.code, 125, result.stderr);
    assert.is(result.stdout.length, 0);
    const lines = result.stderr.trim().split('\n');
    assert.match(lines[0] ?? '', /is relative, but the working folder is \/ \(desktop clients start servers there\)/);
    assert.ok(lines.length <= 2, result.stderr);
    assert.is((await lokContainers(`mcp-lok-name=${name}`)).length, 0);
  });
}

gui.run();
