// Pins: what a package spec runs, fixed on its first install and changed only by `mcp-lok
// update` (or `--rollback`). One pin per requested specs and registry, for every engine (each
// engine's install record only says which trees its volume holds). Beside each pin are the
// lockfiles of its trees, so any engine can install exactly that tree again and `update` can
// show what changes. The files are the user's (0600 in a 0700 folder); a pin is checked for
// shape when read, since anything with the user's rights can edit it.
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, LokError } from '../errors.js';
import { compareVersions } from '../semver.js';
import { writePrivateFile } from './atomic-file.js';

/** One package of a pinned tree, as asked for. */
export interface PinnedPackage {
  name: string;
  version: string;
  /** The registry's integrity of its tarball (sha512), from the tree's lockfile. */
  integrity: string;
  /** Its package.json `bin`, to choose what to run without opening the tree. */
  bin: unknown;
}

/** A tree a pin runs or ran: its directory in the package volume (named after its lockfile) and what it holds. */
export interface PinnedTree {
  dir: string;
  packages: PinnedPackage[];
  pinnedAt: number;
}

/** A pin: the tree a package spec runs, and the trees it ran before (newest first). */
export interface Pin {
  key: string;
  specs: string[];
  registry: string;
  current: PinnedTree;
  history: PinnedTree[];
}

/** What the last look for a newer version found, kept apart from the pin (a check never rewrites a pin). */
export interface PinCheck {
  /** When the registry last answered. */
  checkedAt?: number | undefined;
  /** When a check last began (another start then does not begin one too). */
  attemptAt?: number | undefined;
  /** The newest version each requested package's spec matched, as the registry answered. */
  newest?: Array<{ name: string; version: string }> | undefined;
  /** When a notice about a newer version was last shown. */
  notifiedAt?: number | undefined;
}

/** How many earlier trees a pin keeps for `--rollback`. */
export const PIN_HISTORY = 5;

const KEY = /^[0-9a-f]{16}$/;
const DIR = /^[0-9a-f]{16}$/;
const TEXT = /^[^\u0000-\u001f\u007f-\u009f]+$/;
const NAME = /^(?:@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/;

/** Returns the folder of pins under mcp-lok's state folder. */
export function pinsDir(stateDir: string): string {
  return join(stateDir, 'pins');
}

function pinPath(stateDir: string, key: string): string {
  if (!KEY.test(key)) throw new Error(`not a pin key: ${JSON.stringify(key)}`);
  return join(pinsDir(stateDir), `${key}.json`);
}

function lockfilePath(stateDir: string, key: string, dir: string): string {
  if (!KEY.test(key) || !DIR.test(dir)) throw new Error(`not a pinned tree: ${JSON.stringify(`${key}/${dir}`)}`);
  return join(pinsDir(stateDir), `${key}.${dir}.lock.json`);
}

function checkPath(stateDir: string, key: string): string {
  return join(pinsDir(stateDir), `${key}.check.json`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isTree(value: unknown): value is PinnedTree {
  if (!isObject(value) || typeof value.dir !== 'string' || !DIR.test(value.dir) || typeof value.pinnedAt !== 'number') return false;
  return Array.isArray(value.packages) && value.packages.length > 0 && value.packages.every((p: unknown) => isObject(p)
    && typeof p.name === 'string' && NAME.test(p.name) && typeof p.version === 'string' && TEXT.test(p.version)
    && typeof p.integrity === 'string' && (p.integrity === '' || TEXT.test(p.integrity)));
}

function damaged(path: string, what: string): LokError {
  return new LokError('INVALID_INPUT', `The pin ${path} is damaged (${what}); refusing to run from it.`, {
    exitCode: EXIT.engine, hint: `Remove it to pin anew on the next start, or run \`mcp-lok update --rollback\` for the package.`,
  });
}

/** Returns the pin checked for shape, or throws saying it is damaged. */
export function checkPin(value: unknown, path: string, key: string): Pin {
  if (!isObject(value)) throw damaged(path, 'not a pin');
  if (value.key !== key) throw damaged(path, 'it names another pin');
  if (!Array.isArray(value.specs) || !value.specs.every((s) => typeof s === 'string' && TEXT.test(s))) throw damaged(path, 'no package specs');
  if (typeof value.registry !== 'string' || !/^https?:\/\//.test(value.registry)) throw damaged(path, 'no registry');
  if (!isTree(value.current)) throw damaged(path, 'no pinned tree');
  if (!Array.isArray(value.history) || !value.history.every(isTree)) throw damaged(path, 'a damaged history');
  return value as unknown as Pin;
}

/** Returns the pin kept under `key`, undefined when there is none; a damaged one throws. */
export function readPin(stateDir: string, key: string): Pin | undefined {
  const path = pinPath(stateDir, key);
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch { return undefined; }
  let value: unknown;
  try { value = JSON.parse(text); } catch { throw damaged(path, 'not JSON'); }
  return checkPin(value, path, key);
}

/**
 * Writes a pin and drops the lockfiles of trees it no longer names. Callers hold the pin's
 * install lock: a pin changes only on a first install, an update or a rollback.
 */
export function writePin(stateDir: string, pin: Pin): void {
  writePrivateFile(pinPath(stateDir, pin.key), `${JSON.stringify(pin, null, 2)}\n`);
  const kept = new Set([pin.current, ...pin.history].map((t) => `${pin.key}.${t.dir}.lock.json`));
  for (const file of listPinFiles(stateDir)) {
    if (file.startsWith(`${pin.key}.`) && file.endsWith('.lock.json') && !kept.has(file)) rmSync(join(pinsDir(stateDir), file), { force: true });
  }
}

/** Keeps a tree's lockfile beside its pin. */
export function writePinnedLockfile(stateDir: string, key: string, dir: string, text: string): void {
  writePrivateFile(lockfilePath(stateDir, key, dir), text);
}

/** Returns a pinned tree's lockfile text, or undefined when it is not kept. */
export function readPinnedLockfile(stateDir: string, key: string, dir: string): string | undefined {
  try { return readFileSync(lockfilePath(stateDir, key, dir), 'utf8'); } catch { return undefined; }
}

/** Returns what the last look for a newer version found (nothing when it never ran or its file is unreadable). */
export function readPinCheck(stateDir: string, key: string): PinCheck {
  try {
    const value: unknown = JSON.parse(readFileSync(checkPath(stateDir, key), 'utf8'));
    if (!isObject(value)) return {};
    const time = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
    const newest = Array.isArray(value.newest)
      ? value.newest.filter((n: unknown): n is { name: string; version: string } => isObject(n) && typeof n.name === 'string' && NAME.test(n.name) && typeof n.version === 'string' && TEXT.test(n.version))
      : undefined;
    return { checkedAt: time(value.checkedAt), attemptAt: time(value.attemptAt), newest, notifiedAt: time(value.notifiedAt) };
  } catch {
    return {};
  }
}

/** Merges `change` into a pin's check file (the last writer wins: it holds only times and versions). */
export function updatePinCheck(stateDir: string, key: string, change: PinCheck): PinCheck {
  const next = { ...readPinCheck(stateDir, key), ...change };
  writePrivateFile(checkPath(stateDir, key), `${JSON.stringify(next)}\n`);
  return next;
}

function listPinFiles(stateDir: string): string[] {
  try { return readdirSync(pinsDir(stateDir)); } catch { return []; }
}

/** Returns every readable pin (damaged ones are skipped: `readPin` of one says what is wrong). */
export function listPins(stateDir: string): Pin[] {
  const pins: Pin[] = [];
  for (const file of listPinFiles(stateDir)) {
    const key = /^([0-9a-f]{16})\.json$/.exec(file)?.[1];
    if (!key) continue;
    try { const pin = readPin(stateDir, key); if (pin) pins.push(pin); } catch { /* damaged: skipped */ }
  }
  const order = (p: Pin): string => `${p.specs.join(' ')} ${p.registry}`;
  return pins.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
}

/** What other code shows of a pin (`list --json`, say): each package's pinned version and integrity. */
export interface PinSummary {
  specs: string[];
  registry: string;
  packages: Array<{ name: string; version: string; integrity: string }>;
  pinnedAt: string;
  /** Newer versions the last check found, by package. */
  newer: Array<{ name: string; version: string }>;
  /** Earlier versions `update --rollback` can go back to, newest first. */
  previous: string[];
}

/** Returns the pin kept under `key` in a form to show, or undefined when there is none or it is damaged. */
export function readPinSummary(stateDir: string, key: string): PinSummary | undefined {
  let pin: Pin | undefined;
  try { pin = readPin(stateDir, key); } catch { return undefined; }
  if (!pin) return undefined;
  const check = readPinCheck(stateDir, key);
  const current = pin.current.packages;
  return {
    specs: pin.specs, registry: pin.registry,
    packages: current.map(({ name, version, integrity }) => ({ name, version, integrity })),
    pinnedAt: new Date(pin.current.pinnedAt).toISOString(),
    newer: (check.newest ?? []).filter((n) => current.some((p) => p.name === n.name && compareVersions(n.version, p.version) > 0)),
    previous: pin.history.map((t) => t.packages.map((p) => `${p.name}@${p.version}`).join(' ')),
  };
}
