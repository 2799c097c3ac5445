import { posix } from 'node:path';

/** A place no grant may expose; `subtree` also forbids everything inside it. */
export interface DenyRule {
  path: string;
  why: string;
  subtree: boolean;
}

/**
 * Temporary and runtime folders. Other programs keep their Unix sockets there (tmux, which
 * runs commands; X11; ssh-agent; editors; the engine), and a bind mount, even read-only, does
 * not stop `connect()`. `/var/folders` is where macOS keeps each user's `$TMPDIR`.
 */
const TEMP_DIRS = ['/tmp', '/var/tmp', '/private/tmp', '/private/var/tmp', '/run/user', '/var/run/user', '/dev/shm', '/var/folders', '/private/var/folders'];

/** System directories: granting them (or anything inside) hands over the machine. */
const SYSTEM_DIRS = ['/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/libx32', '/proc', '/run', '/sbin', '/sys', '/usr', '/var', '/snap', '/System', '/Library', '/private/etc', '/private/var'];

/** Credential and configuration stores under the home directory. */
const CREDENTIAL_PATHS = [
  '.ssh', '.aws', '.gnupg', '.docker', '.kube', '.npmrc', '.yarnrc', '.yarnrc.yml', '.netrc', '.git-credentials', '.config/git',
  '.config/gh', '.config/hub', '.config/gcloud', '.azure', '.oci', '.config/doctl', '.password-store', '.pypirc', '.gem/credentials',
  '.cargo/credentials', '.cargo/credentials.toml', '.gitconfig', '.local/share/keyrings', 'Library/Keychains',
  '.vault-token', '.terraform.d', '.pgpass', '.my.cnf', '.s3cfg', '.boto', '.config/rclone', '.config/op', '.m2/settings.xml',
  '.gradle/gradle.properties', '.config/containers', '.local/share/containers',
];

/**
 * Files and folders whose contents run the next time you log in or open a shell (or whose
 * programs you run by name): a write grant there is code execution on the host.
 */
const RUNS_AT_LOGIN = [
  '.bashrc', '.bash_profile', '.bash_login', '.bash_logout', '.profile', '.zshrc', '.zprofile', '.zshenv', '.zlogin', '.zlogout',
  '.kshrc', '.mkshrc', '.cshrc', '.tcshrc', '.config/fish', '.oh-my-zsh', '.xprofile', '.xsession', '.xsessionrc', '.xinitrc',
  '.pam_environment', '.config/environment.d', '.config/autostart', '.config/systemd', '.local/share/systemd', 'Library/LaunchAgents',
  '.local/bin', 'bin',
];

/** Where your own tools' code lives: a write grant there plants code you run yourself. */
const TOOL_CODE = ['.npm', '.nvm', '.volta', '.bun', '.deno', '.cargo/bin', '.pyenv', '.rbenv', '.asdf', '.sdkman', '.local/share/pnpm', 'go/bin'];

/** Browser profiles (cookies, saved passwords, sessions) on Linux (native, snap, flatpak) and macOS. */
const BROWSER_PROFILES = [
  '.mozilla', '.librewolf', '.config/google-chrome', '.config/google-chrome-beta', '.config/google-chrome-unstable', '.config/chromium',
  '.config/BraveSoftware', '.config/microsoft-edge', '.config/microsoft-edge-beta', '.config/microsoft-edge-dev', '.config/vivaldi',
  '.config/opera', 'snap/firefox', 'snap/chromium', '.var/app/org.mozilla.firefox', '.var/app/com.google.Chrome',
  '.var/app/org.chromium.Chromium', '.var/app/com.brave.Browser', '.var/app/com.microsoft.Edge',
  'Library/Application Support/Google/Chrome', 'Library/Application Support/Chromium', 'Library/Application Support/BraveSoftware',
  'Library/Application Support/Microsoft Edge', 'Library/Application Support/Firefox', 'Library/Application Support/Arc',
  'Library/Application Support/Vivaldi', 'Library/Safari', 'Library/Cookies', 'Library/Containers/com.apple.Safari',
];

/** Shell and REPL history files: they hold the commands (and tokens) you typed. */
const HISTORY_FILES = [
  '.bash_history', '.zsh_history', '.zhistory', '.histfile', '.sh_history', '.local/share/fish', '.python_history', '.node_repl_history',
  '.psql_history', '.mysql_history', '.sqlite_history', '.rediscli_history', '.lesshst',
];

/**
 * Every container engine's own folder, not only the one in use: each holds an engine socket,
 * a VM's disk or keys (Colima, Lima, OrbStack, Rancher Desktop, Docker Desktop; `~/.docker` and
 * Podman's `~/.local/share/containers` are credential stores above).
 */
const ENGINE_DIRS = [
  '.colima', '.config/colima', '.lima', '.orbstack', '.rd', '.local/share/rancher-desktop', '.config/rancher-desktop',
  'Library/Application Support/rancher-desktop', 'Library/Containers/com.docker.docker', 'Library/Group Containers/group.com.docker',
];

/** What buildDenyRules needs to know about this machine. */
export interface DenyInput {
  home: string;
  /** Every engine socket this machine may have (the one in use and the well-known ones). */
  engineSockets: string[];
  lokDirs: string[];
  /** The user's own temporary and runtime folders ($TMPDIR, $XDG_RUNTIME_DIR), beside the fixed ones. */
  tempDirs: string[];
}

/**
 * Returns the rules for this machine: `/` and the home directory themselves, temporary and
 * runtime folders, system directories, credential stores, login scripts, browser profiles,
 * history files, engines' folders and sockets, and mcp-lok's own state.
 */
export function buildDenyRules(input: DenyInput): DenyRule[] {
  const home = (paths: string[], why: string): DenyRule[] => paths.map((p) => ({ path: posix.join(input.home, p), why, subtree: true }));
  const temp = 'a temporary or runtime folder, where other programs keep sockets a server could connect to';
  return [
    { path: '/', why: 'the whole filesystem', subtree: false },
    { path: input.home, why: 'your whole home directory', subtree: false },
    // Before the system directories, so /var/tmp or /run/user/1000 is refused for what it is.
    ...[...TEMP_DIRS, ...input.tempDirs].map((path) => ({ path, why: temp, subtree: true })),
    ...SYSTEM_DIRS.map((path) => ({ path, why: 'a system directory', subtree: true })),
    ...home(CREDENTIAL_PATHS, 'a credential store'),
    ...home(RUNS_AT_LOGIN, 'a place whose code runs when you log in or open a shell'),
    ...home(TOOL_CODE, 'a folder of code your own tools run (npx, version managers)'),
    ...home(BROWSER_PROFILES, 'a browser profile'),
    ...home(HISTORY_FILES, 'a shell history file'),
    ...home(ENGINE_DIRS, 'a container engine\'s folder'),
    ...input.lokDirs.map((path) => ({ path, why: 'mcp-lok\'s own state', subtree: true })),
    ...input.engineSockets.map((path) => ({ path, why: 'a container engine\'s socket', subtree: true })),
  ];
}

/** Returns true when `child` lies strictly inside `parent` (both absolute, normalised). */
export function isInside(child: string, parent: string): boolean {
  return parent === '/' ? child !== '/' : child.startsWith(`${parent}/`);
}

/** Returns a path as compared: as is, or folded to one case (and one Unicode form) on a case-insensitive filesystem. */
function comparable(path: string, caseInsensitive: boolean): string {
  return caseInsensitive ? path.normalize('NFC').toLowerCase() : path;
}

/**
 * Returns why a resolved host path may not be granted, or undefined when it may: it is a
 * denied place, contains one (a grant of `/home` would expose `~/.ssh`), or lies inside a
 * denied subtree. On a case-insensitive filesystem (macOS's default) `~/.SSH` is `~/.ssh`.
 */
export function findGrantViolation(resolved: string, rules: DenyRule[], options: { caseInsensitive?: boolean } = {}): string | undefined {
  const folded = options.caseInsensitive ?? false;
  const path = comparable(resolved, folded);
  for (const rule of rules) {
    const denied = comparable(rule.path, folded);
    if (path === denied) return `it is ${rule.why} (${rule.path})`;
    if (isInside(denied, path)) return `it contains ${rule.why} (${rule.path})`;
    if (rule.subtree && isInside(path, denied)) return `it is inside ${rule.why} (${rule.path})`;
  }
  return undefined;
}

/** Returns true when a path is, or lies inside, a git folder (`.git`): its hooks and config run code on the host. */
export function isInGitFolder(resolved: string, options: { caseInsensitive?: boolean } = {}): boolean {
  return comparable(resolved, options.caseInsensitive ?? false).split('/').includes('.git');
}
