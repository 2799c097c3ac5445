// Which pin a server's tools are compared with. A server's identity is the name the user gave it
// (`--name`, `start NAME`), else its npm packages (and bin), else its image repository: like its
// home volume (app/plan.ts planHome), it stays across upgrades and tags, so a new version is
// compared with the tools the user first saw. Servers an agent started are apart.
import { createHash } from 'node:crypto';
import { slugName } from '../sandbox/names.js';
import type { ToolPinKey, ToolPinRecord } from '../state/tool-pins.js';
import { canonicalJson } from './manifest.js';

/** The pin one server's tools are checked against, as the planner names it. */
export interface ToolPinTarget {
  /** The pin's file name (state/tool-pins.ts). */
  id: string;
  /** What `mcp-lok approve` takes and messages show. */
  identity: string;
  key: ToolPinKey;
  /** What the server runs from, for the record (`npx @scope/pkg`, `image ghcr.io/org/app`). */
  source: string;
}

/** What a server is, as far as its pin cares (the planner fills it from the request). */
export interface ToolPinSubject {
  name?: string | undefined;
  packages?: readonly string[] | undefined;
  command?: string | undefined;
  /** The image's repository (no tag or digest). */
  image?: string | undefined;
  scope?: 'agent' | undefined;
}

/** Returns the pin target of a server: its key, identity and file id. */
export function toolPinTarget(subject: ToolPinSubject): ToolPinTarget {
  const scope = subject.scope ? { scope: subject.scope } : {};
  const packages = subject.packages ? [...subject.packages].sort() : undefined;
  const key: ToolPinKey = subject.name !== undefined
    ? { name: subject.name, ...scope }
    : packages
      ? { packages, ...(subject.command !== undefined ? { command: subject.command } : {}), ...scope }
      : { image: subject.image ?? '', ...scope };
  const base = key.name ?? (packages ? `${packages.join(' ')}${key.command !== undefined ? ` (bin ${key.command})` : ''}` : key.image ?? '');
  const identity = key.scope === 'agent' ? `agent:${base}` : base;
  const hash = createHash('sha256').update(canonicalJson(key)).digest('hex').slice(0, 12);
  const source = packages ? `npx ${packages.join(' ')}${key.command !== undefined ? ` (bin ${key.command})` : ''}` : subject.image !== undefined ? `image ${subject.image}` : `server ${base}`;
  return { id: `${slugName(base.replace(/^@/, ''), 30)}-${hash}`, identity, key, source };
}

/** Returns `mcp-lok approve IDENTITY` as one would type it (quoted when the shell needs it). */
export function approveCommand(identity: string): string {
  return `mcp-lok approve ${/^[A-Za-z0-9@/._:+=-]+$/.test(identity) ? identity : `'${identity.replace(/'/g, `'\\''`)}'`}`;
}

/**
 * Returns the pins a name typed by the user means: those whose identity is one of `candidates`,
 * else those with a package or image equal to one (a bare package name for a multi-package
 * server, say). Several results mean the user must say which.
 */
export function matchToolPins(records: readonly ToolPinRecord[], candidates: readonly string[]): ToolPinRecord[] {
  const exact = records.filter((r) => candidates.includes(r.identity));
  if (exact.length > 0) return exact;
  return records.filter((r) => r.key.scope === undefined && (
    (r.key.packages?.some((p) => candidates.includes(p)) ?? false) || (r.key.image !== undefined && candidates.includes(r.key.image))
  ));
}
