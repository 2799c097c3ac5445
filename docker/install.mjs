// mcp-lok's install phase, run inside a sandbox container (never on the host).
// argv[2] is JSON: { "specs": ["name@selector", ...] }. npm runs with lifecycle scripts off,
// into a temporary directory of the package volume, which is then renamed to a directory
// named after the exact versions it holds, so a tree is complete or absent, never half-made.
// The one line on stdout is the result; everything npm says goes to stderr.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';

const ROOT = '/opt/mcp-lok/pkgs';
const STALE_TMP_MS = 60 * 60 * 1000;
const request = JSON.parse(process.argv[2] ?? '{}');
const specs = request.specs ?? [];

function finish(result) {
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(result.ok ? 0 : 1);
}

function classify(text) {
  if (/E404|404 Not Found|is not in this registry/.test(text)) return 'not-found';
  if (/ETARGET|No matching version/.test(text)) return 'no-version';
  if (/EAI_AGAIN|ENOTFOUND|ECONNREFUSED|ETIMEDOUT|ECONNRESET|E502|E503|E504|Bad Gateway|network/i.test(text)) return 'network';
  if (/SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER|CERT_/.test(text)) return 'certificate';
  return 'failed';
}

function lastNpmError(text) {
  const lines = text.split('\n').filter((l) => /npm (error|ERR!)/.test(l) && !/A complete log|log of this run|\/\.npm\/_logs/.test(l));
  return (lines.slice(0, 3).join(' ').replace(/npm (error|ERR!)\s*/g, '').trim()) || text.trim().split('\n').pop() || 'npm failed';
}

// Clean temporary trees a crashed install left behind.
for (const entry of readdirSync(ROOT)) {
  if (!entry.startsWith('.tmp-')) continue;
  try { if (Date.now() - statSync(join(ROOT, entry)).mtimeMs > STALE_TMP_MS) rmSync(join(ROOT, entry), { recursive: true, force: true }); } catch {}
}

const tmp = join(ROOT, `.tmp-${randomBytes(6).toString('hex')}`);
mkdirSync(tmp);
writeFileSync(join(tmp, 'package.json'), JSON.stringify({ name: 'mcp-lok-install', private: true }));
const npmCli = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
const npm = spawnSync(process.execPath, [npmCli, 'install', '--prefix', tmp, '--ignore-scripts', '--no-audit', '--no-fund',
  '--no-update-notifier', '--loglevel=warn', '--omit=dev', '--install-strategy=hoisted', ...specs], {
  stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', env: process.env, maxBuffer: 64 * 1024 * 1024,
});
const output = `${npm.stdout ?? ''}\n${npm.stderr ?? ''}`;
if (npm.status !== 0) {
  rmSync(tmp, { recursive: true, force: true });
  finish({ ok: false, reason: classify(output), message: lastNpmError(output), log: output.slice(-4000) });
}

const manifest = JSON.parse(readFileSync(join(tmp, 'package.json'), 'utf8'));
const packages = Object.keys(manifest.dependencies ?? {}).map((name) => {
  const pkg = JSON.parse(readFileSync(join(tmp, 'node_modules', name, 'package.json'), 'utf8'));
  return { name, version: pkg.version, bin: pkg.bin ?? {} };
});
const order = specs.map((spec) => spec.replace(/^(@?[^@]+).*$/, '$1'));
packages.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
const dir = createHash('sha256').update(packages.map((p) => `${p.name}@${p.version}`).join('\n')).digest('hex').slice(0, 16);
try {
  renameSync(tmp, join(ROOT, dir));
} catch (error) {
  // Another install of the same versions finished first: keep its tree.
  rmSync(tmp, { recursive: true, force: true });
  if (!['ENOTEMPTY', 'EEXIST'].includes(error.code)) throw error;
}
finish({ ok: true, dir, packages });
