// Runs the uvu suites (unit, then end-to-end against a real engine) and prints one closing
// line `N passed, N failed, N skipped`. Usage: node scripts/test.mjs [unit|e2e]
//
// What it starts, it stops: a Docker engine or Podman service that was not answering before
// the run is started for it and stopped after it (also on Ctrl-C); one that was already
// running is left alone.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const which = process.argv[2];
const groups = [
  ['unit', 'dist/test', ['-i', 'e2e']],
  ['e2e', 'dist/test/e2e', []],
].filter(([name]) => !which || which === name);
const needsEngine = groups.some(([name]) => name === 'e2e');

/** What this run started and must stop: 'docker' and/or a Podman service's pid. */
const started = { docker: false, podmanPid: undefined };

function cleanUp() {
  if (started.podmanPid) {
    process.stderr.write('Stopping the Podman service this run started...\n');
    try { process.kill(-started.podmanPid, 'SIGTERM'); } catch { try { process.kill(started.podmanPid, 'SIGTERM'); } catch { /* gone */ } }
    started.podmanPid = undefined;
  }
  if (started.docker) {
    spawnSync('bash', ['scripts/stop-engine.sh'], { stdio: ['ignore', 'inherit', 'inherit'] });
    started.docker = false;
  }
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => { cleanUp(); process.exit(130); });
}

let passed = 0, failed = 0, skipped = 0, broken = false;
try {
  if (needsEngine) {
    const engine = spawnSync('bash', ['scripts/ensure-engine.sh'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (engine.status !== 0) process.exit(1);
    started.docker = engine.stdout.split('\n').includes('started');
  }
  // The Podman suite needs Podman's Docker-compatible service; start it where we can.
  if (needsEngine && !process.env.MCP_LOK_TEST_PODMAN) {
    const podman = spawnSync('bash', ['scripts/ensure-podman.sh'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const [socket = '', note = ''] = podman.stdout.trim().split('\n');
    if (podman.status === 0) {
      process.env.MCP_LOK_TEST_PODMAN = socket;
      const pid = Number(/^started (\d+)$/.exec(note)?.[1]);
      if (pid) started.podmanPid = pid;
    } else {
      process.stderr.write('Podman is not available: the Podman end-to-end suite will say it is skipped.\n');
    }
  }

  const snapshot = () => JSON.parse(spawnSync(process.execPath, ['scripts/leftovers.mjs'], { encoding: 'utf8' }).stdout || '[]');
  const before = needsEngine ? new Set(snapshot()) : new Set();
  for (const [name, dir, extra] of groups) {
    if (!existsSync(dir)) continue;
    process.stderr.write(`\n== ${name} tests ==\n`);
    const res = spawnSync(process.execPath, ['node_modules/uvu/bin.js', dir, '\\.test\\.js$', ...extra], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    process.stdout.write(res.stdout);
    const plain = res.stdout.replace(/\x1b\[[0-9;]*m/g, '');
    const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? 0);
    const ok = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? 0);
    const skip = Number(/Skipped:\s+(\d+)/.exec(plain)?.[1] ?? 0);
    passed += ok; skipped += skip; failed += total - ok - skip;
    if (res.status !== 0 && total - ok - skip === 0) { broken = true; process.stderr.write(`${name} tests exited with ${res.status}\n`); }
  }
  // Nothing leaks: what the suites started, they removed (the reapers had their chance).
  if (needsEngine) {
    let leaked = [];
    for (let i = 0; i < 20; i++) {
      leaked = snapshot().filter((item) => !before.has(item));
      if (leaked.length === 0) break;
      spawnSync('sleep', ['1']);
    }
    if (leaked.length > 0) {
      broken = true;
      process.stderr.write(`The test run left these behind:\n${leaked.map((l) => `  ${l}`).join('\n')}\n`);
    }
  }
} finally {
  cleanUp();
}
if (passed + failed === 0) broken = true;
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exitCode = failed > 0 || broken ? 1 : 0;
