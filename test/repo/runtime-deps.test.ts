// Every package the shipped code imports is a runtime dependency: a package that is only a
// devDependency is missing after `npm i -g mcp-lok`, and the import fails on the user's machine.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT } from '../e2e/harness.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };

/** Returns every .js file under a folder. */
function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : name.endsWith('.js') ? [path] : [];
  });
}

/** Returns the packages a compiled file imports, statically or dynamically (node: built-ins left out). */
function packagesImportedBy(source: string): string[] {
  const patterns = [
    /^\s*import\s+(?:[^'";]*?\s+from\s+)?['"]([^.'"/][^'"]*)['"]/gm,
    /^\s*export\s+[^'";]*?\s+from\s+['"]([^.'"/][^'"]*)['"]/gm,
    /\bimport\(\s*['"]([^.'"/][^'"]*)['"]\s*\)/g,
  ];
  const names = new Set<string>();
  for (const pattern of patterns) {
    for (const match of source.matchAll(pattern)) {
      const spec = match[1] ?? '';
      if (spec.startsWith('node:') || builtinModules.includes(spec)) continue;
      names.add(spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/'));
    }
  }
  return [...names];
}

const deps = suite('runtime dependencies');

deps('every package dist/src imports is in dependencies, not only in devDependencies', () => {
  const missing = walk(join(ROOT, 'dist', 'src')).flatMap((file) =>
    packagesImportedBy(readFileSync(file, 'utf8')).filter((name) => pkg.dependencies?.[name] === undefined).map((name) => `${name} (${file.slice(ROOT.length)})`));
  assert.equal(missing, []);
});

deps('finds the packages of static, re-exported and dynamic imports (the check can fail)', () => {
  const source = [
    "import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';",
    "import kleur from 'kleur';",
    "export { parse } from 'smol-toml';",
    "const { serveStdio } = await import('@modelcontextprotocol/server/stdio');",
    "import { join } from 'node:path';",
    "import { x } from './local.js';",
    "const text = 'npx @modelcontextprotocol/server-memory';",
  ].join('\n');
  assert.equal(packagesImportedBy(source).sort(), ['@modelcontextprotocol/sdk', '@modelcontextprotocol/server', 'kleur', 'smol-toml']);
});

deps.run();
