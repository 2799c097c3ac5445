import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
type Graph = Map<string, Map<string, number>>;
interface GraphScript {
  folderGraph: (srcDir: string) => Graph;
  folderCycles: (graph: Graph) => string[][];
}
const script = (): Promise<GraphScript> => import(pathToFileURL(join(ROOT, 'scripts', 'import-graph.mjs')).href) as Promise<GraphScript>;

/** The front ends: each turns its own input into requests for app/, and none imports another. */
const FRONT_ENDS = ['cli', 'shim', 'manager', 'supervisor'];

const graph = suite('the folder import graph of dist/src');

graph('has no cycle between folders', async () => {
  const { folderGraph, folderCycles } = await script();
  const cycles = folderCycles(folderGraph(join(ROOT, 'dist', 'src')));
  assert.equal(cycles, [], `folders that import each other: ${cycles.map((c) => c.join(' <-> ')).join('; ')} (run node scripts/import-graph.mjs)`);
});

graph('no folder imports a front end, and app/ is what the front ends call', async () => {
  const { folderGraph } = await script();
  const edges = folderGraph(join(ROOT, 'dist', 'src'));
  for (const [from, to] of edges) {
    for (const target of to.keys()) assert.not.ok(FRONT_ENDS.includes(target), `${from}/ imports the front end ${target}/`);
  }
  for (const front of FRONT_ENDS) assert.ok(edges.get(front)?.has('app'), `${front}/ does not call app/`);
});

graph('finds a cycle when there is one (the check can fail)', async () => {
  const { folderGraph, folderCycles } = await script();
  const dir = mkdtempSync(join(tmpdir(), 'lok-graph-'));
  try {
    const write = (path: string, text: string): void => { mkdirSync(dirname(join(dir, path)), { recursive: true }); writeFileSync(join(dir, path), text); };
    write('a/x.js', "import { y } from '../b/y.js';\n");
    write('b/y.js', "export const y = 1;\nexport async function z() { return import('../c/z.js'); }\n");
    write('c/z.js', "export { x } from '../a/x.js';\n");
    write('d/w.js', "import '../a/x.js';\n");
    assert.equal(folderCycles(folderGraph(dir)), [['a', 'b', 'c']]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

graph.run();
