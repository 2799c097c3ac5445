// The user's side of tool-manifest pins: find a server's pin by what the user types, approve its
// pending changes (`mcp-lok approve`), read its event log (`mcp-lok logs X --tools`), and its
// state for `list`. Approving is the user's: the management server has no tool that calls this.
import { escapeControl } from '../control-chars.js';
import { EXIT, LokError } from '../errors.js';
import { showInput } from '../request/input-errors.js';
import { withLock } from '../state/lock.js';
import { appendToolEvent, listToolPins, readToolEvents, readToolPin, toolPinLockPath, toolPinsDir, writeToolPin, type ToolPinEvent, type ToolPinRecord } from '../state/tool-pins.js';
import { approveCommand, matchToolPins } from '../tools-pin/identity.js';
import { describeToolDiff, type ToolDiff } from '../tools-pin/manifest.js';
import { approvePending, pendingDiffs, samePending, summarizePin, type ToolPinStatus } from '../tools-pin/pin.js';
import type { Context } from './context.js';
import { imageRepository } from './plan.js';

/** Returns the identities the user may mean by `query`: itself, and with a kind prefix (`npx://`, `name:`, `image:`) only that kind's. */
function findPins(records: readonly ToolPinRecord[], query: string): ToolPinRecord[] {
  if (query.startsWith('npx://')) {
    const pkg = query.slice('npx://'.length).replace(/(?<=.)@[^/]*$/, '');
    return matchToolPins(records.filter((r) => r.key.packages !== undefined), [pkg]);
  }
  if (query.startsWith('name:')) return records.filter((r) => r.key.name === query.slice('name:'.length) && r.key.scope === undefined);
  if (query.startsWith('image:')) {
    const ref = query.slice('image:'.length);
    return records.filter((r) => r.key.image !== undefined && r.key.name === undefined && (r.key.image === ref || r.key.image === imageRepository(ref)));
  }
  let repository: string | undefined;
  try { repository = imageRepository(query); } catch { /* not an image reference */ }
  return matchToolPins(records, repository && repository !== query ? [query, repository] : [query]);
}

/** Returns how to name a pin unambiguously (for an ambiguous query's message). */
function qualified(record: ToolPinRecord): string {
  if (record.key.scope === 'agent') return record.identity;
  if (record.key.name !== undefined) return `name:${record.key.name}`;
  if (record.key.packages) return `npx://${record.key.packages.join(' ')}`;
  return `image:${record.key.image ?? ''}`;
}

/**
 * Returns the one pin `query` names: a server's name, an npm package, an image, or an identity
 * as messages print it. None or several is one clear error naming what is known.
 */
export function findToolPin(ctx: Context, query: string): ToolPinRecord {
  const records = listToolPins(ctx.paths.state);
  const found = findPins(records, query);
  if (found.length === 1) return found[0]!;
  if (found.length === 0) {
    const known = records.map((r) => r.identity);
    throw new LokError('NOT_FOUND', known.length === 0
      ? `No server's tools are pinned yet, so nothing is named ${showInput(query)}: a server's tools are pinned the first time a client lists them.`
      : `No pinned server is named ${showInput(query)}; pinned: ${known.map((k) => showInput(k)).join(', ')}.`, {
      exitCode: EXIT.failure, hint: 'Name a server by its --name, its npm package or its image, as mcp-lok\'s messages do.',
    });
  }
  throw new LokError('INVALID_INPUT', `${showInput(query)} names ${found.length} pinned servers; say which: ${found.map((r) => `\`${approveCommand(qualified(r)).replace(/^mcp-lok approve /, '')}\``).sort().join(' or ')}.`, { exitCode: EXIT.usage });
}

/** What `approve` did. */
export interface ApproveResult {
  identity: string;
  id: string;
  /** False when nothing was pending, or the user said no. */
  approved: boolean;
  /** The user was shown the changes and did not approve them. */
  declined?: boolean;
  /** What was accepted. */
  changes: ToolDiff[];
  /** The pinned tools' names afterwards. */
  tools: string[];
  pinnedAt: string;
  /** Where the pin is kept. */
  dir: string;
}

/**
 * Accepts a pin's pending changes: new and changed tools are pinned as last seen, removed ones
 * dropped, and the event log says so. Nothing pending changes nothing.
 */
export async function approveTools(ctx: Context, query: string, confirm: (changes: ToolDiff[], record: ToolPinRecord) => Promise<boolean> = async () => true): Promise<ApproveResult> {
  const found = findToolPin(ctx, query);
  const state = ctx.paths.state;
  // What the user is shown is what is approved: the server may change its tools again meanwhile.
  const shown = readToolPin(state, found.id) ?? found;
  const shownChanges = pendingDiffs(shown);
  const result = (r: ToolPinRecord, approved: boolean, changes: ToolDiff[]): ApproveResult => ({
    identity: r.identity, id: r.id, approved, changes, tools: Object.keys(r.tools).sort(), pinnedAt: r.pinnedAt, dir: toolPinsDir(state),
  });
  if (shownChanges.length === 0) return result(shown, false, shownChanges);
  if (!(await confirm(shownChanges, shown))) return { ...result(shown, false, shownChanges), declined: true };
  return withLock(toolPinLockPath(ctx.paths.locks, found.id), async () => {
    const record = readToolPin(state, found.id) ?? found;
    if (!samePending(record.pending, shown.pending)) {
      throw new LokError('INVALID_INPUT', `The tools of ${escapeControl(record.identity)} changed again while you reviewed them; nothing was approved.`, {
        exitCode: EXIT.failure, hint: `Run \`${approveCommand(record.identity)}\` again to see the changes as they are now.`,
      });
    }
    const changes = shownChanges;
    const now = new Date(ctx.now()).toISOString();
    const next = approvePending(record, now);
    writeToolPin(state, next);
    const lines = [`approved ${changes.length} change${changes.length === 1 ? '' : 's'} to the tools of ${record.identity}:`, ...changes.flatMap((d) => describeToolDiff(d))];
    appendToolEvent(state, record.id, { time: now, kind: 'approved', identity: record.identity, lines, diff: changes });
    return result(next, true, changes);
  });
}

/** Returns the events of a pin (`mcp-lok logs X --tools`), oldest first. */
export function readToolPinEvents(ctx: Context, query: string): { record: ToolPinRecord; events: ToolPinEvent[] } {
  const record = findToolPin(ctx, query);
  return { record, events: readToolEvents(ctx.paths.state, record.id) };
}

/**
 * Returns the manifest state of a pin by its id (a container's `mcp-lok-tool-pin` label, or
 * `planToolPin(...).id`): pinned, changed, awaiting approval, not pinned yet, or damaged.
 */
export function readToolPinStatus(ctx: Pick<Context, 'paths'>, target: { id: string; identity?: string | undefined }): ToolPinStatus {
  const named = { id: target.id, identity: target.identity ?? target.id };
  try {
    return summarizePin(named, readToolPin(ctx.paths.state, target.id));
  } catch {
    return { ...summarizePin(named, undefined), state: 'damaged' };
  }
}
