// `mcp-lok logs` shows what a background server wrote, but never lets it drive the reader's
// terminal: a fixture server writes escape sequences to stderr, and they come out as text.
// A server that writes a lot cannot fill the disk: its log is rotated past 10 MiB.
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { engineRequest } from '../../src/engine/http.js';
import { ENGINE, MANAGER, eventually, requireEngine, runBin, tempDir } from './harness.js';
import { startFixtureRegistry, type FixtureRegistry } from './registry.js';

let registry: FixtureRegistry;
const home = tempDir('mcp-lok-logs-escape-');
const env = { MCP_LOK_HOME: home };
const name = `e2e-noisy-${randomBytes(3).toString('hex')}`;
const loud = `e2e-loud-${randomBytes(3).toString('hex')}`;
const MiB = 1024 * 1024;
/** A smaller cap than the default 10 MiB keeps the test off the speed of a loaded machine's relays. */
const CAP = MiB;
const escaped = suite('mcp-lok logs with a server that writes terminal escape sequences');

escaped.before(async () => {
  await requireEngine();
  registry = await startFixtureRegistry();
});
escaped.after(async () => {
  for (const n of [name, loud]) await runBin(MANAGER, ['rm', '-f', n], { env }).catch(() => undefined);
  await registry?.close();
  const filters = encodeURIComponent(JSON.stringify({ label: ['mcp-lok=true', 'mcp-lok-kind=packages'] }));
  const volumes = (await engineRequest<{ Volumes: Array<{ Name: string; Labels: Record<string, string> }> | null }>(ENGINE, 'GET', `/volumes?filters=${filters}`)).body.Volumes ?? [];
  for (const v of volumes) if ((v.Labels['mcp-lok-package'] ?? '').startsWith('lok-fixture-noisy')) await engineRequest(ENGINE, 'DELETE', `/volumes/${v.Name}`);
});

escaped('prints ESC, BEL, C1 and carriage returns from the server as visible text', async () => {
  const started = await runBin(MANAGER, ['start', '--registry', registry.url, '--name', name, 'npx://lok-fixture-noisy'], { env });
  assert.is(started.code, 0, started.stderr);
  let out = '';
  await eventually(async () => {
    const logs = await runBin(MANAGER, ['logs', name], { env });
    out = logs.stdout.toString('utf8');
    return out.includes('noisy:');
  }, 60_000, `the server's line in its log`);
  assert.match(out, 'noisy: \\x1b]0;owned\\x07\\x1b[2J\\x9b6n hidden\\x0dshown\n');
  assert.not.match(out.replace(/[\n\t]/g, ''), /[\x00-\x1f\x7f-\x9f]/);
});

escaped('rotates a server log past its cap (MCP_LOK_LOG_MAX_BYTES, default 10 MiB) to NAME.log.1, and prints the rotated part first', async () => {
  const started = await runBin(MANAGER, ['start', '--registry', registry.url, '--name', loud, '-e', `NOISY_FILL=${1.5 * CAP}`, 'npx://lok-fixture-noisy'], { env: { ...env, MCP_LOK_LOG_MAX_BYTES: String(CAP) } });
  assert.is(started.code, 0, started.stderr);
  const log = join(home, 'data', 'state', 'logs', `${loud}.log`);
  await eventually(async () => existsSync(`${log}.1`), 120_000, `${log}.1 to appear`);
  assert.ok(statSync(`${log}.1`).size > CAP);
  const logs = await runBin(MANAGER, ['logs', loud], { env });
  assert.is(logs.code, 0, logs.stderr);
  const out = logs.stdout.toString('utf8');
  assert.ok(out.length > CAP, `only ${out.length} bytes printed`);
  assert.ok(out.indexOf('noisy: ') < out.indexOf('x'.repeat(999)), 'the rotated part was not printed first');
});

escaped.run();
