// Runs the uvu suites (unit, then end-to-end against a real engine) and prints one closing
// line `N passed, N failed, N skipped`. Usage: node scripts/test.mjs [unit|e2e]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const which = process.argv[2];
const groups = [
  ['unit', 'dist/test', ['-i', 'e2e']],
  ['e2e', 'dist/test/e2e', []],
].filter(([name]) => !which || which === name);

// The Podman suite needs Podman's Docker-compatible service; start it where we can.
if (groups.some(([name]) => name === 'e2e') && !process.env.MCP_LOK_TEST_PODMAN) {
  const podman = spawnSync('bash', ['scripts/ensure-podman.sh'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (podman.status === 0) process.env.MCP_LOK_TEST_PODMAN = podman.stdout.trim();
  else process.stderr.write('Podman is not available: the Podman end-to-end suite will say it is skipped.\n');
}

let passed = 0, failed = 0, skipped = 0, broken = false;
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
if (passed + failed === 0) broken = true;
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exitCode = failed > 0 || broken ? 1 : 0;
