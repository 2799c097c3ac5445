import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Context } from '../../src/app/context.js';
import { MAX_SOCKET_PATH_BYTES, createEgressRecorder, egressLogPath, readEgressLog, startSandboxEgress } from '../../src/egress/wiring.js';
import { LokError } from '../../src/errors.js';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { testContext } from '../support/context.js';

let home = '';
const recorder = suite('createEgressRecorder');
recorder.before.each(() => { home = mkdtempSync(join(tmpdir(), 'lok-egress-rec-')); });
recorder.after.each(() => { rmSync(home, { recursive: true, force: true }); });

function context(lines: string[]): Context {
  return testContext({ home, log: (line) => lines.push(line) });
}

recorder('announces a refusal with the host the sandbox chose escaped, and logs it as it was', () => {
  const lines: string[] = [];
  const ctx = context(lines);
  const record = createEgressRecorder(ctx, { server: 's', profile: 'p.json' });
  const host = '\x1b]0;owned\x07\u009b2J';
  const entry = { time: 't', host, port: 443, address: null, allowed: false, reason: `${host} is not in allow_host`, bytesOut: 0, bytesIn: 0 };
  record(entry);
  assert.is(lines.length, 1);
  assert.not.match(lines[0] ?? '', /[\x00-\x1f\x7f-\x9f]/);
  assert.match(lines[0] ?? '', /egress denied: \\x1b\]0;owned\\x07\\x9b2J is not in allow_host/);
  assert.equal(readEgressLog(ctx.paths.state, 's'), [entry]);
  assert.ok(readFileSync(egressLogPath(ctx.paths.state, 's'), 'utf8').endsWith('\n'));
});

recorder('refuses a socket path too long for a Unix socket, listening nowhere', async () => {
  const ctx = context([]);
  const dir = join(home, 'd'.repeat(Math.max(1, MAX_SOCKET_PATH_BYTES - home.length - 5)));
  mkdirSync(dir, { recursive: true });
  const error = await startSandboxEgress(ctx, { server: 's', profile: 'p', dir, rules: { insecureAllowAll: false, transports: [], hosts: [], ports: [] } }).then(() => undefined, (e: unknown) => e);
  assert.instance(error, LokError);
  assert.match((error as LokError).message, /too long for a Unix socket/);
  assert.match((error as LokError).hint ?? '', /MCP_LOK_HOME/);
  assert.equal(readdirSync(dir), []);
  assert.not.ok(existsSync(join(dir, 'egress.sock')));
});
recorder.run();
