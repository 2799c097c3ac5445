// Which of mcp-lok-npx's variables the client's config set for this server, told apart from
// those the client itself inherited (the user's shell secrets): pure rules and parsers. The
// reading of the parent's environment is in parent-env.ts.

/**
 * What the MCP SDK's stdio transport passes to every server besides the config's `env`
 * (`DEFAULT_INHERITED_ENV_VARS` in @modelcontextprotocol/sdk client/stdio, POSIX and Windows).
 */
export const SDK_INHERITED_ENV: readonly string[] = [
  'HOME', 'LOGNAME', 'PATH', 'SHELL', 'TERM', 'USER',
  'APPDATA', 'HOMEDRIVE', 'HOMEPATH', 'LOCALAPPDATA', 'PROCESSOR_ARCHITECTURE', 'SYSTEMDRIVE', 'SYSTEMROOT', 'TEMP',
  'USERNAME', 'USERPROFILE', 'PROGRAMFILES',
];

/**
 * Names never passed on automatically (compared in upper case; `-e NAME` still passes them):
 * what the sandbox contract fixes (its home, PATH, temp folder, Node's options and CA file, the
 * egress proxy's variables), what would point the sandboxed runtime at host files or change how
 * it loads code (NODE_OPTIONS can `--require` a path, LD_PRELOAD), and what the process that
 * started mcp-lok-npx sets for every child rather than a config (a shell's PWD, npm's INIT_CWD).
 */
const NEVER_NAMES = new Set([
  ...SDK_INHERITED_ENV,
  'TMPDIR', 'TMP', 'HOSTNAME', 'NO_UPDATE_NOTIFIER',
  'NODE_OPTIONS', 'NODE_PATH', 'NODE_EXTRA_CA_CERTS', 'NODE_USE_ENV_PROXY',
  'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY',
  'PWD', 'OLDPWD', 'SHLVL', '_', 'INIT_CWD', 'NODE',
  'CLAUDECODE',
]);

/** Prefixes of names never passed on automatically: mcp-lok's own, npm's, the dynamic loader's, and clients' own bookkeeping. */
const NEVER_PREFIXES = ['MCP_LOK_', 'NPM_', 'LD_', 'DYLD_', 'ELECTRON_', 'VSCODE_', 'CLAUDE_CODE_'];

/** Programs whose environment, as a parent, says nothing about a client's config: it is theirs plus their startup files'. */
const SHELLS = new Set([
  'sh', 'bash', 'rbash', 'dash', 'zsh', 'ksh', 'mksh', 'oksh', 'loksh', 'pdksh', 'yash', 'posh', 'ash', 'hush', 'fish', 'csh', 'tcsh',
  'busybox', 'nu', 'pwsh', 'elvish', 'xonsh', 'osh', 'ysh',
]);

/** Returns true when a program's name is a shell's, also as installed with a version (`zsh-5.9`, `ksh93`) or static build. */
export function isShellProgram(name: string): boolean {
  return SHELLS.has(name.toLowerCase().replace(/-static$/, '').replace(/-?\d+(?:\.\d+)*$/, ''));
}

/**
 * The names passed automatically: those `-e` takes (and `wrap` forwards). A name is printed on
 * stderr; one with a newline or an escape sequence could forge a line of mcp-lok's own there.
 */
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Returns true for a variable that is never passed to the server automatically. */
export function isNeverForwarded(name: string): boolean {
  const upper = name.toUpperCase();
  return NEVER_NAMES.has(upper) || NEVER_PREFIXES.some((prefix) => upper.startsWith(prefix));
}

/** What mcp-lok-npx could learn of the process that started it. */
export type ParentRead =
  | {
    ok: true;
    /** The program the parent runs (`node`, `bash`), when the system says. */
    program: string | undefined;
    /** Whether the parent's environment, as it was when the parent started, holds NAME=VALUE. */
    has: (name: string, value: string) => boolean;
  }
  | { ok: false; reason: string };

/** The variables to pass on, or why none can be told apart. */
export type ClientEnv =
  | { kind: 'added'; env: Record<string, string> }
  | { kind: 'unknown'; reason: string };

/**
 * Returns the variables of `own` that the client added for this server: those, names that are
 * never forwarded and names `-e` could not take aside, that its parent's environment lacks or
 * holds with another value. When the comparison cannot tell (the parent is unreadable, a shell
 * or npm, or its PATH changed since it started, as when a desktop app loads the user's shell
 * settings, which would make every exported secret look added) it says why, and nothing is
 * passed: the secure side.
 */
export function chooseClientEnv(own: Readonly<Record<string, string | undefined>>, parent: ParentRead): ClientEnv {
  const candidates = Object.entries(own).filter((entry): entry is [string, string] => entry[1] !== undefined && VARIABLE_NAME.test(entry[0]) && !isNeverForwarded(entry[0]));
  if (candidates.length === 0) return { kind: 'added', env: {} };
  if (!parent.ok) return { kind: 'unknown', reason: parent.reason };
  if (parent.program !== undefined && isShellProgram(parent.program)) {
    return { kind: 'unknown', reason: `it was started by a shell (${parent.program}), whose variables cannot be told from the config's` };
  }
  if (own.npm_execpath !== undefined && !parent.has('npm_execpath', own.npm_execpath)) {
    return { kind: 'unknown', reason: 'it was started through npx or npm, which passes the config\'s variables on as its own' };
  }
  if (own.PATH !== undefined && !parent.has('PATH', own.PATH)) {
    return { kind: 'unknown', reason: 'its PATH differs from the one its client started with (the client changed its own environment, as apps that load your shell settings do, or its config sets PATH)' };
  }
  const env: Record<string, string> = {};
  for (const [name, value] of candidates) if (!parent.has(name, value)) env[name] = value;
  return { kind: 'added', env };
}

/**
 * Returns a lookup over an environment block as Linux's /proc/PID/environ holds it: `NAME=VALUE`
 * strings, each ended by a NUL. A name given twice holds each of its values.
 */
export function parseEnvironBlock(block: Buffer): (name: string, value: string) => boolean {
  const seen = new Set<string>();
  for (const entry of block.toString('utf8').split('\0')) if (entry.includes('=')) seen.add(entry);
  return (name, value) => seen.has(`${name}=${value}`);
}

/** Printable ASCII: what macOS's ps shows as is (it escapes other bytes with vis(3)). */
const SHOWN_AS_IS = /^[\x20-\x7e]*$/;

/**
 * Returns a lookup over what macOS's `ps -E -ww -o command= -p PID` prints (the parent's
 * arguments, then its environment, joined by spaces: ambiguous, so it is searched, never
 * split), or undefined when it shows no environment (the kernel withholds it from other
 * users and from Apple's restricted programs). A value ps would escape cannot be compared, so
 * it counts as the parent's: the secure side.
 */
export function parsePsEnvironment(output: string): ((name: string, value: string) => boolean) | undefined {
  const line = ` ${output.replace(/\n+$/, '')} `;
  if (!/ (?:HOME|PATH|USER)=/.test(line)) return undefined;
  return (name, value) => !SHOWN_AS_IS.test(value) || line.includes(` ${name}=${value} `);
}
