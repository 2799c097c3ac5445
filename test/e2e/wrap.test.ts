// `mcp-lok wrap` and `unwrap` on a copy of every client's config (test/fixtures/client-configs:
// a home folder and a project), through the real bin: the files round-trip byte for byte.
// Nothing here needs the engine (`--no-install`); wrap-claude.test.ts runs a wrapped server.
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parse as parseToml } from 'smol-toml';
import { parseJsonc } from '../../src/app/client-configs/json-document.js';
import { MANAGER, ROOT, SHIM, runBin } from './harness.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'client-configs');

/** Every fixture file, relative to the fixtures folder. */
function fixtureFiles(dir = FIXTURES): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? fixtureFiles(join(dir, d.name)) : [relative(FIXTURES, join(dir, d.name))]));
}

interface World { dir: string; home: string; project: string; lokHome: string; env: Record<string, string> }

function makeWorld(): World {
  const dir = mkdtempSync(join(tmpdir(), 'lok-wrap-e2e-'));
  cpSync(FIXTURES, dir, { recursive: true });
  const home = join(dir, 'home');
  const lokHome = join(dir, 'lok');
  // Clients' own places must come from HOME alone here.
  return { dir, home, project: join(dir, 'project'), lokHome, env: { HOME: home, MCP_LOK_HOME: lokHome, XDG_CONFIG_HOME: '', CODEX_HOME: '', CLAUDE_CONFIG_DIR: '', APPDATA: '' } };
}

function lok(world: World, args: string[]): ReturnType<typeof runBin> {
  return runBin(MANAGER, [...args, '--project', world.project], { env: world.env });
}

function read(world: World, file: string): string {
  return readFileSync(join(world.dir, file), 'utf8');
}

function parsed(world: World, file: string): unknown {
  return file.endsWith('.toml') ? parseToml(read(world, file)) : parseJsonc(read(world, file));
}

function at(value: unknown, ...path: string[]): unknown {
  return path.reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], value);
}

const worlds: World[] = [];
const wrap = suite('mcp-lok wrap and unwrap on every client\'s config');

wrap.after(() => { for (const w of worlds) rmSync(w.dir, { recursive: true, force: true }); });

wrap('wraps every npx server of every format, and unwrap restores each file byte for byte', async () => {
  const world = makeWorld();
  worlds.push(world);
  chmodSync(join(world.home, '.claude.json'), 0o600);
  const files = fixtureFiles();
  const result = await lok(world, ['wrap', '--yes', '--no-install']);
  assert.is(result.code, 0, result.stderr);
  for (const file of files) {
    // The project's Gemini file has only a shell command: nothing to wrap.
    const shouldChange = file !== join('project', '.gemini', 'settings.json');
    assert.is(read(world, file) !== readFileSync(join(FIXTURES, file), 'utf8'), shouldChange, `${file} should ${shouldChange ? '' : 'not '}change`);
  }
  // What each client will start now: mcp-lok-npx by its absolute path, variables forwarded, npx options kept.
  const claude = parsed(world, 'home/.claude.json');
  assert.is(at(claude, 'mcpServers', 'memory', 'command'), SHIM);
  assert.equal(at(claude, 'mcpServers', 'memory', 'args'), ['-e', 'MEMORY_FILE_PATH', '-y', '@modelcontextprotocol/server-memory']);
  assert.equal(at(claude, 'projects', '/srv/app', 'mcpServers', 'github', 'args'), ['-e', 'GITHUB_PERSONAL_ACCESS_TOKEN', '-y', '@modelcontextprotocol/server-github']);
  assert.is(at(claude, 'mcpServers', 'remote-docs', 'url'), 'http://127.0.0.1:8931/mcp');
  assert.equal(at(parsed(world, 'home/.gemini/settings.json'), 'mcpServers', 'memory', 'args'), ['-e', 'API_BASE', '--yes', '--package', '@modelcontextprotocol/server-memory', 'mcp-server-memory']);
  assert.equal(at(parsed(world, 'home/.codex/config.toml'), 'mcp_servers', 'brave search', 'args'), ['-e', 'BRAVE_API_KEY', '-e', 'BRAVE_REGION', '-y', '@modelcontextprotocol/server-brave-search']);
  assert.equal(at(parsed(world, 'home/.config/zed/settings.json'), 'context_servers', 'legacy-github', 'command', 'path'), SHIM);
  assert.equal(at(parsed(world, 'project/.cursor/mcp.json'), 'mcpServers', 'windows-style'), { command: SHIM, args: ['-y', '@modelcontextprotocol/server-memory'] });
  assert.is(at(parsed(world, 'home/.cursor/mcp.json'), 'mcpServers', 'docker-server', 'command'), 'docker');
  // Comments, layout and line endings stay; modes stay; each original is in its backup.
  assert.ok(read(world, 'home/.config/Code/User/mcp.json').includes('// My MCP servers (VS Code allows comments and trailing commas)'));
  assert.ok(read(world, 'home/.codex/config.toml').includes('  "-y",  # install without asking\n'));
  assert.ok(read(world, 'project/.vscode/mcp.json').split('\n').slice(0, -1).every((line) => line.endsWith('\r')), 'CRLF line endings kept');
  assert.is(statSync(join(world.home, '.claude.json')).mode & 0o777, 0o600);
  const backups = readdirSync(world.home).filter((n) => n.startsWith('.claude.json.mcp-lok-backup-'));
  assert.is(backups.length, 1);
  assert.is(readFileSync(join(world.home, backups[0] ?? ''), 'utf8'), readFileSync(join(FIXTURES, 'home/.claude.json'), 'utf8'));
  assert.match(result.stdout.toString(), /python-tool +not wrapped: runs uvx \(Python\), not npx/);
  assert.match(result.stdout.toString(), /backup: ~\/\.claude\.json\.mcp-lok-backup-/);

  // A second wrap has nothing to do.
  const again = await lok(world, ['wrap', '--yes', '--no-install']);
  assert.is(again.code, 0, again.stderr);
  assert.match(again.stdout.toString(), /Nothing to wrap\./);

  const undo = await lok(world, ['unwrap', '--yes']);
  assert.is(undo.code, 0, undo.stderr);
  for (const file of files) assert.is(read(world, file), readFileSync(join(FIXTURES, file), 'utf8'), `${file} is not restored byte for byte`);
});

wrap('unwrap keeps what the user changed elsewhere in the files since the wrap', async () => {
  const world = makeWorld();
  worlds.push(world);
  assert.is((await lok(world, ['wrap', '--yes', '--no-install'])).code, 0);
  const claude = join(world.home, '.claude.json');
  const codex = join(world.home, '.codex', 'config.toml');
  // A client rewrites its file: a counter, a new server, a comment.
  writeFileSync(claude, readFileSync(claude, 'utf8').replace('"numStartups": 12', '"numStartups": 13'));
  writeFileSync(codex, `${readFileSync(codex, 'utf8')}\n[mcp_servers.added]\ncommand = "node"\nargs = ["x.js"]\n`);
  const undo = await lok(world, ['unwrap', '--yes']);
  assert.is(undo.code, 0, undo.stderr);
  assert.is(read(world, 'home/.claude.json'), readFileSync(join(FIXTURES, 'home/.claude.json'), 'utf8').replace('"numStartups": 12', '"numStartups": 13'));
  assert.is(read(world, 'home/.codex/config.toml'), `${readFileSync(join(FIXTURES, 'home/.codex/config.toml'), 'utf8')}\n[mcp_servers.added]\ncommand = "node"\nargs = ["x.js"]\n`);
});

wrap('unwrap without its records sets wrapped servers back to npx from their wrapped form', async () => {
  const world = makeWorld();
  worlds.push(world);
  assert.is((await lok(world, ['wrap', '--yes', '--no-install', '--client', 'cursor'])).code, 0);
  rmSync(world.lokHome, { recursive: true, force: true });
  const undo = await lok(world, ['unwrap', '--yes', '--client', 'cursor']);
  assert.is(undo.code, 0, undo.stderr);
  assert.match(undo.stdout.toString(), /no record of its original form/);
  assert.equal(at(parsed(world, 'home/.cursor/mcp.json'), 'mcpServers', 'context7'), { command: 'npx', args: ['-y', '@upstash/context7-mcp@latest'], env: { CONTEXT7_API_KEY: 'ctx7-fixture-fake-key' } });
});

wrap('--dry-run prints a diff without secrets and writes nothing; without a terminal it asks for --yes', async () => {
  const world = makeWorld();
  worlds.push(world);
  const dry = await lok(world, ['wrap', '--dry-run', '--client', 'claude-code']);
  assert.is(dry.code, 0, dry.stderr);
  const out = dry.stdout.toString();
  assert.match(out, /^--- .*\.claude\.json$/m);
  assert.match(out, new RegExp(`^\\+ +"command": "${SHIM.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}",$`, 'm'));
  assert.not.ok(out.includes('ghp_fixtureFakeToken'), 'the token is in the diff');
  assert.match(out, /Dry run: nothing was written\./);
  const asked = await lok(world, ['wrap', '--client', 'claude-code']);
  assert.is(asked.code, 2);
  assert.match(asked.stderr, /no terminal to ask.*Pass `--yes`/);
  for (const file of fixtureFiles()) assert.is(read(world, file), readFileSync(join(FIXTURES, file), 'utf8'), `${file} was written`);
  assert.not.ok(existsSync(join(world.lokHome, 'data', 'state', 'wrapped.json')));
});

wrap('--list --json shows each client\'s servers and whether they are wrapped', async () => {
  const world = makeWorld();
  worlds.push(world);
  assert.is((await lok(world, ['wrap', '--yes', '--no-install', 'memory'])).code, 0);
  const list = await lok(world, ['wrap', '--list', '--json']);
  assert.is(list.code, 0, list.stderr);
  const report = JSON.parse(list.stdout.toString()) as { files: Array<{ client: string; scope: string; servers: Array<{ name: string; action: string }> }> };
  const claude = report.files.find((f) => f.client === 'claude-code' && f.scope === 'user');
  assert.equal(claude?.servers.map((s) => [s.name, s.action]), [['memory', 'wrapped'], ['remote-docs', 'skip'], ['github', 'npx']]);
  assert.is(report.files.length, 15);
});

wrap('refuses unknown clients and server names, creating nothing', async () => {
  const world = makeWorld();
  worlds.push(world);
  const client = await lok(world, ['wrap', '--yes', '--client', 'notepad']);
  assert.is(client.code, 2);
  assert.match(client.stderr, /Unknown client "notepad": expected one of claude-desktop, /);
  const server = await lok(world, ['wrap', '--yes', 'no-such-server']);
  assert.is(server.code, 2);
  assert.match(server.stderr, /No server called "no-such-server"/);
  for (const file of fixtureFiles()) assert.is(read(world, file), readFileSync(join(FIXTURES, file), 'utf8'));
  assert.not.ok(existsSync(world.lokHome));
});

wrap.run();
