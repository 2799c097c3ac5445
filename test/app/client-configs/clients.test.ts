import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CLIENT_IDS, findClient, listConfigFiles, type ClientId } from '../../../src/app/client-configs/clients.js';
import { chooseShimCommand } from '../../../src/app/client-configs/shim-path.js';
import { findCommand } from '../../../src/cli/commands.js';

const files = suite('listConfigFiles');

function pathsOf(platform: NodeJS.Platform, home: string, env: Record<string, string> = {}, projectDir?: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of listConfigFiles({ home, env, platform, projectDir })) (out[`${f.client}/${f.scope}`] ??= []).push(f.path);
  return out;
}

files('knows each client\'s user file on Linux', () => {
  const p = pathsOf('linux', '/home/u');
  assert.equal(p['claude-desktop/user'], ['/home/u/.config/Claude/claude_desktop_config.json']);
  assert.equal(p['claude-code/user'], ['/home/u/.claude.json']);
  assert.equal(p['cursor/user'], ['/home/u/.cursor/mcp.json']);
  assert.equal(p['vscode/user'], ['/home/u/.config/Code/User/mcp.json', '/home/u/.config/Code - Insiders/User/mcp.json']);
  assert.equal(p['cline/user']?.[0], '/home/u/.config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json');
  assert.equal(p['windsurf/user'], ['/home/u/.codeium/windsurf/mcp_config.json']);
  assert.equal(p['gemini/user'], ['/home/u/.gemini/settings.json']);
  assert.equal(p['codex/user'], ['/home/u/.codex/config.toml']);
  assert.equal(p['zed/user'], ['/home/u/.config/zed/settings.json']);
});

files('follows XDG_CONFIG_HOME, CODEX_HOME and CLAUDE_CONFIG_DIR', () => {
  const p = pathsOf('linux', '/home/u', { XDG_CONFIG_HOME: '/cfg', CODEX_HOME: '/cx', CLAUDE_CONFIG_DIR: '/cl' });
  assert.equal(p['claude-desktop/user'], ['/cfg/Claude/claude_desktop_config.json']);
  assert.equal(p['zed/user'], ['/cfg/zed/settings.json']);
  assert.equal(p['codex/user'], ['/cx/config.toml']);
  assert.equal(p['claude-code/user'], ['/cl/.claude.json']);
});

files('knows the macOS places', () => {
  const p = pathsOf('darwin', '/Users/u');
  assert.equal(p['claude-desktop/user'], ['/Users/u/Library/Application Support/Claude/claude_desktop_config.json']);
  assert.equal(p['vscode/user']?.[0], '/Users/u/Library/Application Support/Code/User/mcp.json');
  assert.equal(p['zed/user'], ['/Users/u/.config/zed/settings.json']);
  assert.equal(p['cursor/user'], ['/Users/u/.cursor/mcp.json']);
});

files('knows the Windows places (APPDATA, the user profile)', () => {
  const p = pathsOf('win32', 'C:\\Users\\u', { APPDATA: 'C:\\Users\\u\\AppData\\Roaming' });
  assert.equal(p['claude-desktop/user'], ['C:\\Users\\u\\AppData\\Roaming\\Claude\\claude_desktop_config.json']);
  assert.equal(p['vscode/user']?.[0], 'C:\\Users\\u\\AppData\\Roaming\\Code\\User\\mcp.json');
  assert.equal(p['zed/user'], ['C:\\Users\\u\\AppData\\Roaming\\Zed\\settings.json']);
  assert.equal(p['codex/user'], ['C:\\Users\\u\\.codex\\config.toml']);
  assert.equal(p['windsurf/user'], ['C:\\Users\\u\\.codeium\\windsurf\\mcp_config.json']);
});

files('adds the project\'s own files', () => {
  const p = pathsOf('linux', '/home/u', {}, '/srv/app');
  assert.equal(['claude-code', 'cursor', 'vscode', 'gemini', 'codex', 'zed'].map((c) => p[`${c}/project`]), [
    ['/srv/app/.mcp.json'], ['/srv/app/.cursor/mcp.json'], ['/srv/app/.vscode/mcp.json'], ['/srv/app/.gemini/settings.json'], ['/srv/app/.codex/config.toml'], ['/srv/app/.zed/settings.json'],
  ]);
});

files('finds clients by id or name, and the help lists every one', () => {
  assert.equal(['claude-code', 'Claude Code', 'VS Code', 'code', 'gemini-cli', 'nope'].map(findClient), ['claude-code', 'claude-code', 'vscode', 'vscode', 'gemini', undefined] as Array<ClientId | undefined>);
  const help = findCommand('wrap')?.options.client?.description ?? '';
  for (const id of CLIENT_IDS) assert.ok(help.includes(id), `wrap --help does not name ${id}`);
});

const shim = suite('chooseShimCommand');
const base = { file: '/usr/lib/node_modules/mcp-lok/bin/mcp-lok-npx', real: '/usr/lib/node_modules/mcp-lok/bin/mcp-lok-npx', platform: 'linux' as const, execPath: '/usr/bin/node' };

shim('names the link npm put on PATH when it leads to this copy', () => {
  const found = chooseShimCommand({ ...base, onPath: [{ path: '/usr/bin/mcp-lok-npx', real: base.real }] });
  assert.equal(found.shim, { command: '/usr/bin/mcp-lok-npx', prefix: [] });
  assert.equal(found.onPath, { path: '/usr/bin/mcp-lok-npx', same: true });
});

shim('names this copy\'s own file when PATH has none or another', () => {
  assert.equal(chooseShimCommand({ ...base, onPath: [] }).shim.command, base.file);
  const other = chooseShimCommand({ ...base, onPath: [{ path: '/opt/bin/mcp-lok-npx', real: '/opt/other/mcp-lok-npx' }] });
  assert.equal([other.shim.command, other.onPath?.same], [base.file, false]);
});

shim('starts node with the script on Windows', () => {
  assert.equal(chooseShimCommand({ ...base, platform: 'win32', execPath: 'C:\\node\\node.exe', onPath: [] }).shim, { command: 'C:\\node\\node.exe', prefix: [base.file] });
});

shim('refuses to write npx\'s cache into configs', () => {
  assert.throws(() => chooseShimCommand({ ...base, file: '/home/u/.npm/_npx/1a2b/node_modules/mcp-lok/bin/mcp-lok-npx', onPath: [] }), /npx's cache/);
});

files.run();
shim.run();
