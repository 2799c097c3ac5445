// `mcp-lok update`: what a pinned package would become, shown before anything changes, applied
// only on the user's yes; and `--rollback`, back to the tree pinned before.
import { join } from 'node:path';
import type { Context } from './context.js';
import type { EngineEndpoint } from '../engine/endpoint.js';
import { EXIT, LokError, usageError } from '../errors.js';
import { ensureSandboxImage } from '../prepare/images.js';
import {
  engineHoldsTree, findNewestVersions, installCandidate, installKey, pruneTrees, reinstallPinnedTree, requestedSpecs, type InstallRequest,
} from '../prepare/install.js';
import { diffLockfiles, isEmptyDiff, parseLockfile, renderLockDiff, type LockDiff, type Lockfile } from '../prepare/lockfile.js';
import { resolveLokOptions } from '../request/options.js';
import { parsePackageSpec, type PackageSpec } from '../request/package-spec.js';
import { checkRecordedSpec } from '../request/recorded-spec.js';
import { completeRequest, type ServerRequest } from '../request/server-request.js';
import { isContainerName } from '../sandbox/names.js';
import { showInput } from '../request/input-errors.js';
import { withLock } from '../state/lock.js';
import {
  listPins, PIN_HISTORY, readPin, readPinnedLockfile, updatePinCheck, writePin, writePinnedLockfile, type Pin, type PinnedTree,
} from '../state/pins.js';
import { readRecord } from '../state/records.js';
import { findNewer } from './update-check.js';
import { planRequest } from './run-server.js';

/** A tree `update` installed beside the pinned one, not pinned yet. */
export interface Candidate {
  dir: string;
  packages: Array<{ name: string; version: string; integrity: string }>;
  lockfile: string;
}

/**
 * What other code may add to the review before the confirmation (the tool manifest diff, by
 * the lead's integration): lines to show, from the pin, the candidate and how to run it.
 */
export type DescribeCandidate = (input: { pin: Pin; candidate: Candidate; endpoint: EngineEndpoint; install: InstallRequest }) => Promise<string[]>;

/** What `update` shows before asking. */
export interface UpdateReview {
  specs: string[];
  registry: string;
  from: Array<{ name: string; version: string }>;
  to: Array<{ name: string; version: string; integrity: string }>;
  diff: LockDiff;
  /** The diff in words: the version change, then each dependency added, removed or changed. */
  lines: string[];
  /** What `describeCandidate` added (the tool manifest diff). */
  more: string[];
}

export type UpdateOutcome =
  | { status: 'up-to-date'; specs: string[]; registry: string; pinned: Array<{ name: string; version: string }> }
  | { status: 'applied' | 'declined'; review: UpdateReview }
  | { status: 'rolled-back'; specs: string[]; registry: string; from: Array<{ name: string; version: string }>; to: Array<{ name: string; version: string }> };

/** One pin as `update` with no argument shows it. */
export interface PinState {
  specs: string[];
  registry: string;
  pinned: Array<{ name: string; version: string }>;
  /** Newer versions the registry has now; undefined when it could not be asked. */
  newer: Array<{ name: string; version: string }> | undefined;
  error?: string | undefined;
}

/** A pin and how to reach its registry, as `update` found it. */
interface Target { pin: Pin; install: InstallRequest; endpoint: EngineEndpoint }

const versions = (tree: PinnedTree): Array<{ name: string; version: string }> => tree.packages.map(({ name, version }) => ({ name, version }));
const named = (pin: Pin): string => pin.specs.join(' ');

/** Returns the package spec a pin's `name@selector` stands for (`name@latest` as the bare name npx would get). */
function specOfPin(text: string): PackageSpec {
  const spec = parsePackageSpec(text);
  return spec.kind === 'tag' && spec.selector === 'latest' ? { ...spec, raw: spec.name } : spec;
}

/** Returns how to install and ask the registry for a server request's packages, with the user's npm settings, CA and proxy. */
async function planInstall(ctx: Context, req: ServerRequest): Promise<{ install: InstallRequest; endpoint: EngineEndpoint }> {
  const plan = await planRequest(ctx, req);
  if (plan.prepare.kind !== 'install') throw new LokError('INTERNAL', 'An npm package planned as an image.');
  const image = await ensureSandboxImage(plan.endpoint, { log: ctx.log });
  // `update` asks for what it shows: handled signals remove its install container before it exits.
  return { install: { ...plan.prepare.install, image, quiet: true, handleSignals: true, refreshAfterMs: undefined }, endpoint: plan.endpoint };
}

/** Returns the request of a pin's packages with the user's own settings (its registry kept). */
export function requestForPin(ctx: Context, pin: Pin): ServerRequest {
  const lok = { ...resolveLokOptions({}, ctx.env), registry: pin.registry, refreshAfterMs: undefined };
  return completeRequest({
    source: { kind: 'npx', packages: pin.specs.map(specOfPin), command: undefined, allowInstall: true },
    args: [], lok, quiet: true, launcher: 'npx',
  }, { configDir: ctx.paths.config, cwd: ctx.cwd, env: ctx.env });
}

/**
 * Returns the pin a NAME (a background server started from npx://) or PACKAGE (as users
 * write it: by package name, or name@selector to tell pins apart) stands for, with how to
 * reach its registry; throws one clear line when none or several match.
 */
async function findTarget(ctx: Context, text: string): Promise<Target> {
  const record = isContainerName(text) ? readRecord(ctx.paths.state, text) : undefined;
  if (record?.spec) {
    const spec = checkRecordedSpec(record.spec, text);
    if (spec.server.source.kind !== 'npx') {
      throw usageError(`The server "${text}" runs the image ${spec.sourceText}: only npm packages are pinned.`, 'Name a server started from npx://, or a package.');
    }
    const req = { ...spec.server, lok: { ...spec.server.lok, refreshAfterMs: undefined } };
    const planned = await planInstall(ctx, req);
    const specs = requestedSpecs(planned.install.packages);
    const pin = readPin(ctx.paths.state, installKey(specs, planned.install.registry));
    if (!pin) {
      throw new LokError('NOT_FOUND', `The server "${text}" (${specs.join(' ')}) has no pin yet${spec.server.lok.refreshAfterMs !== undefined ? ': it floats (--refresh-after)' : ''}.`, {
        exitCode: EXIT.failure, hint: 'A package is pinned on its first start without --refresh-after.',
      });
    }
    return { pin, ...planned };
  }
  let wanted: PackageSpec;
  try {
    wanted = parsePackageSpec(text);
  } catch {
    throw usageError(`${showInput(text)} is neither a background server's name nor an npm package.`, 'Run `mcp-lok update` to list the pins, and name one of them.');
  }
  const all = listPins(ctx.paths.state).filter((p) => p.specs.some((s) => parsePackageSpec(s).name === wanted.name));
  const exact = all.filter((p) => p.specs.includes(`${wanted.name}@${wanted.selector}`));
  const matches = text !== wanted.name && exact.length > 0 ? exact : all;
  if (matches.length === 0) {
    throw new LokError('NOT_FOUND', `Nothing pins ${text}: no server and no pinned package has that name.`, {
      exitCode: EXIT.failure, hint: 'Run `mcp-lok update` to list the pins; a package is pinned on its first start.',
    });
  }
  if (matches.length > 1) {
    const listed = matches.map((p) => `${named(p)} (${p.registry})`).join(', ');
    throw usageError(`${text} names ${matches.length} pins: ${listed}.`, `Name one as NAME@SELECTOR, such as \`${matches[0]?.specs[0] ?? text}\`.`);
  }
  const pin = matches[0] as Pin;
  return { pin, ...(await planInstall(ctx, requestForPin(ctx, pin))) };
}

/**
 * Removes the trees a pin no longer names (a declined candidate, one gone from the history)
 * from its volume; the caller holds the install lock. A failure is said and changes nothing else.
 */
async function pruneUnpinned(ctx: Context, target: Target, pin: Pin): Promise<void> {
  try {
    const removed = await pruneTrees(ctx, target.endpoint, target.install, [pin.current.dir, ...pin.history.map((t) => t.dir)]);
    if (removed.length > 0) ctx.debug(`update: removed the unpinned trees ${removed.join(' ')}`);
  } catch (error) {
    ctx.log(`mcp-lok: the trees ${named(pin)} no longer pins stay in its volume: ${(error as Error).message}`);
  }
}

function lockfileOf(ctx: Context, pin: Pin, tree: PinnedTree): Lockfile | undefined {
  const text = readPinnedLockfile(ctx.paths.state, pin.key, tree.dir);
  try { return text === undefined ? undefined : parseLockfile(text); } catch { return undefined; }
}

/**
 * Installs what a pin's specs resolve to now into a new tree (the pinned tree stays), shows
 * the change (`confirm` gets the review: the version change, the dependencies added, removed
 * and changed with their install scripts, and what `describe` adds) and, only when `confirm`
 * says yes, pins the new tree, keeping the old one for `--rollback`.
 */
export async function updatePin(ctx: Context, request: { target: string; describe?: DescribeCandidate | undefined }, confirm: (review: UpdateReview) => Promise<boolean>): Promise<UpdateOutcome> {
  const target = await findTarget(ctx, request.target);
  const { pin, install, endpoint } = target;
  const lockPath = join(ctx.paths.locks, pin.key);
  ctx.log(`mcp-lok: resolving ${named(pin)} now, in a sandbox (the pinned ${versions(pin.current).map((p) => `${p.name}@${p.version}`).join(' ')} stays until you confirm)...`);
  const candidate = await withLock(lockPath, () => installCandidate(ctx, endpoint, install));
  updatePinCheck(ctx.paths.state, pin.key, { checkedAt: ctx.now(), newest: candidate.packages.map(({ name, version }) => ({ name, version })) });
  if (candidate.dir === pin.current.dir) return { status: 'up-to-date', specs: pin.specs, registry: pin.registry, pinned: versions(pin.current) };
  const diff = diffLockfiles(lockfileOf(ctx, pin, pin.current), parseLockfile(candidate.lockfile), pin.current.packages.map((p) => p.name));
  const lines = renderLockDiff(diff);
  if (isEmptyDiff(diff)) lines.push('The tree differs only in what npm records beside the packages.');
  const more = request.describe ? await request.describe({ pin, candidate, endpoint, install }) : [];
  const review: UpdateReview = {
    specs: pin.specs, registry: pin.registry, from: versions(pin.current),
    to: candidate.packages.map(({ name, version, integrity }) => ({ name, version, integrity })), diff, lines, more,
  };
  if (!(await confirm(review))) {
    // The candidate goes (unless another update pinned it meanwhile).
    await withLock(lockPath, async () => { await pruneUnpinned(ctx, target, readPin(ctx.paths.state, pin.key) ?? pin); });
    return { status: 'declined', review };
  }
  await withLock(lockPath, async () => {
    const now = readPin(ctx.paths.state, pin.key);
    if (now?.current.dir !== pin.current.dir) {
      throw new LokError('INSTALL_FAILED', `The pin of ${named(pin)} changed while you reviewed it; nothing was changed.`, { exitCode: EXIT.failure, hint: 'Run `mcp-lok update` again.' });
    }
    // Another `update` declined the same tree meanwhile, and removed it.
    if (!(await engineHoldsTree(ctx, endpoint, requestedSpecs(install.packages), install.registry, candidate.dir))) {
      throw new LokError('INSTALL_FAILED', `The reviewed tree of ${named(pin)} was removed while you reviewed it (another \`mcp-lok update\` declined it); nothing was changed.`, { exitCode: EXIT.failure, hint: 'Run `mcp-lok update` again.' });
    }
    writePinnedLockfile(ctx.paths.state, pin.key, candidate.dir, candidate.lockfile);
    const current: PinnedTree = { dir: candidate.dir, packages: candidate.packages, pinnedAt: ctx.now() };
    const next = { ...now, current, history: [now.current, ...now.history].slice(0, PIN_HISTORY) };
    writePin(ctx.paths.state, next);
    await pruneUnpinned(ctx, target, next);
  });
  return { status: 'applied', review };
}

/** Pins again the tree a pin ran before (installing it from its kept lockfile when this engine no longer holds it). */
export async function rollbackPin(ctx: Context, target: string): Promise<UpdateOutcome> {
  const found = await findTarget(ctx, target);
  const { pin, install, endpoint } = found;
  const previous = pin.history[0];
  if (!previous) {
    throw new LokError('NOT_FOUND', `${named(pin)} has no earlier pin to go back to (it was never updated).`, { exitCode: EXIT.failure, hint: 'Run `mcp-lok update` to list the pins.' });
  }
  const specs = requestedSpecs(install.packages);
  await withLock(join(ctx.paths.locks, pin.key), async () => {
    const now = readPin(ctx.paths.state, pin.key);
    if (now?.current.dir !== pin.current.dir) {
      throw new LokError('INSTALL_FAILED', `The pin of ${named(pin)} changed meanwhile; nothing was changed.`, { exitCode: EXIT.failure, hint: 'Run `mcp-lok update --rollback` again.' });
    }
    if (!(await engineHoldsTree(ctx, endpoint, specs, install.registry, previous.dir))) {
      await reinstallPinnedTree(ctx, endpoint, { ...install, quiet: false }, specs, now, previous);
    }
    const next = { ...now, current: { ...previous, pinnedAt: ctx.now() }, history: now.history.slice(1) };
    writePin(ctx.paths.state, next);
    await pruneUnpinned(ctx, found, next);
  });
  return { status: 'rolled-back', specs: pin.specs, registry: pin.registry, from: versions(pin.current), to: versions(previous) };
}

/** Returns every pin with the newer versions its registry has now (each asked from a sandbox), and records what was found. */
export async function listPinUpdates(ctx: Context): Promise<PinState[]> {
  const states: PinState[] = [];
  for (const pin of listPins(ctx.paths.state).sort((a, b) => named(a).localeCompare(named(b)))) {
    const pinned = versions(pin.current);
    try {
      const { install, endpoint } = await planInstall(ctx, requestForPin(ctx, pin));
      const stop = new AbortController();
      const found = (await findNewestVersions(ctx, endpoint, install, stop.signal)).flatMap((n) => (n.version ? [{ name: n.name, version: n.version }] : []));
      updatePinCheck(ctx.paths.state, pin.key, { checkedAt: ctx.now(), newest: found });
      states.push({ specs: pin.specs, registry: pin.registry, pinned, newer: findNewer(pinned, found).map(({ name, version }) => ({ name, version })) });
    } catch (error) {
      if (error instanceof LokError && error.code === 'INTERRUPTED') throw error;
      states.push({ specs: pin.specs, registry: pin.registry, pinned, newer: undefined, error: (error as Error).message });
    }
  }
  return states;
}
