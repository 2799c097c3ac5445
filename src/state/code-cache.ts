// Node 20 compiles mcp-lok-npx's bundle from source on every start: it has no compile cache
// (`module.enableCompileCache` is Node >= 22.1, which bin/mcp-lok-npx uses where it exists).
// MCP clients start the shim often, so on Node 20 it runs the bundle through V8's own code
// cache: the functions a start compiled, kept in mcp-lok's cache folder. A cache is named by
// the SHA-256 of the source it was made from (V8 itself checks only the source's length, so a
// new version of the same length would run the old code), this Node's version and the arch;
// V8 still refuses one of other flags or a damaged one, and then it is compiled afresh and
// written again. V8 runs whatever code a cache holds, so one in a folder or file another user
// could write is neither read nor written. A cache that cannot be written costs nothing but the time.
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import nodeModule, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';
import { getPaths } from './paths.js';

/** Returns the folder of code caches under mcp-lok's cache folder. */
export function codeCacheDir(env: Readonly<Record<string, string | undefined>>): string {
  return join(getPaths(env).cache, 'code');
}

/** Returns the cache's file name for a source: its name, this Node and arch, and the source's hash. */
export function codeCacheName(name: string, source: string): string {
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 32);
  return `${name}-${process.version}-${process.arch}-${hash}.v8`;
}

/**
 * Returns whether a cache folder (or file) is this user's alone: no other user owns it or can
 * write it. V8 runs whatever code a cache holds for a source of the same length, so a cache
 * another user could have written (a shared XDG_CACHE_HOME, a folder made first in /tmp) would
 * run that user's code as this one.
 */
function isPrivate(path: string, kind: 'folder' | 'file'): boolean {
  try {
    const stat = lstatSync(path);
    if (kind === 'folder' ? !stat.isDirectory() : !stat.isFile()) return false;
    const uid = process.getuid?.();
    return (uid === undefined || stat.uid === uid) && (stat.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/**
 * Runs a CommonJS file as `require` would, from its V8 code cache in `cacheDir` when there is
 * one for this very source; when not, writes one as this process exits (with every function
 * this run compiled) and removes the file's older caches. Returns whether a cache was used.
 */
export function runWithCodeCache(file: string, cacheDir: string, name: string): boolean {
  const source = readFileSync(file, 'utf8');
  const cacheFile = join(cacheDir, codeCacheName(name, source));
  let cachedData: Buffer | undefined;
  // A cache another user could have written is never read (nor written: see writeCodeCache).
  if (isPrivate(cacheDir, 'folder') && isPrivate(cacheFile, 'file')) {
    try { cachedData = readFileSync(cacheFile); } catch { /* gone meanwhile */ }
  }
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: file, cachedData });
  const used = cachedData !== undefined && !script.cachedDataRejected;
  if (!used) process.once('exit', () => writeCodeCache(cacheDir, cacheFile, name, script));
  const module = { exports: {} };
  (script.runInThisContext() as (...args: unknown[]) => void).call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  return used;
}

/**
 * Node >= 22.1: turns on Node's own compile cache in mcp-lok's cache folder, when that folder is
 * this user's alone. Node's default folder is in os.tmpdir() (/tmp, shared by every user), where
 * it takes a folder someone else made first, and V8 runs the code a cache there holds. Returns
 * whether it was turned on (NODE_COMPILE_CACHE, the user's own choice, turns it on before this).
 */
export function enableCompileCache(env: Readonly<Record<string, string | undefined>>): boolean {
  const enable = (nodeModule as { enableCompileCache?: (dir: string) => unknown }).enableCompileCache;
  if (enable === undefined) return false;
  const dir = join(codeCacheDir(env), 'node');
  try { mkdirSync(dir, { recursive: true, mode: 0o700 }); } catch { return false; }
  if (!isPrivate(dir, 'folder')) return false;
  enable(dir);
  return true;
}

/** Runs mcp-lok-npx's bundle from its code cache (what bin/mcp-lok-npx calls on Node 20). */
export function runBundle(file: string, env: Readonly<Record<string, string | undefined>>): void {
  runWithCodeCache(file, codeCacheDir(env), 'shim-bundle');
}

function writeCodeCache(cacheDir: string, cacheFile: string, name: string, script: Script): void {
  try {
    mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    if (!isPrivate(cacheDir, 'folder')) return;
    // Another start may read it meanwhile: it sees no file or the whole one.
    const partial = `${cacheFile}.${process.pid}`;
    writeFileSync(partial, script.createCachedData(), { mode: 0o600 });
    renameSync(partial, cacheFile);
    // Caches of earlier versions (or Nodes) of the same file go.
    for (const entry of readdirSync(cacheDir)) {
      if (entry.startsWith(`${name}-`) && entry.endsWith('.v8') && join(cacheDir, entry) !== cacheFile) rmSync(join(cacheDir, entry), { force: true });
    }
  } catch { /* a read-only cache folder: the next start compiles again */ }
}
