// The once-a-day look for a newer version of a pinned package: after the server has started,
// never before it and never on stdout. The registry is asked from a sandbox (npm view, through
// the same egress as installs); the answer is kept beside the pin, and a newer version is said
// in one line on stderr at most once per interval.
import type { Context } from './context.js';
import type { EngineEndpoint } from '../engine/endpoint.js';
import { findNewestVersions, type InstallRequest } from '../prepare/install.js';
import { compareVersions } from '../semver.js';
import { readPinCheck, updatePinCheck, type PinCheck } from '../state/pins.js';

type Versioned = { name: string; version: string };

/** How long after the server's start the look begins: the server's own start comes first. */
export const UPDATE_CHECK_DELAY_MS = 1000;
/** A look that began and never answered (the server stopped first) is begun again after this, at most. */
const RETRY_AFTER_MS = 10 * 60 * 1000;

/** What a pinned start knows for its look: the pin, what it runs, and how to reach the registry. */
export interface PinnedStart {
  key: string;
  packages: Versioned[];
  install: InstallRequest;
}

/** What to do about newer versions at a start: lines to show now, and whether to ask the registry. */
export interface UpdateDecision {
  notices: string[];
  check: boolean;
}

/** Returns the stderr line saying a newer version of a pinned package exists, with the command to review it. */
export function newerVersionNotice(name: string, newer: string, pinned: string): string {
  return `mcp-lok: ${name} ${newer} is available (pinned ${pinned}); review it with: mcp-lok update ${name}`;
}

/** Returns the newer versions a check found, one per package whose newest is above its pinned version. */
export function findNewer(packages: readonly Versioned[], newest: PinCheck['newest']): Array<{ name: string; version: string; pinned: string }> {
  return packages.flatMap((p) => {
    const found = newest?.find((n) => n.name === p.name);
    // The usual answer (nothing newer) needs no semver, which a start would otherwise load.
    return found && found.version !== p.version && compareVersions(found.version, p.version) > 0 ? [{ name: p.name, version: found.version, pinned: p.version }] : [];
  });
}

/**
 * Decides, from what the last look found and when, whether a start says that a newer version
 * exists (not with -q, at most once per interval) and whether it asks the registry again (at
 * most once per interval; never for exact versions, never with an interval of `never`).
 */
export function decideUpdateCheck(input: { now: number; intervalMs: number; check: PinCheck; packages: readonly Versioned[]; exactOnly: boolean; quiet: boolean }): UpdateDecision {
  const { now, intervalMs, check } = input;
  if (!Number.isFinite(intervalMs)) return { notices: [], check: false };
  const due = (at: number | undefined, after: number): boolean => at === undefined || now - at >= after;
  const newer = findNewer(input.packages, check.newest);
  const notices = !input.quiet && due(check.notifiedAt, intervalMs) ? newer.map((n) => newerVersionNotice(n.name, n.version, n.pinned)) : [];
  const ask = !input.exactOnly && due(check.checkedAt, intervalMs) && due(check.attemptAt, Math.min(intervalMs, RETRY_AFTER_MS));
  return { notices, check: ask };
}

/** A started server's look for newer versions: `started` begins it, `stop` ends it (removing its container). */
export interface UpdateWatch {
  started: () => void;
  stop: () => Promise<void>;
}

const IDLE: UpdateWatch = { started: () => {}, stop: async () => {} };

/**
 * Returns the look for newer versions of a pinned start (nothing to do for a floating one).
 * Nothing happens before `started`, so the server's own start comes first: then it reads one
 * small file, and when a look is due it runs a sandboxed `npm view` a moment later, which
 * `stop` removes if still running (and the reaper if this process dies).
 */
export function watchForUpdates(ctx: Context, endpoint: EngineEndpoint, pinned: PinnedStart | undefined): UpdateWatch {
  if (!pinned) return IDLE;
  const { key, packages, install } = pinned;
  const stateDir = ctx.paths.state;
  const abort = new AbortController();
  let begun = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let said = false;
  const say = (lines: string[]): void => {
    if (said || lines.length === 0) return;
    said = true;
    for (const line of lines) ctx.log(line);
    try { updatePinCheck(stateDir, key, { notifiedAt: ctx.now() }); } catch { /* the notice comes again next time */ }
  };
  const look = async (): Promise<void> => {
    updatePinCheck(stateDir, key, { attemptAt: ctx.now() });
    try {
      const found = await findNewestVersions(ctx, endpoint, install, abort.signal);
      if (abort.signal.aborted) return;
      const newest = found.flatMap((n) => (n.version ? [{ name: n.name, version: n.version }] : []));
      const check = updatePinCheck(stateDir, key, { checkedAt: ctx.now(), newest });
      ctx.debug(`update check: newest ${newest.map((n) => `${n.name}@${n.version}`).join(' ') || 'none'}`);
      if (!install.quiet && (check.notifiedAt === undefined || ctx.now() - check.notifiedAt >= install.updateCheckMs)) {
        say(findNewer(packages, newest).map((n) => newerVersionNotice(n.name, n.version, n.pinned)));
      }
    } catch (error) {
      ctx.debug(`update check: ${(error as Error).message}`);
    }
  };
  return {
    started: () => {
      if (begun || abort.signal.aborted) return;
      begun = true;
      const decision = decideUpdateCheck({
        now: ctx.now(), intervalMs: install.updateCheckMs, check: readPinCheck(stateDir, key), packages,
        exactOnly: install.packages.every((p) => p.kind === 'version'), quiet: install.quiet,
      });
      say(decision.notices);
      if (!decision.check) return;
      timer = setTimeout(() => { running = look(); }, UPDATE_CHECK_DELAY_MS);
      timer.unref();
    },
    stop: async () => {
      if (timer) clearTimeout(timer);
      abort.abort();
      // The container goes at once (removeOnAbort); the wait is short and bounded.
      if (running) await Promise.race([running, new Promise((resolve) => setTimeout(resolve, 3000).unref())]);
    },
  };
}

/** How often a server that keeps running asks itself whether a look is due (reading one small file). */
export const UPDATE_RECHECK_MS = 60 * 60 * 1000;

/**
 * Returns the look for newer versions of a server that may run for days (a background or HTTP
 * server): started once, then every `everyMs` a new look when one is due, so its log gets the
 * notice once a day as a client's start would. `stop` ends it.
 */
export function keepWatchingForUpdates(ctx: Context, endpoint: EngineEndpoint, pinned: PinnedStart | undefined, everyMs = UPDATE_RECHECK_MS): UpdateWatch {
  if (!pinned || !Number.isFinite(pinned.install.updateCheckMs)) return watchForUpdates(ctx, endpoint, pinned);
  let current = watchForUpdates(ctx, endpoint, pinned);
  let stopped = false;
  let turn: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    turn = turn.then(async () => {
      if (stopped) return;
      await current.stop();
      if (stopped) return;
      current = watchForUpdates(ctx, endpoint, pinned);
      current.started();
    });
  }, everyMs);
  timer.unref();
  return {
    started: () => current.started(),
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await turn;
      await current.stop();
    },
  };
}
