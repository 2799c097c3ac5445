// `npm run compat`: starts popular MCP servers from npm three ways (mcp-lok-npx as a pure drop-in,
// mcp-lok-npx with the flags its README documents, bare npx with no network), lists their tools
// with the official SDK client, and prints a Markdown table on stdout (progress on stderr).
// Usage: npm run compat -- [--only NAME,NAME] [--json] [--check] [--out FILE] [--timeout S] [--install-timeout S]
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { discoverEngine } from '../src/engine/discover.js';
import type { EngineEndpoint } from '../src/engine/endpoint.js';
import { scratchDir } from '../test/support/scratch.js';
import { checkNetns, fillNpxCache, npxEnv, npxVersion, offlineCommand, type Netns } from './bare.js';
import { CATALOG, documentedFlags, type CompatServer } from './catalog.js';
import { LIVE_CHILDREN, listToolsOf } from './client.js';
import { lokVersion, reapOwned, warmUp } from './lok.js';
import { checkServer, classify, parseCompatArgs, renderMarkdown, selectServers, summarize, type ColumnResult, type CompatArgs, type ServerResult } from './outcome.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHIM = join(ROOT, 'bin', 'mcp-lok-npx');
const WORK = join(tmpdir(), 'mcp-lok-compat');
const NPM_CACHE = join(WORK, 'npm-cache');
const CWD = join(WORK, 'cwd');
const REAP_GRACE_MS = 30_000;

const HELP = `npm run compat -- [options]

Starts popular MCP servers from npm with mcp-lok-npx (as a pure drop-in, and with the flags
the README documents) and with bare npx (no network), lists their tools with the official SDK
client, and prints a Markdown table on stdout; progress goes to stderr.

  --only NAME,NAME        only these catalog packages
  --json                  print the JSON results instead of the table
  --check                 exit 1 when a server misses the goal: bare npx lists its tools, and
                          mcp-lok-npx runs the same version and lists the same tools as a pure
                          drop-in (or with the documented flags, where the sandbox must refuse
                          what the server is given, e.g. a host folder); ends with the line
                          \`compat check: N of M servers meet the goal\`
  --out FILE              where the JSON results go (default .tmp/compat/results.json)
  --timeout S             per start: initialize, tools/list and the probe (default 90)
  --install-timeout S     per install, by npx or mcp-lok (default 600)
`;

const log = (line: string): void => { process.stderr.write(`compat: ${line}\n`); };

const fill = (text: string, folder: string, profile: string): string => text.replaceAll('{folder}', folder).replaceAll('{profile}', profile);

/** Returns a value with `{folder}` and `{profile}` filled in, in every string it holds. */
function fillDeep<T>(value: T, folder: string, profile: string): T {
  return JSON.parse(JSON.stringify(value), (_k, v: unknown) => (typeof v === 'string' ? fill(v, folder, profile) : v)) as T;
}

const describe = (c: ColumnResult): string => (c.ok ? `${c.tools.length} tools${c.probe ? `, probe ${c.probe.ok ? 'ok' : 'fails'}` : ''}` : `fails: ${c.error ?? ''}`) + (c.ms !== undefined ? ` (${(c.ms / 1000).toFixed(1)} s)` : '');

interface Setup { args: CompatArgs; engine: EngineEndpoint | undefined; netns: Netns; folder: string; profile: string; lokEnv: Record<string, string> }

/** Runs one server's three columns and returns its result. */
async function runServer(server: CompatServer, setup: Setup, index: string): Promise<ServerResult> {
  const { args: opts, netns, folder, profile, lokEnv } = setup;
  const args = fill(server.args.join('\u0000'), folder, profile).split('\u0000');
  const probe = server.probe ? fillDeep(server.probe, folder, profile) : undefined;
  const env = server.env ?? {};
  const needs = documentedFlags(server).map((d) => ({ ...d, flags: d.flags.map((f) => fill(f, folder, profile)) }));
  const notRun = (error: string): ColumnResult => ({ ran: false, ok: false, tools: [], error });
  const say = (what: string): void => log(`${index} ${server.name}: ${what}`);

  // Bare npx: registry install first, then the server with no network at all.
  let bare: ColumnResult;
  if (!netns.ok) bare = notRun(`no network namespace: ${netns.reason}`);
  else {
    say('npx install (registry only)...');
    const failed = await fillNpxCache(server.name, NPM_CACHE, CWD, opts.installTimeoutMs);
    if (failed) bare = { ran: true, ok: false, tools: [], error: failed };
    else {
      const command = offlineCommand(netns, args);
      bare = await listToolsOf({ ...command, env: { ...env, ...npxEnv(NPM_CACHE, true) }, cwd: CWD, timeoutMs: opts.timeoutMs, ...(probe ? { probe } : {}) });
    }
  }
  say(`bare npx: ${describe(bare)}`);

  // mcp-lok-npx: a first start installs; then the pure drop-in and the documented flags.
  const pids = new Set<number>();
  const onPid = (pid: number): void => { pids.add(pid); };
  const leaked: string[] = [];
  const lokColumn = async (extra: string[]): Promise<ColumnResult> => {
    if (!setup.engine) return notRun('no container engine');
    const column = await listToolsOf({ command: SHIM, args: [...extra, ...args], env: { ...env, ...lokEnv }, cwd: CWD, timeoutMs: opts.timeoutMs, onPid, ...(probe ? { probe } : {}) });
    leaked.push(...await reapOwned(setup.engine, pids, REAP_GRACE_MS));
    return column;
  };
  if (setup.engine) {
    say('mcp-lok-npx first start (installs in a sandbox)...');
    const warm = await warmUp(SHIM, args, { ...env, ...lokEnv }, CWD, opts.installTimeoutMs, onPid);
    leaked.push(...await reapOwned(setup.engine, pids, REAP_GRACE_MS));
    if (warm) say(warm);
  }
  const pure = await lokColumn([]);
  say(`pure drop-in: ${describe(pure)}`);
  let documented: ColumnResult = notRun('no flags documented beyond the pure drop-in');
  if (needs.length > 0) {
    documented = await lokColumn(needs.flatMap((n) => n.flags));
    say(`documented (${needs.map((n) => n.need).join(' ')}): ${describe(documented)}`);
  }
  if (leaked.length > 0) say(`removed containers mcp-lok left behind: ${leaked.join(', ')}`);

  const columns = { pure, documented, bare };
  const versions = { bare: netns.ok ? npxVersion(NPM_CACHE, server.name) : undefined, lok: setup.engine ? lokVersion(lokEnv, server.name) : undefined };
  const result: ServerResult = {
    name: server.name,
    versions,
    downloads: server.downloads,
    args,
    env: Object.keys(env),
    needs,
    ...(server.refused ? { refused: server.refused } : {}),
    ...(server.refusedTools ? { refusedTools: server.refusedTools } : {}),
    columns,
    verdict: classify({ columns, needs, versions, ...(server.refusedTools ? { refusedTools: server.refusedTools } : {}) }),
    leaked,
  };
  say(`=> ${result.verdict.label}${result.verdict.why ? ` (${result.verdict.why})` : ''}`);
  return result;
}

/** Makes sure an engine answers (starting one as the tests do); returns whether this run started it. */
function ensureEngine(): { ok: boolean; started: boolean } {
  const res = spawnSync('bash', [join(ROOT, 'scripts', 'ensure-engine.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return { ok: res.status === 0, started: res.stdout.split('\n').includes('started') };
}

async function main(): Promise<number> {
  let opts: CompatArgs;
  let servers: CompatServer[];
  try {
    opts = parseCompatArgs(process.argv.slice(2));
    if (opts.help) { process.stdout.write(HELP); return 0; }
    servers = selectServers(CATALOG, opts.only);
  } catch (error) {
    process.stderr.write(`compat: ${(error as Error).message}\n`);
    return 2;
  }
  mkdirSync(CWD, { recursive: true });
  const engineState = ensureEngine();
  const stopEngine = (): void => {
    if (engineState.started) spawnSync('bash', [join(ROOT, 'scripts', 'stop-engine.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
    engineState.started = false;
  };
  // Interrupted: a shim removes its container on SIGTERM (its reaper does, after SIGKILL); a bare
  // npx's launcher ignores SIGTERM while it waits, and on SIGKILL takes its PID namespace along.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping the servers it started...`);
      const send = (sig: NodeJS.Signals): void => { for (const pid of LIVE_CHILDREN) { try { process.kill(pid, sig); } catch { /* gone */ } } };
      send('SIGTERM');
      setTimeout(() => { send('SIGKILL'); stopEngine(); process.exit(signal === 'SIGINT' ? 130 : 143); }, 2500);
    });
  }
  try {
    const engine = engineState.ok ? await discoverEngine({ env: process.env, home: homedir(), platform: process.platform }).catch(() => undefined) : undefined;
    if (!engine) log('no container engine answers: the mcp-lok-npx columns are not run.');
    const netns = checkNetns();
    log(netns.ok ? `bare npx runs in ${netns.reason}` : `bare npx is not run: ${netns.reason} (it never runs with this machine's network)`);
    const folder = scratchDir('mcp-lok-compat-');
    chmodSync(folder, 0o777);
    const profile = join(WORK, 'filesystem-profile.json');
    writeFileSync(profile, JSON.stringify({ write: [folder] }));
    // Homes in memory: the suite lists tools and probes once, and leaves no home volume behind.
    const lokEnv = { MCP_LOK_HOME: process.env.MCP_LOK_HOME ?? join(WORK, 'home'), MCP_LOK_EPHEMERAL: '1' };
    const setup: Setup = { args: opts, engine, netns, folder, profile, lokEnv };

    const started = new Date();
    const results: ServerResult[] = [];
    for (const [i, server] of servers.entries()) results.push(await runServer(server, setup, `[${i + 1}/${servers.length}]`));

    const commit = spawnSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout?.trim() || undefined;
    const report = { date: started.toISOString(), commit, node: process.version, engine: engine ? `${engine.kind} ${engine.kind === 'unix' ? engine.socketPath : `${engine.host}:${engine.port}`}` : undefined, bare: netns.reason, results };
    const out = resolve(opts.out ?? join(ROOT, '.tmp', 'compat', 'results.json'));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
    log(`results: ${out}`);
    if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else process.stdout.write(`${renderMarkdown(results)}\n\n${summarize(results)}\n`);

    const leaks = results.flatMap((r) => r.leaked.map((c) => `${r.name}: ${c}`));
    if (leaks.length > 0) log(`mcp-lok left containers behind (removed by the suite): ${leaks.join(', ')}`);
    if (!opts.check) return 0;
    const misses = results.map((r) => [r.name, checkServer(r)] as const).filter(([, why]) => why !== undefined);
    for (const [name, why] of misses) log(`check: ${name}: ${why}`);
    if (leaks.length > 0) log('check: containers leaked');
    if (misses.length === 0 && leaks.length === 0) log(`check: all ${results.length} servers list the same tools as bare npx.`);
    // Not in the test runner's "N passed, N failed" form: the test count of a CI run is npm test's.
    process.stdout.write(`compat check: ${results.length - misses.length} of ${results.length} servers meet the goal\n`);
    return misses.length > 0 || leaks.length > 0 ? 1 : 0;
  } finally {
    stopEngine();
  }
}

process.exitCode = await main();
