import { accessSync, constants, lstatSync, readdirSync, realpathSync, statSync, type Dirent } from 'node:fs';
import { homedir, tmpdir, userInfo } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { LokError, EXIT } from '../errors.js';
import type { MountPlan } from '../sandbox/build-spec.js';
import { listKnownEngineSockets } from '../engine/discover.js';
import type { EngineEndpoint } from '../engine/endpoint.js';
import { buildDenyRules, findGrantViolation, isInGitFolder, isInside, type DenyRule } from '../sandbox/grant-policy.js';
import { chooseSandboxUser } from '../sandbox/hardening.js';
import { defaultLokDirs, type LokPaths } from '../state/paths.js';
import type { PathGrant, Profile } from '../sandbox/profile-validate.js';

function expandHome(path: string, home: string): string {
  return path === '~' ? home : path.startsWith('~/') ? join(home, path.slice(2)) : path;
}

/** Returns true when uid:gid may write to a directory, by its mode bits (root's view aside). */
function canWrite(path: string, uid: number, gid: number): boolean {
  const st = statSync(path);
  if (st.uid === uid) return (st.mode & 0o200) !== 0;
  if (st.gid === gid) return (st.mode & 0o020) !== 0;
  return (st.mode & 0o002) !== 0;
}

/** How far a grant is searched for sockets and `.git` folders before it is refused as too large to check. */
export interface ScanLimits {
  maxEntries: number;
  timeMs: number;
}

/**
 * A project with its node_modules is some 10^5 entries, read in well under a second; past
 * these, the grant is refused (fail closed) rather than mounted unchecked.
 */
export const GRANT_SCAN_LIMITS: ScanLimits = { maxEntries: 200_000, timeMs: 5_000 };

export interface GrantContext {
  home: string;
  /**
   * The home as the filesystem resolves it, when that differs (a home reached through a link, such
   * as an automounted one): grants are checked by their real path, so its stores are refused by it too.
   */
  realHome?: string | undefined;
  /**
   * The user's home as the password database gives it (and its real path), where `home` ($HOME)
   * names another: $HOME comes from whoever started mcp-lok (a client config's `env` can set
   * it), so the stores of the account's own home are refused too, wherever $HOME points.
   */
  accountHomes?: string[] | undefined;
  /** Every engine socket this machine may have, the one in use included. */
  engineSockets: string[];
  lokDirs: string[];
  /** The user's own temporary and runtime folders ($TMPDIR, $XDG_RUNTIME_DIR), beside /tmp and the like. */
  tempDirs: string[];
  /** The uid:gid the server runs as, to check that write grants are writable for it. */
  uid: number;
  gid: number;
  /** Compare paths case-insensitively (macOS's default filesystem). */
  caseInsensitive: boolean;
  limits?: ScanLimits;
  now?: () => number;
}

/** What a scan of a granted folder found: the first socket, `.git` entries, or why it stopped. */
export interface GrantScan {
  socket?: string;
  /** The first named pipe: a program may read commands from it, and a read-only mount does not stop writing to it. */
  pipe?: string;
  gitPaths: string[];
  /** Set when the bound was hit: what was exceeded. */
  tooLarge?: string;
  /** A folder that could not be listed but can be entered (a socket inside could be reached by name). */
  unreadable?: string;
}

/** Returns true when a folder's entries are those of a git folder: HEAD, objects and refs (what `git init --bare` makes). */
function looksLikeGitDir(list: readonly Dirent[]): boolean {
  let found = 0;
  for (const entry of list) {
    if ((entry.name === 'HEAD' && entry.isFile()) || ((entry.name === 'objects' || entry.name === 'refs') && entry.isDirectory())) found += 1;
  }
  return found === 3;
}

/** Returns the git folder (a bare repository, or a `.git` folder) that `path` is or lies in, found by its contents. */
function findGitDirAround(path: string): string | undefined {
  for (let dir = path; ; dir = dirname(dir)) {
    try {
      if (looksLikeGitDir(readdirSync(dir, { withFileTypes: true }).filter((e) => e.name === 'HEAD' || e.name === 'objects' || e.name === 'refs'))) return dir;
    } catch { /* unreadable: not one we can tell */ }
    if (dir === dirname(dir)) return undefined;
  }
}

function canEnter(dir: string): boolean {
  try { accessSync(dir, constants.X_OK); return true; } catch { return false; }
}

/**
 * Returns what a granted path holds, walking it without following symlinks (inside the
 * sandbox a link resolves among the sandbox's own paths, not the host's): the first Unix
 * socket (a bind mount, even read-only, does not stop `connect()`) or named pipe (nor writing
 * to it: a program that reads commands from a pipe would run the server's), and every `.git` folder
 * or file. Stops, saying so, past `limits` entries or time.
 */
export function scanGrant(root: string, options: { limits: ScanLimits; now: () => number; caseInsensitive: boolean }): GrantScan {
  const gitPaths: string[] = [];
  const st = lstatSync(root);
  if (st.isSocket()) return { socket: root, gitPaths };
  if (st.isFIFO()) return { pipe: root, gitPaths };
  if (!st.isDirectory()) return { gitPaths };
  const deadline = options.now() + options.limits.timeMs;
  const isGit = (name: string): boolean => (options.caseInsensitive ? name.toLowerCase() : name) === '.git';
  const found = new Set<string>();
  const stack = [root];
  let entries = 0;
  while (stack.length > 0) {
    const dir = stack.pop() as string;
    let list: Dirent[];
    try {
      list = readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      if ((code === 'EACCES' || code === 'EPERM') && !canEnter(dir)) continue;
      return { gitPaths, unreadable: dir };
    }
    // A git folder by its contents, whatever its name: a bare repository (`server.git`) runs its hooks when you push to it.
    if (dir !== root && looksLikeGitDir(list)) found.add(dir);
    for (const entry of list) {
      entries += 1;
      if (entries > options.limits.maxEntries) return { gitPaths, tooLarge: `more than ${options.limits.maxEntries} entries` };
      const path = join(dir, entry.name);
      if (entry.isSocket()) return { socket: path, gitPaths };
      if (entry.isFIFO()) return { pipe: path, gitPaths };
      if (isGit(entry.name) && (entry.isDirectory() || entry.isFile())) found.add(path);
      if (entry.isDirectory()) stack.push(path);
    }
    if (options.now() >= deadline) return { gitPaths, tooLarge: `more than ${options.limits.timeMs / 1000} s to read` };
  }
  // One read-only mount covers what lies inside it (a submodule's folder in .git/modules).
  const sorted = [...found].sort();
  gitPaths.push(...sorted.filter((path) => !sorted.some((outer) => isInside(path, outer))));
  return { gitPaths };
}

/** Returns the grants as resolved: the mounts, each grant's resolved host path, and lines for stderr. */
export interface ResolvedGrants {
  mounts: MountPlan[];
  /** The resolved host path of each grant, by its place in the profile (`$.read[0]`). */
  resolved: Record<string, string>;
  /** What the user should know (a `.git` kept read-only). */
  notes: string[];
}

function refuse(message: string, hint: string): LokError {
  return new LokError('PROFILE_INVALID', message, { exitCode: EXIT.usage, hint });
}

/**
 * Returns the bind mounts a profile grants, after resolving each host path through its
 * symlinks and refusing what no server should get: the resolved path is what is checked and
 * mounted, so a planted symlink cannot widen a grant. `mcp-lok profile check`, every start
 * and every later container (sessions, restarts) come here; given `previous`, a grant that
 * now resolves elsewhere (a server swapped a granted path for a symlink) is refused. Inside a
 * write grant, each `.git` gets a read-only mount over it unless the profile sets git_writable.
 */
export function resolveGrantMounts(profile: Profile, ctx: GrantContext, previous?: ResolvedGrants): ResolvedGrants {
  const rules = denyRulesOf(ctx);
  const fold = { caseInsensitive: ctx.caseInsensitive };
  const out: ResolvedGrants = { mounts: [], resolved: {}, notes: [] };
  const one = (grant: PathGrant, readOnly: boolean, index: number): void => {
    const where = `$.${readOnly ? 'read' : 'write'}[${index}]`;
    const expanded = expandHome(grant.host, ctx.home);
    let real: string;
    try {
      real = realpathSync(expanded);
    } catch {
      throw refuse(`${where}: ${grant.host} does not exist.`, 'Grant only paths that exist.');
    }
    const shown = real === expanded ? grant.host : `${grant.host} (resolves to ${real})`;
    const before = previous?.resolved[where];
    if (before !== undefined && before !== real) {
      throw refuse(`${where}: ${grant.host} now resolves to ${real}, not ${before} as when the server started; refusing to mount it.`, 'Something replaced a granted path with a link (the server itself can, inside a write grant). Check it, then start the server again.');
    }
    const violation = findGrantViolation(real, rules, fold);
    if (violation) throw refuse(`${where}: refusing to grant ${shown}: ${violation}.`, 'Grant a narrower folder, such as one project.');
    if (!readOnly && !profile.gitWritable && isInGitFolder(real, fold)) {
      throw refuse(`${where}: refusing to grant ${shown} read-write: it is inside a .git folder, whose hooks and config run code on the host.`, 'Grant it read-only, or set "git_writable": true in the profile.');
    }
    const gitDir = !readOnly && !profile.gitWritable ? findGitDirAround(real) : undefined;
    if (gitDir !== undefined) {
      throw refuse(`${where}: refusing to grant ${shown} read-write: it is inside a git repository's own folder (${gitDir}), whose hooks and config run code on the host.`, 'Grant it read-only, or set "git_writable": true in the profile.');
    }
    if (!readOnly && !canWrite(real, ctx.uid, ctx.gid)) {
      throw refuse(`${where}: the sandbox user (uid ${ctx.uid}) cannot write to ${real}.`, `Make it writable for uid ${ctx.uid} (chown or chmod), or grant it read-only.`);
    }
    if (readOnly) accessSync(real, constants.R_OK);
    const scan = scanGrant(real, { limits: ctx.limits ?? GRANT_SCAN_LIMITS, now: ctx.now ?? Date.now, caseInsensitive: ctx.caseInsensitive });
    if (scan.socket !== undefined) {
      throw refuse(`${where}: refusing to grant ${shown}: it ${scan.socket === real ? 'is' : 'contains'} a Unix socket (${scan.socket}), which a server could connect to even read-only.`, 'Grant a folder without sockets, or move the program that made it elsewhere.');
    }
    if (scan.pipe !== undefined) {
      throw refuse(`${where}: refusing to grant ${shown}: it ${scan.pipe === real ? 'is' : 'contains'} a named pipe (${scan.pipe}), which a server could write to (or read from) even read-only.`, 'Grant a folder without named pipes, or move the program that made it elsewhere.');
    }
    if (scan.tooLarge !== undefined) {
      throw refuse(`${where}: refusing to grant ${shown}: it is too large to check for sockets (${scan.tooLarge}).`, 'Grant a narrower folder, such as one project.');
    }
    if (scan.unreadable !== undefined) {
      throw refuse(`${where}: refusing to grant ${shown}: ${scan.unreadable} cannot be listed, so it cannot be checked for sockets.`, 'Make it readable, or grant a narrower folder.');
    }
    const target = grant.container === grant.host || grant.container.startsWith('~') ? expanded : grant.container;
    out.resolved[where] = real;
    out.mounts.push({ type: 'bind', source: real, target, readOnly });
    if (readOnly || profile.gitWritable) return;
    // Git runs hooks and config-named commands from .git: a server that could write them would
    // run code on the host the next time you use git there. Nested mounts go after their parent.
    for (const git of scan.gitPaths) {
      const rel = relative(real, git);
      out.mounts.push({ type: 'bind', source: git, target: join(target, rel), readOnly: true });
      out.notes.push(`${where}: ${git} stays read-only (its hooks and config run code on the host); set "git_writable": true in the profile to allow writes.`);
    }
  };
  profile.read.forEach((g, i) => one(g, true, i));
  profile.write.forEach((g, i) => one(g, false, i));
  return out;
}

/** Returns true when the filesystem holding `path` treats names that differ only in case as one. */
export function detectCaseInsensitive(path: string): boolean {
  const flipped = path.replace(/[a-zA-Z](?=[^/]*$)/, (c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()));
  if (flipped === path) return false;
  try {
    const a = statSync(path);
    const b = statSync(flipped);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

function realOrSelf(path: string): string {
  try { return realpathSync(path); } catch { return path; }
}

/** Returns what no grant may reach on this machine: the policy's places under every home the context knows. */
export function denyRulesOf(ctx: GrantContext): DenyRule[] {
  const homes = [...new Set([ctx.home, ctx.realHome ?? ctx.home, ...(ctx.accountHomes ?? [])])];
  return homes.flatMap((home) => buildDenyRules({ home, engineSockets: ctx.engineSockets, lokDirs: ctx.lokDirs, tempDirs: ctx.tempDirs }));
}

/** Returns the home the password database gives the user, or undefined where it gives none. */
function readAccountHome(): string | undefined {
  try {
    const home = userInfo().homedir;
    return isAbsolute(home) && home !== '/' ? home : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Returns the grant context of this machine, the one `run`, `start`, the shim and
 * `mcp-lok profile check` share: the home, every engine socket (the one in use, `endpoint`,
 * and all well-known ones), mcp-lok's folders, the temporary and runtime folders, the sandbox
 * user, and whether paths compare case-insensitively (macOS: always, to be safe).
 */
export function buildGrantContext(input: {
  env: Readonly<Record<string, string | undefined>>;
  home?: string | undefined;
  /** The password database's home for the user (read when not given; tests give one). */
  accountHome?: string | undefined;
  paths: LokPaths;
  platform: NodeJS.Platform;
  endpoint?: EngineEndpoint | undefined;
}): GrantContext {
  const home = input.home ?? homedir();
  const user = chooseSandboxUser(process.getuid?.(), process.getgid?.());
  const account = input.accountHome ?? readAccountHome();
  const accountHomes = account && resolve(account) !== resolve(home) ? [...new Set([account, realOrSelf(account)])] : [];
  const sockets = [home, ...accountHomes].flatMap((h) => listKnownEngineSockets({ env: input.env, home: h, platform: input.platform }));
  if (input.endpoint?.kind === 'unix') sockets.push(input.endpoint.socketPath);
  const temps = [input.env.TMPDIR, input.env.XDG_RUNTIME_DIR, tmpdir()].filter((p): p is string => typeof p === 'string' && isAbsolute(p) && p !== '/');
  const both = (paths: string[]): string[] => [...new Set(paths.flatMap((p) => [resolve(p), realOrSelf(p)]))];
  return {
    home,
    realHome: realOrSelf(home),
    accountHomes,
    engineSockets: both(sockets),
    // Where mcp-lok keeps its files by default too: MCP_LOK_HOME or XDG_* may have moved this run's.
    lokDirs: both([input.paths.config, input.paths.cache, input.paths.state, ...[home, ...accountHomes].flatMap((h) => defaultLokDirs(h, input.platform))]),
    tempDirs: both(temps),
    uid: user.uid,
    gid: user.gid,
    caseInsensitive: input.platform === 'darwin' || input.platform === 'win32' || detectCaseInsensitive(realOrSelf(home)),
  };
}
