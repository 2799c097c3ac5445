// A pin's life, pure: made from the first complete list (trust on first use), changes seen
// since kept as pending, approval moving them into the pin, and what a pin says about a tool
// (may the client see it, may it be called) and about the server (for `list`).
import type { PendingChange, ToolPinRecord } from '../state/tool-pins.js';
import type { ToolPinTarget } from './identity.js';
import { compareManifests, diffTool, hashTool, pinTools, type ManifestComparison, type PinnedTool, type ToolDiff } from './manifest.js';

/** How strictly a server's tools are held to its pin: `observe` reports changes, `enforce` also hides them. */
export type PinMode = 'observe' | 'enforce';

/** Returns a new pin of the tools of a complete first list. */
export function createPin(target: ToolPinTarget, tools: readonly PinnedTool[], now: string): ToolPinRecord {
  return {
    id: target.id, identity: target.identity, key: target.key, source: target.source,
    pinnedAt: now, updatedAt: now, tools: pinTools(tools), pending: Object.create(null) as Record<string, PendingChange>,
  };
}

/**
 * Returns the pin with the tools of a later page of its first list added (those it does not
 * hold yet; a name it holds keeps its first definition), or the same record when none is new.
 */
export function extendPin(record: ToolPinRecord, page: readonly PinnedTool[], now: string): ToolPinRecord {
  const fresh = page.filter((t) => !Object.hasOwn(record.tools, t.name));
  if (fresh.length === 0) return record;
  const tools = Object.assign(Object.create(null) as object, pinTools(fresh), record.tools) as ToolPinRecord['tools'];
  return { ...record, tools, updatedAt: now };
}

/**
 * Returns the pending changes after a list was seen: a complete list replaces them (a tool back
 * to its pinned definition is no longer pending), a page adds its new and changed tools and
 * clears those it lists as pinned. A change seen before keeps its first sighting.
 */
export function updatePending(pending: Readonly<Record<string, PendingChange>>, comparison: ManifestComparison, complete: boolean, now: string, enforced: boolean): Record<string, PendingChange> {
  const next: Record<string, PendingChange> = Object.assign(Object.create(null) as object, complete ? {} : pending);
  for (const name of comparison.same) delete next[name];
  const note = (name: string, change: PendingChange['change'], tool: PinnedTool | undefined): void => {
    const before = Object.hasOwn(pending, name) ? pending[name] : undefined;
    const hash = tool ? hashTool(tool) : undefined;
    const again = before !== undefined && before.change === change && before.hash === hash;
    next[name] = { change, ...(tool ? { tool, hash } : {}), firstSeen: again ? before.firstSeen : now, lastSeen: now, enforced };
  };
  for (const tool of comparison.added) note(tool.name, 'added', tool);
  for (const { after } of comparison.changed) note(after.name, 'changed', after);
  for (const tool of comparison.removed) note(tool.name, 'removed', undefined);
  return next;
}

/** Returns true when two pending sets say the same (only the times of the last sighting may differ). */
export function samePending(a: Readonly<Record<string, PendingChange>>, b: Readonly<Record<string, PendingChange>>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => {
    const x = a[k];
    const y = Object.hasOwn(b, k) ? b[k] : undefined;
    return x !== undefined && y !== undefined && x.change === y.change && x.hash === y.hash && x.firstSeen === y.firstSeen && x.enforced === y.enforced;
  });
}

/** Returns the diffs of a pin's pending changes (what `approve` would accept), added first, then changed, then removed, by name. */
export function pendingDiffs(record: ToolPinRecord): ToolDiff[] {
  const order = { added: 0, changed: 1, removed: 2 } as const;
  return Object.entries(record.pending)
    .sort(([a, x], [b, y]) => order[x.change] - order[y.change] || (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, p]) => diffTool(Object.hasOwn(record.tools, name) ? record.tools[name]?.tool : undefined, p.change === 'removed' ? undefined : p.tool));
}

/**
 * Returns the pin with its pending changes accepted: new and changed tools pinned as last
 * seen (their hashes computed again, not read from the file), removed ones dropped.
 */
export function approvePending(record: ToolPinRecord, now: string): ToolPinRecord {
  const tools = Object.assign(Object.create(null) as object, record.tools) as ToolPinRecord['tools'];
  for (const [name, p] of Object.entries(record.pending)) {
    if (p.change === 'removed' || !p.tool) delete tools[name];
    else tools[name] = { hash: hashTool({ ...p.tool, name }), tool: { ...p.tool, name } };
  }
  return { ...record, tools, pending: Object.create(null) as Record<string, PendingChange>, updatedAt: now };
}

/** Returns the listed tool definitions a client may see under enforce: exactly those whose hash is pinned under their name. */
export function isPinnedDefinition(record: ToolPinRecord, tool: PinnedTool): boolean {
  const pin = Object.hasOwn(record.tools, tool.name) ? record.tools[tool.name] : undefined;
  return pin !== undefined && pin.hash === hashTool(tool);
}

/**
 * Returns whether a tool may be called under enforce: it is pinned, and neither this process
 * (`seen`: the hashes it listed under that name) nor the record saw it differ from its pin.
 */
export function mayCallTool(record: ToolPinRecord, name: string, seen: ReadonlySet<string> | undefined): boolean {
  const pin = Object.hasOwn(record.tools, name) ? record.tools[name] : undefined;
  if (!pin) return false;
  if (seen && seen.size > 0) return [...seen].every((hash) => hash === pin.hash);
  const pending = Object.hasOwn(record.pending, name) ? record.pending[name] : undefined;
  return pending === undefined || pending.change === 'removed';
}

/** A server's manifest state, as `list` and the management server show it. */
export interface ToolPinStatus {
  id: string;
  identity: string;
  /** `not pinned`: no complete list seen yet; `changed`: changes seen (observed); `awaiting approval`: changes hidden by enforce. */
  state: 'not pinned' | 'pinned' | 'changed' | 'awaiting approval' | 'damaged';
  /** Tools in the pin. */
  tools: number;
  added: number;
  changed: number;
  removed: number;
  pinnedAt?: string;
  /** When the oldest pending change was first seen. */
  changedSince?: string;
}

/** Returns the manifest state of a pin (undefined: none yet). */
export function summarizePin(target: { id: string; identity: string }, record: ToolPinRecord | undefined): ToolPinStatus {
  if (!record) return { id: target.id, identity: target.identity, state: 'not pinned', tools: 0, added: 0, changed: 0, removed: 0 };
  const pending = Object.values(record.pending);
  const count = (c: PendingChange['change']): number => pending.filter((p) => p.change === c).length;
  const since = pending.map((p) => p.firstSeen).sort()[0];
  return {
    id: record.id, identity: record.identity,
    state: pending.length === 0 ? 'pinned' : pending.some((p) => p.enforced) ? 'awaiting approval' : 'changed',
    tools: Object.keys(record.tools).length, added: count('added'), changed: count('changed'), removed: count('removed'),
    pinnedAt: record.pinnedAt, ...(since ? { changedSince: since } : {}),
  };
}
