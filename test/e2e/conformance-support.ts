// The pieces of the conformance e2e test: Node 24 for the suite's runner, the fixture image
// (test/fixtures/images/conformance-server, bundled into one file with esbuild), a run of
// `conformance server` with its results read from the `-o` folder, and the pure comparison
// and table of two runs.
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, tempDir } from './harness.js';

const run = promisify(execFile);

export const REVISIONS = ['2026-07-28', '2025-11-25'] as const;
export type Revision = typeof REVISIONS[number];
/** The one scenario mcp-lok adds to a server: its proxy checks Host and Origin, the fixture does not. */
export const ADDED_BY_MCP_LOK = 'dns-rebinding-protection';
const CONFORMANCE = join(ROOT, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
/** A whole requirement set takes seconds here; this only catches a hang. */
const RUN_TIMEOUT_MS = 15 * 60_000;

/** Returns the path of a Node >= 22 binary (scripts/ensure-node24.sh fetches one on first use). */
export function ensureNode24(): string {
  const out = execFileSync('bash', [join(ROOT, 'scripts', 'ensure-node24.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const path = out.trim().split('\n').pop() ?? '';
  if (!existsSync(path)) throw new Error(`scripts/ensure-node24.sh printed no Node binary: ${JSON.stringify(out)}`);
  return path;
}

/** Bundles the fixture server into one file and builds its image on the sandbox image `base`. */
export async function buildFixtureImage(tag: string, base: string): Promise<void> {
  const source = join(ROOT, 'test', 'fixtures', 'images', 'conformance-server');
  const context = tempDir('mcp-lok-conformance-image-');
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [join(source, 'server.mjs')], outfile: join(context, 'server.bundle.mjs'),
    bundle: true, platform: 'node', format: 'esm', target: 'node20', logLevel: 'warning',
  });
  copyFileSync(join(source, 'Dockerfile'), join(context, 'Dockerfile'));
  execFileSync('docker', ['build', '-q', '--build-arg', `BASE=${base}`, '-t', tag, context], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Returns the server scenarios a revision requires (the scored ones), as `conformance list` names them. */
export async function requiredScenarios(node: string, revision: Revision): Promise<string[]> {
  const { stdout } = await run(node, [CONFORMANCE, 'list', '--server', '--requirements', revision], { maxBuffer: 16 * 1024 * 1024 });
  return parseRequiredScenarios(stdout);
}

/** Returns the names under "Server scenarios" in `conformance list --server --requirements` output. */
export function parseRequiredScenarios(listing: string): string[] {
  const names: string[] = [];
  let inServer = false;
  for (const line of listing.split('\n')) {
    if (/^Server scenarios/.test(line)) { inServer = true; continue; }
    if (inServer && /^\S/.test(line)) break;
    const m = /^\s+- (\S+)$/.exec(line);
    if (inServer && m?.[1]) names.push(m[1]);
  }
  return names;
}

export interface Check { id: string; status: string; errorMessage?: string }
/** A scenario's checks, by scenario name. */
export type Results = Map<string, Check[]>;

/** Runs every scenario of a requirement set against `url`; resolves with the results read from its output folder. */
export async function runConformance(node: string, url: string, revision: Revision): Promise<{ results: Results; output: string }> {
  const outDir = tempDir(`mcp-lok-conformance-${revision}-`);
  // The runner exits 1 when a scenario fails; the results folder says which.
  const done = await run(node, [CONFORMANCE, 'server', '--url', url, '--requirements', revision, '-o', outDir], { maxBuffer: 64 * 1024 * 1024, timeout: RUN_TIMEOUT_MS })
    .catch((error: { stdout?: string; stderr?: string; code?: unknown }) => {
      if (typeof error.code !== 'number') throw error;
      return { stdout: error.stdout ?? '', stderr: error.stderr ?? '' };
    });
  return { results: readResults(outDir), output: `${done.stdout}${done.stderr}` };
}

/** Reads `-o` output: one folder per scenario, `server-NAME-TIMESTAMP/checks.json`. */
export function readResults(outDir: string): Results {
  const results: Results = new Map();
  for (const entry of readdirSync(outDir)) {
    const m = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(entry);
    const file = join(outDir, entry, 'checks.json');
    if (!m?.[1] || !existsSync(file)) continue;
    results.set(m[1], JSON.parse(readFileSync(file, 'utf8')) as Check[]);
  }
  return results;
}

/** Returns whether a scenario passed: it has checks and none failed. */
export function scenarioPassed(checks: readonly Check[] | undefined): boolean {
  return checks !== undefined && !checks.some((c) => c.status === 'FAILURE');
}

/** Returns a scenario's outcome as text: each check's id and status, in order (messages may name addresses, so they are left out). */
export function outcome(checks: readonly Check[] | undefined): string {
  return checks === undefined ? 'not run' : checks.map((c) => `${c.id}=${c.status}`).join(' ');
}

/**
 * Returns one line per scenario whose outcome differs between a direct run and one through
 * mcp-lok, except `dns-rebinding-protection` when it passes through mcp-lok (the proxy adds it).
 * The outcome is each check's status (`checks`), or only whether the scenario passed (`scenarios`).
 */
export function compareRuns(direct: Results, through: Results, level: 'checks' | 'scenarios' = 'checks'): string[] {
  const names = [...new Set([...direct.keys(), ...through.keys()])].sort();
  const differences: string[] = [];
  const describe = (checks: readonly Check[] | undefined): string =>
    (level === 'checks' ? outcome(checks) : checks === undefined ? 'not run' : scenarioPassed(checks) ? 'passed' : 'failed');
  for (const name of names) {
    const a = describe(direct.get(name));
    const b = describe(through.get(name));
    if (a === b) continue;
    if (name === ADDED_BY_MCP_LOK && scenarioPassed(through.get(name))) continue;
    differences.push(`${name}: direct ${a} | through mcp-lok ${b}`);
  }
  return differences;
}

export interface RevisionRuns { revision: Revision; required: string[]; direct: Results; through: Results }

/** Returns the README's Markdown table: each required scenario, passed or failed, direct and through mcp-lok, for each revision. */
export function formatTable(runs: readonly RevisionRuns[]): string {
  const mark = (checks: readonly Check[] | undefined): string => (checks === undefined ? 'not run' : scenarioPassed(checks) ? 'pass' : 'FAIL');
  const names = [...new Set(runs.flatMap((r) => r.required))];
  const header = `| scenario | ${runs.map((r) => `${r.revision} direct | ${r.revision} through mcp-lok`).join(' | ')} |`;
  const rule = `| --- | ${runs.map(() => '--- | ---').join(' | ')} |`;
  const rows = names.map((name) => `| ${name} | ${runs.map((r) => (r.required.includes(name) ? `${mark(r.direct.get(name))} | ${mark(r.through.get(name))}` : '- | -')).join(' | ')} |`);
  const count = (r: RevisionRuns, results: Results): number => r.required.filter((n) => scenarioPassed(results.get(n))).length;
  const total = `| **passed** | ${runs.map((r) => `${count(r, r.direct)}/${r.required.length} | ${count(r, r.through)}/${r.required.length}`).join(' | ')} |`;
  return [header, rule, ...rows, total].join('\n');
}
