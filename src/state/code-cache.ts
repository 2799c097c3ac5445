// Node 20 compiles mcp-lok-npx's bundle from source on every start: it has no compile cache
// (`module.enableCompileCache` is Node >= 22.1, which bin/mcp-lok-npx uses where it exists).
// MCP clients start the shim often, so on Node 20 it runs the bundle through V8's own code
// cache: the functions a start compiled, kept in mcp-lok's cache folder. A cache is named by
// the SHA-256 of the source it was made from (V8 itself checks only the source's length, so a
// new version of the same length would run the old code), this Node's version and the arch;
// V8 still refuses one of other flags or a damaged one, and then it is compiled afresh and
// written again. A cache that cannot be written costs nothing but the time.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
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
 * Runs a CommonJS file as `require` would, from its V8 code cache in `cacheDir` when there is
 * one for this very source; when not, writes one as this process exits (with every function
 * this run compiled) and removes the file's older caches. Returns whether a cache was used.
 */
export function runWithCodeCache(file: string, cacheDir: string, name: string): boolean {
  const source = readFileSync(file, 'utf8');
  const cacheFile = join(cacheDir, codeCacheName(name, source));
  let cachedData: Buffer | undefined;
  try { cachedData = readFileSync(cacheFile); } catch { /* none yet */ }
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: file, cachedData });
  const used = cachedData !== undefined && !script.cachedDataRejected;
  if (!used) process.once('exit', () => writeCodeCache(cacheDir, cacheFile, name, script));
  const module = { exports: {} };
  (script.runInThisContext() as (...args: unknown[]) => void).call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  return used;
}

/** Runs mcp-lok-npx's bundle from its code cache (what bin/mcp-lok-npx calls on Node 20). */
export function runBundle(file: string, env: Readonly<Record<string, string | undefined>>): void {
  runWithCodeCache(file, codeCacheDir(env), 'shim-bundle');
}

function writeCodeCache(cacheDir: string, cacheFile: string, name: string, script: Script): void {
  try {
    mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
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
