// Tool-manifest pins: one private file per server (its identity: a name, npm packages or an
// image), holding the tools as first listed and the changes seen since, plus an event log
// that `mcp-lok logs X --tools` prints. The files are the user's approvals: never written by
// anything but mcp-lok's own observer (first use) and `mcp-lok approve`.
import { appendFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PinEntry, PinnedTool, ToolDiff } from '../tools-pin/manifest.js';
import { logFiles, rotateBeforeAppend } from './log-rotation.js';
import { writePrivateFile } from './atomic-file.js';

/** What identifies a server for its pin: its name when the user gave one, else its packages (and bin) or image repository. */
export interface ToolPinKey {
  name?: string;
  packages?: string[];
  command?: string;
  image?: string;
  /** Started by an agent (the management server): apart from the user's own servers. */
  scope?: 'agent';
}

/** A change seen since the pin, waiting for `mcp-lok approve`. */
export interface PendingChange {
  change: 'added' | 'changed' | 'removed';
  /** The tool as last seen (absent for a removed one). */
  tool?: PinnedTool;
  hash?: string;
  firstSeen: string;
  lastSeen: string;
  /** Last seen by a process that enforced the pin (the tool was hidden): "awaiting approval". */
  enforced: boolean;
}

/** A server's pinned tool manifest. */
export interface ToolPinRecord {
  /** The file's name: a readable slug and 12 hex digits of the key's hash. */
  id: string;
  /** What people type: `mcp-lok approve IDENTITY`. */
  identity: string;
  key: ToolPinKey;
  /** What it ran from when first pinned (`npx @scope/pkg`, `image ghcr.io/org/app`). */
  source: string;
  pinnedAt: string;
  updatedAt: string;
  tools: Record<string, PinEntry>;
  pending: Record<string, PendingChange>;
}

/** One line of a pin's event log. */
export interface ToolPinEvent {
  time: string;
  /** `pinned`: first use; `changed`: new, changed or gone tools seen; `approved`: `mcp-lok approve`. */
  kind: 'pinned' | 'changed' | 'approved';
  identity: string;
  /** The mode of the process that saw it (for `changed`). */
  mode?: 'observe' | 'enforce';
  /** What was said on stderr, without the `mcp-lok: ` prefix. */
  lines: string[];
  diff?: ToolDiff[];
}

/** A pin id: a slug (as names.ts makes them) and 12 hex digits. */
const PIN_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,40}-[0-9a-f]{12}$/;
/** An event log is rotated past this size (one older file is kept). */
const EVENT_LOG_MAX_BYTES = 1024 * 1024;

function safeId(id: string): string {
  if (!PIN_ID.test(id)) throw new Error(`not a tool pin id: ${JSON.stringify(id)}`);
  return id;
}

/** Returns the directory of tool pins. */
export function toolPinsDir(stateDir: string): string {
  return join(stateDir, 'tool-pins');
}

/** Returns where a pin is kept. */
export function toolPinPath(stateDir: string, id: string): string {
  return join(toolPinsDir(stateDir), `${safeId(id)}.json`);
}

/** Returns where a pin's event log is kept. */
export function toolEventLogPath(stateDir: string, id: string): string {
  return join(toolPinsDir(stateDir), `${safeId(id)}.events.jsonl`);
}

/** Returns the lock that serialises changes to a pin (the observer's and `approve`'s), under mcp-lok's locks folder. */
export function toolPinLockPath(locksDir: string, id: string): string {
  return join(locksDir, `tool-pin-${safeId(id)}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Returns the record in a pin file's text, or throws when it is not one. */
export function parseToolPin(text: string, id: string): ToolPinRecord {
  const value = JSON.parse(text) as unknown;
  if (!isObject(value) || value.id !== id || typeof value.identity !== 'string' || !isObject(value.key) || !isObject(value.tools) || !isObject(value.pending)) {
    throw new Error('not a tool pin record');
  }
  for (const entry of Object.values(value.tools)) {
    if (!isObject(entry) || typeof entry.hash !== 'string' || !isObject(entry.tool) || typeof entry.tool.name !== 'string') throw new Error('a pinned tool without its hash');
  }
  // Null prototypes: a tool named `__proto__` or `constructor` is a tool like any other.
  const record = value as unknown as ToolPinRecord;
  return {
    ...record,
    tools: Object.assign(Object.create(null) as object, record.tools) as ToolPinRecord['tools'],
    pending: Object.assign(Object.create(null) as object, record.pending) as ToolPinRecord['pending'],
  };
}

/** Returns a pin, undefined when there is none; throws when the file is there but damaged. */
export function readToolPin(stateDir: string, id: string): ToolPinRecord | undefined {
  let text: string;
  try {
    text = readFileSync(toolPinPath(stateDir, id), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return parseToolPin(text, id);
}

/** Writes a pin atomically (a reader never sees half of one), private to the user. */
export function writeToolPin(stateDir: string, record: ToolPinRecord): void {
  writePrivateFile(toolPinPath(stateDir, record.id), `${JSON.stringify(record, null, 2)}\n`);
}

/** Returns every readable pin, sorted by identity (damaged files are left out). */
export function listToolPins(stateDir: string): ToolPinRecord[] {
  let entries: string[];
  try { entries = readdirSync(toolPinsDir(stateDir)); } catch { return []; }
  return entries
    .filter((e) => e.endsWith('.json') && PIN_ID.test(e.slice(0, -'.json'.length)))
    .flatMap((e) => { try { return [readToolPin(stateDir, e.slice(0, -'.json'.length))].filter((r): r is ToolPinRecord => r !== undefined); } catch { return []; } })
    .sort((a, b) => (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0));
}

/** Appends one event to a pin's log (private, rotated past 1 MiB). */
export function appendToolEvent(stateDir: string, id: string, event: ToolPinEvent): void {
  const path = toolEventLogPath(stateDir, id);
  mkdirSync(toolPinsDir(stateDir), { recursive: true, mode: 0o700 });
  const line = `${JSON.stringify(event)}\n`;
  rotateBeforeAppend(path, Buffer.byteLength(line), EVENT_LOG_MAX_BYTES);
  appendFileSync(path, line, { mode: 0o600 });
}

/** Returns a pin's events, oldest first (the rotated file's first); lines that are not events are skipped. */
export function readToolEvents(stateDir: string, id: string): ToolPinEvent[] {
  const events: ToolPinEvent[] = [];
  for (const file of logFiles(toolEventLogPath(stateDir, id))) {
    let text = '';
    try { text = readFileSync(file, 'utf8'); } catch { continue; }
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        const event = JSON.parse(line) as unknown;
        if (isObject(event) && typeof event.time === 'string' && typeof event.kind === 'string' && Array.isArray(event.lines)) events.push(event as unknown as ToolPinEvent);
      } catch { /* a line cut by a crash */ }
    }
  }
  return events;
}
