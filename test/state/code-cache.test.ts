import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import { codeCacheDir, codeCacheName } from '../../src/state/code-cache.js';

const CODE_CACHE = fileURLToPath(new URL('../../src/state/code-cache.js', import.meta.url));
const cache = suite('runWithCodeCache: a CommonJS file run from V8\'s code cache');
let dir = '';
cache.before.each(() => { dir = mkdtempSync(join(tmpdir(), 'lok-code-cache-')); });
cache.after.each(() => { rmSync(dir, { recursive: true, force: true }); });

/** Runs `file` through the cache in a process of its own (the cache is written as it exits); returns what it printed. */
function run(file: string, cacheDir: string): { used: boolean; printed: string } {
  const script = `import { runWithCodeCache } from ${JSON.stringify(CODE_CACHE)};
const used = runWithCodeCache(${JSON.stringify(file)}, ${JSON.stringify(cacheDir)}, 'bundle');
process.stdout.write(' used=' + used);`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  const [printed = '', used = ''] = out.split(' used=');
  return { used: used === 'true', printed };
}

function writeModule(body: string): string {
  const file = join(dir, 'bundle.cjs');
  writeFileSync(file, body);
  return file;
}

const BODY = `const { basename } = require('node:path');
module.exports = 1;
process.stdout.write(basename(__filename) + ' ' + basename(__dirname) + ' ' + typeof exports + ' ' + (function square(n) { return n * n; })(7));`;

cache('compiles on the first run and writes the cache as the process exits; the next run uses it', () => {
  const file = writeModule(BODY);
  const cacheDir = join(dir, 'code');
  const first = run(file, cacheDir);
  assert.is(first.used, false);
  assert.is(first.printed, `bundle.cjs ${dir.split('/').pop()} object 49`, 'require, __filename, __dirname and exports as CommonJS has them');
  assert.ok(existsSync(join(cacheDir, codeCacheName('bundle', BODY))), 'no cache written');
  const second = run(file, cacheDir);
  assert.is(second.used, true);
  assert.is(second.printed, first.printed);
});

cache('compiles afresh from a changed source of the same length (V8 would take the old code) or a damaged cache, and writes it again', () => {
  const cacheDir = join(dir, 'code');
  const file = writeModule(BODY);
  run(file, cacheDir);
  const changedBody = BODY.replace('(7)', '(8)');
  writeModule(changedBody);
  const changed = run(file, cacheDir);
  assert.is(changed.used, false, 'a cache of another source was used');
  assert.match(changed.printed, / 64$/);
  assert.equal(readdirSync(cacheDir), [codeCacheName('bundle', changedBody)], 'the old source\'s cache was kept');
  assert.is(run(file, cacheDir).used, true, 'the cache was not written again');
  writeFileSync(join(cacheDir, codeCacheName('bundle', changedBody)), 'not a code cache');
  const damaged = run(file, cacheDir);
  assert.is(damaged.used, false);
  assert.match(damaged.printed, / 64$/);
  assert.is(run(file, cacheDir).used, true);
});

/** Writes, under the name of BODY's cache, V8's cache of another source of the same length (V8 checks only the length). */
function plantForeignCache(cacheDir: string, file: string): void {
  const foreign = BODY.replace('(7)', '(9)');
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${foreign}\n})`, { filename: file });
  script.runInThisContext();
  writeFileSync(join(cacheDir, codeCacheName('bundle', BODY)), script.createCachedData(), { mode: 0o600 });
}

cache('reads no cache from a folder or file another user could have written (its code would run instead of the source)', () => {
  const file = writeModule(BODY);
  const cacheDir = join(dir, 'code');
  mkdirSync(cacheDir, { mode: 0o700 });
  plantForeignCache(cacheDir, file);
  // The folder and file are this user's own: the planted code runs, as anything of the user's could make it.
  const own = run(file, cacheDir);
  assert.equal(own, { used: true, printed: `bundle.cjs ${dir.split('/').pop()} object 81` }, 'V8 did not run the planted code');
  chmodSync(cacheDir, 0o777);
  assert.equal(run(file, cacheDir), { used: false, printed: `bundle.cjs ${dir.split('/').pop()} object 49` }, 'a world-writable folder\'s cache was used');
  chmodSync(cacheDir, 0o700);
  chmodSync(join(cacheDir, codeCacheName('bundle', BODY)), 0o662);
  assert.equal(run(file, cacheDir), { used: false, printed: `bundle.cjs ${dir.split('/').pop()} object 49` }, 'a group-writable cache file was used');
  if (process.getuid?.() === 0) {
    rmSync(cacheDir, { recursive: true });
    mkdirSync(cacheDir, { mode: 0o700 });
    plantForeignCache(cacheDir, file);
    chownSync(cacheDir, 4242, 4242);
    assert.equal(run(file, cacheDir), { used: false, printed: `bundle.cjs ${dir.split('/').pop()} object 49` }, 'another user\'s folder\'s cache was used');
  }
});

cache('runs all the same when the cache cannot be written', () => {
  const file = writeModule(BODY);
  writeFileSync(join(dir, 'blocked'), '');
  assert.equal(run(file, join(dir, 'blocked')), { used: false, printed: `bundle.cjs ${dir.split('/').pop()} object 49` });
});

cache('names a cache by the source\'s hash, Node\'s version and the arch, in mcp-lok\'s cache folder', () => {
  assert.is(codeCacheDir({ MCP_LOK_HOME: '/h' }), '/h/cache/code');
  assert.match(codeCacheName('shim-bundle', 'a'), new RegExp(`^shim-bundle-${process.version.replace(/\./g, '\\.')}-${process.arch}-ca978112ca1bbdcafac231b39a23dc4d\\.v8$`));
});

/** A Node >= 22.1 to run the bins with (this one, or MCP_LOK_NODE24), if there is one; none is fetched here. */
function nodeWithCompileCache(): string | undefined {
  const candidates = [process.execPath, process.env.MCP_LOK_NODE24].filter((p): p is string => p !== undefined && existsSync(p));
  return candidates.find((node) => execFileSync(node, ['-p', 'typeof require("node:module").enableCompileCache'], { encoding: 'utf8' }).trim() === 'function');
}

const newerNode = nodeWithCompileCache();
if (newerNode === undefined) {
  process.stderr.write('The code cache tests: no Node with module.enableCompileCache here (set MCP_LOK_NODE24): its folder is not tested.\n');
} else {
  cache('on Node >= 22.1 both bins keep Node\'s compile cache in mcp-lok\'s own cache folder, never the shared temporary folder, and in none another user could write', () => {
    const bins = ['mcp-lok', 'mcp-lok-npx'].map((bin) => fileURLToPath(new URL(`../../../bin/${bin}`, import.meta.url)));
    const env = (home: string) => {
      const { NODE_COMPILE_CACHE: _unset, ...rest } = process.env;
      return { ...rest, TMPDIR: join(dir, 'tmp'), MCP_LOK_HOME: home };
    };
    mkdirSync(join(dir, 'tmp'));
    for (const bin of bins) execFileSync(newerNode, [bin, '--version'], { env: env(join(dir, 'home')), encoding: 'utf8' });
    assert.not.ok(existsSync(join(dir, 'tmp', 'node-compile-cache')), 'Node\'s compile cache went to the shared temporary folder');
    assert.ok(readdirSync(join(dir, 'home', 'cache', 'code', 'node')).length > 0, 'no compile cache in mcp-lok\'s folder');
    // A folder someone else could have written: no cache is read from it or written to it.
    const loose = join(dir, 'loose', 'cache', 'code', 'node');
    mkdirSync(loose, { recursive: true });
    chmodSync(loose, 0o777);
    for (const bin of bins) execFileSync(newerNode, [bin, '--version'], { env: env(join(dir, 'loose')), encoding: 'utf8' });
    assert.equal(readdirSync(loose), [], 'a world-writable folder got a compile cache');
    assert.not.ok(existsSync(join(dir, 'tmp', 'node-compile-cache')));
  });
}

cache.run();
