// npm's package-lock.json of an installed tree, read as data: what pins record, what names a
// tree's directory, and what `mcp-lok update` shows between two trees. Pure: no I/O.
import { createHash } from 'node:crypto';
import { compareVersions } from '../semver.js';

/** One installed package of a tree, at its place in node_modules. */
export interface LockEntry {
  /** Its path in the tree, such as `node_modules/a/node_modules/@s/b`. */
  path: string;
  name: string;
  version: string;
  /** The registry's integrity of its tarball (`sha512-...`); empty when the lockfile has none. */
  integrity: string;
  /** It declares a preinstall, install or postinstall script (npm's `hasInstallScript`). */
  hasInstallScript: boolean;
  /** It came inside its parent's tarball (npm's `inBundle`): that tarball's integrity covers it. */
  bundled?: true;
}

/** A lockfile's packages, checked for shape. */
export interface Lockfile {
  /** What the tree's root asks for (its package.json `dependencies`). */
  dependencies: Record<string, string>;
  entries: LockEntry[];
}

/** Lockfiles larger than this are refused (the biggest real trees are a few MiB). */
export const MAX_LOCKFILE_BYTES = 32 * 1024 * 1024;
const NO_CONTROL = /^[^\u0000-\u001f\u007f-\u009f]*$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Returns the package name a node_modules path ends in, or undefined when it is not such a path. */
export function nameOfLockPath(path: string): string | undefined {
  const match = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/@][^/]*)$/.exec(path);
  return match?.[1];
}

/** Returns a lockfile's packages, or throws an Error saying what is wrong with it. */
export function parseLockfile(text: string): Lockfile {
  if (text.length > MAX_LOCKFILE_BYTES) throw new Error('it is too large');
  let data: unknown;
  try { data = JSON.parse(text); } catch { throw new Error('it is not JSON'); }
  if (!isObject(data) || !isObject(data.packages)) throw new Error('it has no "packages" (npm 7 or later writes them)');
  const root = data.packages[''];
  const deps = isObject(root) && isObject(root.dependencies) ? root.dependencies : {};
  const dependencies: Record<string, string> = {};
  for (const [name, range] of Object.entries(deps)) {
    if (typeof range !== 'string') throw new Error(`the root's dependency ${JSON.stringify(name)} has no range`);
    dependencies[name] = range;
  }
  const entries: LockEntry[] = [];
  for (const [path, value] of Object.entries(data.packages)) {
    if (path === '') continue;
    const name = nameOfLockPath(path);
    if (!name || !NO_CONTROL.test(path) || !isObject(value)) throw new Error(`it has an entry that is not a package: ${JSON.stringify(path.slice(0, 80))}`);
    // A link or a workspace is no registry package; mcp-lok never installs one.
    if (value.link === true) throw new Error(`it links ${JSON.stringify(path.slice(0, 80))} to a folder`);
    const version = value.version;
    if (typeof version !== 'string' || version === '' || !NO_CONTROL.test(version)) throw new Error(`${path} has no version`);
    const integrity = typeof value.integrity === 'string' && NO_CONTROL.test(value.integrity) ? value.integrity : '';
    entries.push({ path, name, version, integrity, hasInstallScript: value.hasInstallScript === true, ...(value.inBundle === true ? { bundled: true as const } : {}) });
  }
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { dependencies, entries };
}

/**
 * Returns the directory name of the tree a lockfile describes: a hash of every package's
 * path, version and integrity, so two trees share a directory only when they hold the same
 * bytes. docker/install.mjs computes the same (treeDirOf there): keep them alike.
 */
export function treeDirOf(lock: Lockfile): string {
  const lines = lock.entries.map((e) => `${e.path} ${e.version} ${e.integrity}`);
  return createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16);
}

/** Returns the entry of a package installed at the top of the tree (what was asked for). */
export function topLevelEntry(lock: Lockfile, name: string): LockEntry | undefined {
  return lock.entries.find((e) => e.path === `node_modules/${name}`);
}

/** A requested package's move between two trees. */
export interface PackageChange { name: string; from: string | undefined; to: string | undefined; hasInstallScript: boolean }
/** A dependency in one tree and not the other. */
export interface DependencyPresence { name: string; versions: string[]; hasInstallScript: boolean }
/** A dependency in both trees with other versions or other tarballs. */
export interface DependencyChange { name: string; from: string[]; to: string[]; hasInstallScript: boolean; sameVersionsOtherTarballs: boolean }

/** What changes between two trees. */
export interface LockDiff {
  packages: PackageChange[];
  added: DependencyPresence[];
  removed: DependencyPresence[];
  changed: DependencyChange[];
}

interface ByName { versions: string[]; tarballs: string[]; script: boolean }

function groupByName(lock: Lockfile | undefined, skip: ReadonlySet<string>): Map<string, ByName> {
  const out = new Map<string, ByName>();
  for (const e of lock?.entries ?? []) {
    if (skip.has(e.path)) continue;
    const group = out.get(e.name) ?? { versions: [], tarballs: [], script: false };
    if (!group.versions.includes(e.version)) group.versions.push(e.version);
    const tarball = `${e.version} ${e.integrity}`;
    if (!group.tarballs.includes(tarball)) group.tarballs.push(tarball);
    group.script ||= e.hasInstallScript;
    out.set(e.name, group);
  }
  for (const g of out.values()) { g.versions.sort(compareVersions); g.tarballs.sort(); }
  return out;
}

const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * Returns what changes from the tree `before` (undefined: none) to `after`: the requested
 * packages' versions, and the other packages added, removed or changed (by name, with every
 * version the tree holds), each new or changed one saying whether it declares an install script.
 */
export function diffLockfiles(before: Lockfile | undefined, after: Lockfile, requested: readonly string[]): LockDiff {
  const top = new Set(requested.map((name) => `node_modules/${name}`));
  const packages = requested.map((name) => {
    const to = topLevelEntry(after, name);
    return { name, from: before ? topLevelEntry(before, name)?.version : undefined, to: to?.version, hasInstallScript: to?.hasInstallScript ?? false };
  });
  const old = groupByName(before, top);
  const now = groupByName(after, top);
  const added: DependencyPresence[] = [];
  const changed: DependencyChange[] = [];
  for (const [name, g] of now) {
    const was = old.get(name);
    if (!was) { added.push({ name, versions: g.versions, hasInstallScript: g.script }); continue; }
    if (was.tarballs.join('\n') === g.tarballs.join('\n')) continue;
    const sameVersions = was.versions.join(' ') === g.versions.join(' ');
    changed.push({ name, from: was.versions, to: g.versions, hasInstallScript: g.script, sameVersionsOtherTarballs: sameVersions });
  }
  const removed = [...old].filter(([name]) => !now.has(name)).map(([name, g]) => ({ name, versions: g.versions, hasInstallScript: g.script }));
  return { packages, added: added.sort(byName), removed: removed.sort(byName), changed: changed.sort(byName) };
}

/** Returns true when the diff holds no change at all. */
export function isEmptyDiff(diff: LockDiff): boolean {
  return diff.added.length + diff.removed.length + diff.changed.length === 0 && diff.packages.every((p) => p.from === p.to);
}

const SCRIPT_NOTE = ' (declares an install script; it stays off)';

/** Returns the lines `mcp-lok update` shows for a diff: the version change, then each dependency added, removed or changed. */
export function renderLockDiff(diff: LockDiff): string[] {
  const lines = diff.packages.map((p) => `${p.name}: ${p.from ?? '(not pinned)'} -> ${p.to ?? '(gone)'}${p.hasInstallScript ? SCRIPT_NOTE : ''}`);
  const counts = `${diff.added.length} added, ${diff.removed.length} removed, ${diff.changed.length} changed`;
  if (diff.added.length + diff.removed.length + diff.changed.length === 0) return [...lines, 'Dependencies: unchanged.'];
  lines.push(`Dependencies: ${counts}:`);
  for (const d of diff.added) lines.push(`  + ${d.name} ${d.versions.join(', ')}${d.hasInstallScript ? SCRIPT_NOTE : ''}`);
  for (const d of diff.removed) lines.push(`  - ${d.name} ${d.versions.join(', ')}`);
  for (const d of diff.changed) {
    const what = d.sameVersionsOtherTarballs ? `${d.to.join(', ')} (same version, a different tarball)` : `${d.from.join(', ')} -> ${d.to.join(', ')}`;
    lines.push(`  ~ ${d.name} ${what}${d.hasInstallScript ? SCRIPT_NOTE : ''}`);
  }
  return lines;
}
