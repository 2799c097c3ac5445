// Bundles mcp-lok-npx's start path into one file, dist/src/shim-bundle.js (run by `npm run
// build` after tsc). MCP clients start the shim often: loading ~80 modules one by one costs
// ~40 ms that one file does not. Packages stay outside (resolved from node_modules as usual),
// and the bundle sits at the same depth as dist/src/*.js, so src/package-root.ts finds the
// package from it. bin/mcp-lok-npx runs the bundle only when it is newer than the last tsc
// build, so an edit compiled without bundling never runs stale code.
import { existsSync } from 'node:fs';
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
await esbuild.build({
  entryPoints: [entry],
  outfile: `${root}dist/src/shim-bundle.js`,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
});
