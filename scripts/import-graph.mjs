#!/usr/bin/env node
// Prints the folder import graph of the compiled code (dist/src), and the cycles between folders.
// Usage: npm run build && node scripts/import-graph.mjs [--json]
// A folder is the first path segment under src/ (src/http/reverse-proxy/x.js counts as "http");
// files directly in src/ form the folder ".". Type-only imports vanish in compilation, so the
// graph is the one that runs. Exits 1 when folders import each other in a circle.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Returns every .js file under a folder. */
function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...walk(path));
    else if (name.endsWith('.js')) out.push(path);
  }
  return out;
}

/** Returns the relative module specifiers a compiled file imports, statically or dynamically. */
export function importsOf(source) {
  const specs = new Set();
  const patterns = [
    /^\s*import\s+(?:[^'";]*?\s+from\s+)?['"](\.[^'"]+)['"]/gm,
    /^\s*export\s+[^'";]*?\s+from\s+['"](\.[^'"]+)['"]/gm,
    /\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) for (const m of source.matchAll(pattern)) specs.add(m[1]);
  return [...specs];
}

/** Returns the folder a file under src/ belongs to. */
function folderOf(srcDir, file) {
  const parts = relative(srcDir, file).split(sep);
  return parts.length === 1 ? '.' : parts[0];
}

/** Builds the folder graph: Map<folder, Map<folder, count>>. */
export function folderGraph(srcDir) {
  const graph = new Map();
  for (const file of walk(srcDir)) {
    const from = folderOf(srcDir, file);
    if (!graph.has(from)) graph.set(from, new Map());
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      const target = resolve(dirname(file), spec);
      if (!target.startsWith(srcDir + sep)) continue;
      const to = folderOf(srcDir, target);
      if (to === from) continue;
      const edges = graph.get(from);
      edges.set(to, (edges.get(to) ?? 0) + 1);
    }
  }
  return graph;
}

/** Returns the strongly connected components with more than one folder (Tarjan). */
export function folderCycles(graph) {
  let index = 0;
  const stack = [];
  const info = new Map();
  const cycles = [];
  const visit = (v) => {
    info.set(v, { index, low: index, on: true });
    index += 1;
    stack.push(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!info.has(w)) {
        visit(w);
        info.get(v).low = Math.min(info.get(v).low, info.get(w).low);
      } else if (info.get(w).on) {
        info.get(v).low = Math.min(info.get(v).low, info.get(w).index);
      }
    }
    if (info.get(v).low === info.get(v).index) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        info.get(w).on = false;
        component.push(w);
      } while (w !== v);
      if (component.length > 1) cycles.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!info.has(v)) visit(v);
  return cycles;
}

const isMain = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const srcDir = join(root, 'dist', 'src');
  const graph = folderGraph(srcDir);
  const cycles = folderCycles(graph);
  if (process.argv.includes('--json')) {
    const edges = Object.fromEntries([...graph].sort().map(([from, to]) => [from, Object.fromEntries([...to].sort())]));
    process.stdout.write(`${JSON.stringify({ edges, cycles }, null, 2)}\n`);
  } else {
    for (const [from, to] of [...graph].sort()) {
      const list = [...to].sort().map(([name, n]) => `${name} (${n})`).join(', ');
      process.stdout.write(`${from.padEnd(12)} -> ${list || '(nothing)'}\n`);
    }
    process.stdout.write(cycles.length === 0 ? 'no cycle between folders\n' : cycles.map((c) => `cycle: ${c.join(' <-> ')}\n`).join(''));
  }
  process.exitCode = cycles.length === 0 ? 0 : 1;
}
