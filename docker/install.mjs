// mcp-lok's install phase, run inside a sandbox container (never on the host).
// The request is JSON: argv[2], or with argv[2] `-` the first line on stdin (a lockfile can be
// larger than one argument may be). Its `mode`:
//   install (default): { specs: ["name@selector", ...] } resolves the specs now;
//   ci: { specs, lockfile: "<package-lock.json text>", dir } installs exactly the tree that
//       lockfile describes (npm ci: every tarball checked against its integrity), never resolving;
//   view: { specs } asks the registry for the newest version each spec matches;
//   prune: { remove: ["<tree dir>", ...] } removes those trees (no network): only trees the
//          caller's own record lists, since another mcp-lok home can use the same volume.
// npm runs with lifecycle scripts off, into a temporary directory of the package volume, which
// is then renamed to a directory named after the tree's lockfile, so a tree is complete or
// absent, never half-made. The one line on stdout is the result; everything npm says goes to
// stderr.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';

const ROOT = '/opt/mcp-lok/pkgs';
const STALE_TMP_MS = 60 * 60 * 1000;
const npmDir = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm');
const npmCli = join(npmDir, 'bin', 'npm-cli.js');

// Writes to a pipe are synchronous on Linux: the line is out before the exit.
function finish(result) {
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(result.ok ? 0 : 1);
}

function classify(text) {
  if (/E404|404 Not Found|is not in this registry/.test(text)) return 'not-found';
  if (/ETARGET|No matching version/.test(text)) return 'no-version';
  if (/EINTEGRITY|integrity checksum failed/i.test(text)) return 'integrity';
  if (/EAI_AGAIN|ENOTFOUND|ECONNREFUSED|ETIMEDOUT|ECONNRESET|E502|E503|E504|Bad Gateway|network/i.test(text)) return 'network';
  if (/SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER|CERT_/.test(text)) return 'certificate';
  return 'failed';
}

function lastNpmError(text) {
  const lines = text.split('\n').filter((l) => /npm (error|ERR!)/.test(l) && !/A complete log|log of this run|\/\.npm\/_logs/.test(l));
  return (lines.slice(0, 3).join(' ').replace(/npm (error|ERR!)\s*/g, '').trim()) || text.trim().split('\n').pop() || 'npm failed';
}

function npm(args, cwd) {
  const run = spawnSync(process.execPath, [npmCli, ...args, '--no-audit', '--no-fund', '--no-update-notifier', '--loglevel=warn'], {
    stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', env: process.env, maxBuffer: 64 * 1024 * 1024, cwd,
  });
  return { status: run.status, stdout: run.stdout ?? '', output: `${run.stdout ?? ''}\n${run.stderr ?? ''}` };
}

function failWith(output, tmp) {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  finish({ ok: false, reason: classify(output), message: lastNpmError(output), log: output.slice(-4000) });
}

// The same as treeDirOf in src/prepare/lockfile.ts: keep them alike.
function treeDirOf(lock) {
  const lines = Object.entries(lock.packages ?? {})
    .filter(([path]) => path !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([path, entry]) => `${path} ${entry.version} ${typeof entry.integrity === 'string' ? entry.integrity : ''}`);
  return createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16);
}

function readRequest() {
  const arg = process.argv[2] ?? '{}';
  if (arg !== '-') return Promise.resolve(JSON.parse(arg));
  return new Promise((resolve, reject) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk) => {
      text += chunk;
      const end = text.indexOf('\n');
      if (end >= 0) { process.stdin.pause(); resolve(JSON.parse(text.slice(0, end))); }
    });
    process.stdin.on('end', () => { try { resolve(JSON.parse(text)); } catch (error) { reject(error); } });
  });
}

/** Removes what prunes moved out of the way (`.rm-*`: no longer a tree, whatever is left of it). */
function removeMoved() {
  for (const entry of readdirSync(ROOT)) {
    if (entry.startsWith('.rm-')) try { rmSync(join(ROOT, entry), { recursive: true, force: true }); } catch {}
  }
}

function newTmp() {
  // Clean temporary trees a crashed install left behind, and what a stopped prune left.
  for (const entry of readdirSync(ROOT)) {
    if (!entry.startsWith('.tmp-')) continue;
    try { if (Date.now() - statSync(join(ROOT, entry)).mtimeMs > STALE_TMP_MS) rmSync(join(ROOT, entry), { recursive: true, force: true }); } catch {}
  }
  removeMoved();
  const tmp = join(ROOT, `.tmp-${randomBytes(6).toString('hex')}`);
  mkdirSync(tmp);
  return tmp;
}

/** Reads what a finished tree holds: its lockfile, and each requested package's version, bin and integrity. */
function describeTree(tmp, names) {
  const text = readFileSync(join(tmp, 'package-lock.json'), 'utf8');
  const lock = JSON.parse(text);
  const packages = names.map((name) => {
    const pkg = JSON.parse(readFileSync(join(tmp, 'node_modules', name, 'package.json'), 'utf8'));
    const entry = lock.packages?.[`node_modules/${name}`] ?? {};
    return { name, version: pkg.version, bin: pkg.bin ?? {}, integrity: typeof entry.integrity === 'string' ? entry.integrity : '' };
  });
  return { text, lock, packages };
}

function keepTree(tmp, dir) {
  try {
    renameSync(tmp, join(ROOT, dir));
  } catch (error) {
    // Another install of the same tree finished first: keep its tree.
    rmSync(tmp, { recursive: true, force: true });
    if (!['ENOTEMPTY', 'EEXIST'].includes(error.code)) throw error;
  }
}

const nameOf = (spec) => spec.replace(/^(@?[^@]+).*$/, '$1');

function install(specs) {
  const tmp = newTmp();
  writeFileSync(join(tmp, 'package.json'), JSON.stringify({ name: 'mcp-lok-install', private: true }));
  const run = npm(['install', '--prefix', tmp, '--ignore-scripts', '--omit=dev', '--install-strategy=hoisted', ...specs]);
  if (run.status !== 0) failWith(run.output, tmp);
  const manifest = JSON.parse(readFileSync(join(tmp, 'package.json'), 'utf8'));
  const order = specs.map(nameOf);
  const names = Object.keys(manifest.dependencies ?? {}).sort((a, b) => order.indexOf(a) - order.indexOf(b));
  const tree = describeTree(tmp, names);
  const dir = treeDirOf(tree.lock);
  keepTree(tmp, dir);
  finish({ ok: true, dir, packages: tree.packages, lockfile: tree.text });
}

function installFromLockfile(specs, lockfileText, want) {
  const lock = JSON.parse(lockfileText);
  if (treeDirOf(lock) !== want) finish({ ok: false, reason: 'failed', message: 'the pinned lockfile does not describe the pinned tree' });
  const root = lock.packages?.[''] ?? {};
  const tmp = newTmp();
  writeFileSync(join(tmp, 'package.json'), JSON.stringify({ name: root.name ?? 'mcp-lok-install', private: true, dependencies: root.dependencies ?? {} }));
  writeFileSync(join(tmp, 'package-lock.json'), lockfileText);
  // npm ci installs the lockfile's tree or fails; it checks each tarball against its integrity.
  // A tarball already in the shared cache (checked by that integrity) needs no registry.
  const run = npm(['ci', '--prefix', tmp, '--ignore-scripts', '--omit=dev', '--install-strategy=hoisted', '--prefer-offline']);
  if (run.status !== 0) failWith(run.output, tmp);
  const tree = describeTree(tmp, specs.map(nameOf));
  if (treeDirOf(tree.lock) !== want) {
    rmSync(tmp, { recursive: true, force: true });
    finish({ ok: false, reason: 'failed', message: 'npm changed the pinned lockfile while installing it' });
  }
  keepTree(tmp, want);
  finish({ ok: true, dir: want, packages: tree.packages });
}

function newest(specs) {
  let semver;
  try { semver = createRequire(join(npmDir, 'package.json'))('semver'); } catch { semver = undefined; }
  const found = [];
  for (const spec of specs) {
    const run = npm(['view', spec, 'version', '--json']);
    if (run.status !== 0) failWith(run.output);
    let versions = [];
    try {
      const parsed = run.stdout.trim() === '' ? [] : JSON.parse(run.stdout);
      versions = (Array.isArray(parsed) ? parsed : [parsed]).filter((v) => typeof v === 'string');
    } catch {
      failWith(run.output);
    }
    const sorted = semver ? versions.filter((v) => semver.valid(v)).sort(semver.compare) : versions;
    found.push({ name: nameOf(spec), version: sorted.at(-1) });
  }
  finish({ ok: true, newest: found });
}

/**
 * Removes the trees (directories named like treeDirOf's) that `remove` names. Each is first
 * renamed out of the way, in one step, and only then deleted: a prune stopped midway (its
 * container removed) must not leave half a tree under a tree's name, which a later install of
 * the same lockfile would find and keep as done.
 */
function prune(remove) {
  const names = new Set((Array.isArray(remove) ? remove : []).filter((d) => typeof d === 'string' && /^[0-9a-f]{16}$/.test(d)));
  const removed = [];
  for (const entry of readdirSync(ROOT)) {
    if (!names.has(entry)) continue;
    renameSync(join(ROOT, entry), join(ROOT, `.rm-${entry}-${randomBytes(6).toString('hex')}`));
    removed.push(entry);
  }
  removeMoved();
  finish({ ok: true, removed });
}

const request = await readRequest();
const specs = request.specs ?? [];
if (request.mode === 'ci') installFromLockfile(specs, request.lockfile, request.dir);
else if (request.mode === 'view') newest(specs);
else if (request.mode === 'prune') prune(request.remove);
else install(specs);
