// Where MCP clients keep their server lists, on Linux, macOS and Windows. Checked against each
// client's documentation (or, where it has none, its source and widely used installers):
// - Claude Desktop: claude_desktop_config.json in ~/Library/Application Support/Claude (macOS),
//   %APPDATA%\Claude (Windows), $XDG_CONFIG_HOME/Claude (Linux builds); key `mcpServers`.
// - Claude Code: ~/.claude.json (or $CLAUDE_CONFIG_DIR/.claude.json), `mcpServers` (user scope)
//   and `projects[PATH].mcpServers` (local scope); a project's own `.mcp.json` (project scope).
// - Cursor: ~/.cursor/mcp.json and a project's .cursor/mcp.json; key `mcpServers`.
// - VS Code: mcp.json in the profile folder (Code/User, beside settings.json) and a workspace's
//   .vscode/mcp.json; key `servers` (code.visualstudio.com/docs/copilot/reference/mcp-configuration).
// - Windsurf: ~/.codeium/windsurf/mcp_config.json; key `mcpServers`.
// - Cline: cline_mcp_settings.json in VS Code's globalStorage/saoudrizwan.claude-dev/settings.
// - Gemini CLI: ~/.gemini/settings.json and a project's .gemini/settings.json; key `mcpServers`.
// - Codex: $CODEX_HOME/config.toml (default ~/.codex) and a project's .codex/config.toml; tables `[mcp_servers.NAME]`.
// - Zed: settings.json in ~/.config/zed ($XDG_CONFIG_HOME/zed on Linux; %APPDATA%\Zed on Windows)
//   and a project's .zed/settings.json; key `context_servers` (zed.dev/docs/ai/mcp).
import { posix, win32 } from 'node:path';

/** The clients `wrap` knows, by the name `--client` takes. */
export const CLIENT_IDS = ['claude-desktop', 'claude-code', 'cursor', 'vscode', 'windsurf', 'cline', 'gemini', 'codex', 'zed'] as const;
export type ClientId = typeof CLIENT_IDS[number];

export const CLIENT_NAMES: Readonly<Record<ClientId, string>> = {
  'claude-desktop': 'Claude Desktop',
  'claude-code': 'Claude Code',
  cursor: 'Cursor',
  vscode: 'VS Code',
  windsurf: 'Windsurf',
  cline: 'Cline',
  gemini: 'Gemini CLI',
  codex: 'Codex',
  zed: 'Zed',
};

/** How a file holds its servers: JSON(C) objects at these keys, or Codex's TOML tables. */
export type FileLayout =
  | { format: 'json'; serversKey: 'mcpServers' | 'servers' | 'context_servers'; claudeProjects?: true }
  | { format: 'toml' };

/** One config file a client may have. */
export interface ConfigFile {
  client: ClientId;
  scope: 'user' | 'project';
  path: string;
  layout: FileLayout;
}

/** What the file list depends on: the user's folders and variables, and the platform. */
export interface ClientPlaces {
  home: string;
  env: Readonly<Record<string, string | undefined>>;
  platform: NodeJS.Platform;
  /** The project folder whose own config files count too (absolute). */
  projectDir: string | undefined;
}

/** Returns the folder where desktop apps keep their settings: Application Support, %APPDATA% or XDG_CONFIG_HOME. */
function appSettingsDir(places: ClientPlaces): string {
  const { home, env, platform } = places;
  const path = platform === 'win32' ? win32 : posix;
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support');
  if (platform === 'win32') return env.APPDATA ?? path.join(home, 'AppData', 'Roaming');
  return env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : path.join(home, '.config');
}

/**
 * Returns every config file the known clients may keep, user files first, then the project's;
 * whether each exists is for the caller to see. Pure: paths come from `places` alone.
 */
export function listConfigFiles(places: ClientPlaces): ConfigFile[] {
  const { home, env, platform, projectDir } = places;
  const path = platform === 'win32' ? win32 : posix;
  const app = appSettingsDir(places);
  const mcpServers: FileLayout = { format: 'json', serversKey: 'mcpServers' };
  const user = (client: ClientId, file: string, layout: FileLayout = mcpServers): ConfigFile => ({ client, scope: 'user', path: file, layout });
  const codexHome = env.CODEX_HOME && path.isAbsolute(env.CODEX_HOME) ? env.CODEX_HOME : path.join(home, '.codex');
  const claudeDir = env.CLAUDE_CONFIG_DIR && path.isAbsolute(env.CLAUDE_CONFIG_DIR) ? env.CLAUDE_CONFIG_DIR : home;
  // Zed keeps ~/.config/zed on macOS too; only Windows differs.
  const zedDir = platform === 'win32' ? path.join(app, 'Zed') : platform === 'darwin' ? path.join(home, '.config', 'zed') : path.join(app, 'zed');
  const files: ConfigFile[] = [
    user('claude-desktop', path.join(app, 'Claude', 'claude_desktop_config.json')),
    user('claude-code', path.join(claudeDir, '.claude.json'), { format: 'json', serversKey: 'mcpServers', claudeProjects: true }),
    user('cursor', path.join(home, '.cursor', 'mcp.json')),
    ...['Code', 'Code - Insiders'].flatMap((code) => [
      user('vscode', path.join(app, code, 'User', 'mcp.json'), { format: 'json', serversKey: 'servers' }),
      user('cline', path.join(app, code, 'User', 'globalStorage', 'saoudrizwan.claude-dev', 'settings', 'cline_mcp_settings.json')),
    ]),
    user('windsurf', path.join(home, '.codeium', 'windsurf', 'mcp_config.json')),
    user('gemini', path.join(home, '.gemini', 'settings.json')),
    user('codex', path.join(codexHome, 'config.toml'), { format: 'toml' }),
    user('zed', path.join(zedDir, 'settings.json'), { format: 'json', serversKey: 'context_servers' }),
  ];
  if (projectDir) {
    const project = (client: ClientId, file: string, layout: FileLayout = mcpServers): ConfigFile => ({ client, scope: 'project', path: path.join(projectDir, file), layout });
    files.push(
      project('claude-code', '.mcp.json'),
      project('cursor', path.join('.cursor', 'mcp.json')),
      project('vscode', path.join('.vscode', 'mcp.json'), { format: 'json', serversKey: 'servers' }),
      project('gemini', path.join('.gemini', 'settings.json')),
      project('codex', path.join('.codex', 'config.toml'), { format: 'toml' }),
      project('zed', path.join('.zed', 'settings.json'), { format: 'json', serversKey: 'context_servers' }),
    );
  }
  return files;
}

/** Returns the client called `name` (its id, or its name in any case and spacing), if any. */
export function findClient(name: string): ClientId | undefined {
  const wanted = name.toLowerCase().replace(/[\s_]+/g, '-');
  return CLIENT_IDS.find((id) => id === wanted || CLIENT_NAMES[id].toLowerCase().replace(/\s+/g, '-') === wanted || (id === 'vscode' && wanted === 'code'));
}
