// The engine finder of the one context, against a listener of the test's own standing in for
// the engine (it answers `_ping` and an empty container list): nothing reaches a real engine.
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createDebug, createEngineFinder } from '../../src/app/context.js';
import { LokError } from '../../src/errors.js';

const finder = suite('createEngineFinder');
let dir = '';
let server: http.Server | undefined;

finder.before.each(() => { dir = mkdtempSync(join(tmpdir(), 'lok-context-')); });
finder.after.each(async () => {
  if (server) await new Promise((resolve) => server?.close(resolve));
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

finder('looks again after a failed discovery: an engine started later is found by the same long-lived process', async () => {
  const socketPath = join(dir, 'engine.sock');
  const find = createEngineFinder({ env: {}, home: dir, platform: 'linux', runDir: join(dir, 'run'), now: Date.now, debug: () => {} });
  const first = await find.engine(`unix://${socketPath}`).catch((error: unknown) => error);
  assert.instance(first, LokError);
  assert.is((first as LokError).code, 'ENGINE_UNAVAILABLE');
  server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': req.url?.endsWith('/_ping') ? 'text/plain' : 'application/json', 'api-version': '1.41' });
    res.end(req.url?.endsWith('/_ping') ? 'OK' : '[]');
  });
  await new Promise<void>((resolve) => server?.listen(socketPath, resolve));
  const found = await find.engine(`unix://${socketPath}`);
  assert.is(found.kind === 'unix' ? found.socketPath : '', socketPath);
  await find.swept();
  // Found once, it is kept: the same endpoint (and one sweep) for the rest of the process.
  assert.is(await find.engine(`unix://${socketPath}`), found);
});

finder.run();

const debug = suite('createDebug');

debug('shows the control characters of a debug line as escapes (a candidate server\'s stderr during update), newlines kept', () => {
  const out: string[] = [];
  const line = createDebug(true, (t) => out.push(t));
  line('npm warn x\n\u001b[8mhidden\u001b]0;title\u0007\u009b2J');
  assert.is(out.length, 1);
  assert.match(out[0] ?? '', /: npm warn x\n\\x1b\[8mhidden\\x1b\]0;title\\x07\\x9b2J\n$/);
  assert.not.match(out[0] ?? '', /[\u001b\u0007\u009b]/);
  createDebug(false, (t) => out.push(t))('not written');
  assert.is(out.length, 1);
});

debug.run();
