// A real MCP client's own health check on configs `mcp-lok wrap` rewrote: Claude Code's
// `claude mcp list` starts each configured server and says whether it connected. The client
// runs in a network namespace with nothing but loopback, so it cannot reach anything outside
// (the engine is a unix socket, which mcp-lok-npx still reaches); its telemetry and updates are
// switched off too. Installing the client and the wrapped package reaches the npm registry,
// before the namespace is entered; nothing else does.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MANAGER, MEMORY, SHIM, requireEngine } from './harness.js';

/** The client version this test was written against (its `mcp list` output format). */
const CLAUDE_CODE = '@anthropic-ai/claude-code@2.1.197';

// Short: the sandbox's sockets live under the home's state folder, and a socket path has at most 107 bytes.
const dir = mkdtempSync(join(tmpdir(), 'lc-'));
const home = join(dir, 'h');
const project = join(dir, 'project');
const prefix = join(dir, 'client');

/** The environment of mcp-lok and the client: a home of its own, mcp-lok's state under it, no telemetry. */
function clientEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('MCP_LOK_')) env[k] = v;
  return {
    ...env, HOME: home,
    DISABLE_TELEMETRY: '1', DISABLE_AUTOUPDATER: '1', DISABLE_ERROR_REPORTING: '1', DISABLE_BUG_COMMAND: '1',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    // The servers keep their homes in memory: the test leaves no home volume behind.
    MCP_LOK_EPHEMERAL: '1',
    // A deadline for hangs only: the first start of a sandbox may be slow on a loaded machine.
    MCP_TIMEOUT: '240000',
  };
}

/** Runs a command in a new network namespace whose only interface is loopback. */
function inOfflineNamespace(command: string, args: string[], cwd: string): ReturnType<typeof spawnSync> {
  return spawnSync('unshare', ['--net', '--', 'sh', '-c', 'ip link set lo up 2>/dev/null; exec "$@"', 'sh', command, ...args], {
    cwd, env: clientEnv(), encoding: 'utf8', timeout: 600_000,
  });
}

const claude = suite('Claude Code connects to servers mcp-lok wrap rewrote');

claude.before(async () => {
  await requireEngine();
  if (!existsSync('/usr/bin/unshare') && spawnSync('unshare', ['--version']).status !== 0) throw new Error('this test needs `unshare` (util-linux) to keep the client off the network');
  if (process.getuid?.() !== 0) throw new Error('this test needs root for `unshare --net`');
  mkdirSync(home, { recursive: true });
  mkdirSync(project, { recursive: true });
  execFileSync('npm', ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--loglevel=error', CLAUDE_CODE], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 600_000 });
});

claude.after(() => { rmSync(dir, { recursive: true, force: true }); });

claude('`claude mcp list` shows the wrapped servers connected, offline', () => {
  // A user-scope server with a variable, and a project's local-scope one, as `claude mcp add` writes them.
  const config = {
    numStartups: 1,
    mcpServers: { memory: { type: 'stdio', command: 'npx', args: ['-y', MEMORY], env: { MEMORY_FILE_PATH: '/home/node/memory.jsonl' } } },
    projects: { [project]: { mcpServers: { 'project-memory': { type: 'stdio', command: 'npx', args: ['-y', MEMORY], env: {} } } } },
  };
  writeFileSync(join(home, '.claude.json'), `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });

  // Wrapping installs the package ahead (it needs the registry): outside the namespace.
  const wrap = spawnSync(process.execPath, [MANAGER, 'wrap', '--yes', '--client', 'claude-code', '--project', project], { cwd: project, env: clientEnv(), encoding: 'utf8', timeout: 600_000 });
  assert.is(wrap.status, 0, `${wrap.stdout}\n${wrap.stderr}`);
  assert.match(wrap.stdout, /Installed ahead: @modelcontextprotocol\/server-memory/);
  const wrapped = JSON.parse(readFileSync(join(home, '.claude.json'), 'utf8')) as typeof config;
  assert.equal(wrapped.mcpServers.memory.command, SHIM);
  assert.equal(wrapped.projects[project]?.mcpServers['project-memory'].command, SHIM);

  // The namespace really has nothing but loopback.
  const probe = inOfflineNamespace(process.execPath, ['-e', 'console.log(Object.keys(require("os").networkInterfaces()).join(","))'], project);
  assert.is(String(probe.stdout).trim(), 'lo', `interfaces in the namespace: ${String(probe.stdout)} ${String(probe.stderr)}`);

  const list = inOfflineNamespace(join(prefix, 'node_modules', '.bin', 'claude'), ['mcp', 'list'], project);
  const out = `${String(list.stdout)}${String(list.stderr)}`;
  assert.is(list.status, 0, out);
  assert.match(out, new RegExp(`^memory: ${SHIM.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} -e MEMORY_FILE_PATH -y ${MEMORY} - ✔ Connected$`, 'm'), out);
  assert.match(out, /^project-memory: .*mcp-lok-npx -y @modelcontextprotocol\/server-memory - ✔ Connected$/m, out);
  assert.not.match(out, /Failed/, out);
});

claude.run();
