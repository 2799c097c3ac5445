// The orphan sweep's choice of run folders (pipes, egress sockets), against a listener of the
// test's own standing in for the engine's container list: no container is created or removed.
import http from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { EngineEndpoint } from '../../src/engine/endpoint.js';
import { sweepOrphans } from '../../src/engine/sweep.js';
import { buildLabels } from '../../src/sandbox/labels.js';
import { currentOwner } from '../../src/state/owner.js';

const sweep = suite('sweepOrphans: run folders');
let dir = '';
let server: http.Server | undefined;

sweep.before.each(() => { dir = mkdtempSync(join(tmpdir(), 'lok-sweep-')); });
sweep.after.each(async () => {
  if (server) await new Promise((resolve) => server?.close(resolve));
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** Answers every request with `containers` as the engine's container list. */
async function engineListing(containers: unknown[]): Promise<EngineEndpoint> {
  server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(containers));
  });
  const socketPath = join(dir, 'engine.sock');
  await new Promise<void>((resolve) => server?.listen(socketPath, resolve));
  return { kind: 'unix', socketPath, source: 'test' };
}

/** Makes run folders whose last change was two minutes ago (past the sweep's fresh-folder age). */
function oldRunDirs(runDir: string, names: string[]): void {
  const then = (Date.now() - 120_000) / 1000;
  for (const name of names) {
    mkdirSync(join(runDir, name), { recursive: true });
    utimesSync(join(runDir, name), then, then);
  }
}

sweep('keeps the folders of a running server\'s session containers, which are named after the container, not the server', async () => {
  const labels = buildLabels({ name: 'srv', role: 'session', launcher: 'start', transport: 'streamable-http', profile: 'p', packages: [], image: 'i', owner: currentOwner() });
  const endpoint = await engineListing([{ Id: 'c1', Names: ['/srv-0123456789ab'], State: 'running', Labels: labels }]);
  const runDir = join(dir, 'run');
  oldRunDirs(runDir, ['srv-0123456789ab.0a1b2c3d', 'srv.11223344', 'gone-0123456789ab.0a1b2c3d']);
  const removed = await sweepOrphans(endpoint, runDir, Date.now());
  assert.equal(removed, ['gone-0123456789ab.0a1b2c3d']);
  assert.equal(readdirSync(runDir).sort(), ['srv-0123456789ab.0a1b2c3d', 'srv.11223344']);
  assert.not.ok(existsSync(join(runDir, 'gone-0123456789ab.0a1b2c3d')));
});

sweep.run();
