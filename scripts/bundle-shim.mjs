// Bundles mcp-lok-npx's start path into one CommonJS file, dist/src/shim-bundle.cjs (run by
// `npm run build` after tsc). MCP clients start the shim often: loading ~80 modules one by one
// costs ~40 ms that one file does not, and a CommonJS file can run from V8's code cache on
// Node 20 (src/state/code-cache.ts; Node >= 22 caches it itself). Its one package, env-paths, goes
// in too. The bundle sits at the same depth as dist/src/*.js, so src/package-root.ts finds the
// package from it (`import.meta.url` becomes the bundle's own URL). bin/mcp-lok-npx runs the
// bundle only when it is newer than the last tsc build, so an edit compiled without bundling
// never runs stale code. src/state/code-cache.ts, which runs the bundle on Node 20, becomes a
// CommonJS file beside it for the same reason.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  process.stderr.write('bundle-shim: esbuild is not installed; mcp-lok-npx runs from the compiled modules.\n');
  process.exit(0);
}
const entry = `${root}dist/src/shim/main.js`;
if (!existsSync(entry)) {
  process.stderr.write('bundle-shim: dist/src/shim/main.js is missing: run tsc first.\n');
  process.exit(1);
}
const outfile = `${root}dist/src/shim-bundle.cjs`;
rmSync(`${root}dist/src/shim-bundle.js`, { force: true });
await esbuild.build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  define: { 'import.meta.url': '__bundleUrl' },
  banner: { js: 'const __bundleUrl = require("node:url").pathToFileURL(__filename).href;' },
  logLevel: 'warning',
});
// bin/mcp-lok-npx (CommonJS) runs the bundle through this on Node 20.
await esbuild.build({
  entryPoints: [`${root}dist/src/state/code-cache.js`],
  outfile: `${root}dist/src/state/code-cache.cjs`,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'warning',
});
// The code cache runs it without an ESM loader: a dynamic import left in it would fail at run time.
const left = /\bimport\(/.exec(readFileSync(outfile, 'utf8'));
if (left) {
  process.stderr.write(`bundle-shim: ${outfile} still has a dynamic import(): bundle that module too.\n`);
  rmSync(outfile);
  process.exit(1);
}
