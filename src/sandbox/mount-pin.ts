// Pins for bind mounts whose host path lies inside a write grant (the read-only `.git` over a
// write grant, a grant inside another): a server holding the write grant can swap such a path
// for a link to any host folder between the check and the engine's mount, so each such mount is
// checked from inside the new container, before the server runs, against what was checked on
// the host: the filesystem (major:minor) and the path within it, as /proc/self/mountinfo says.
import type { MountPlan } from './build-spec.js';
import { isInside } from './grant-policy.js';
import { textLines } from '../lines.js';

/** What a mount at `target` must be: `/proc/self/mountinfo`'s device and root fields, escaped as there. */
export interface MountPin {
  target: string;
  device: string;
  root: string;
}

/** One line of /proc/self/mountinfo, its paths still escaped (`\040` for a space). */
export interface MountInfoEntry {
  device: string;
  root: string;
  mountPoint: string;
}

/** Returns a path escaped as the kernel writes it in mountinfo (space, tab, newline, backslash). */
export function escapeMountInfo(path: string): string {
  return path.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

/** Returns the entries of a mountinfo text (fields 3, 4 and 5 of each line). */
export function parseMountInfo(text: string): MountInfoEntry[] {
  return textLines(text).map((line) => {
    const [, , device = '', root = '', mountPoint = ''] = line.split(' ');
    return { device, root, mountPoint };
  });
}

/**
 * Returns what mountinfo says a bind mount of `path` (a path without links) comes from: the
 * device and the path within it, from the mount that holds `path` (the deepest; the last of
 * mounts stacked on one place). Device numbers are mountinfo's own, not stat's (on btrfs they
 * differ), as the check in the container reads mountinfo too.
 */
export function findMountSource(entries: readonly MountInfoEntry[], path: string): { device: string; root: string } | undefined {
  const escaped = escapeMountInfo(path);
  let best: MountInfoEntry | undefined;
  for (const entry of entries) {
    const inside = escaped === entry.mountPoint || isInside(escaped, entry.mountPoint);
    if (inside && (!best || entry.mountPoint.length >= best.mountPoint.length)) best = entry;
  }
  if (!best) return undefined;
  const rest = best.mountPoint === '/' ? escaped : escaped.slice(best.mountPoint.length);
  const root = best.root === '/' ? (rest === '' ? '/' : rest) : `${best.root}${rest}`;
  return { device: best.device, root };
}

/** Returns the bind mounts whose host path lies inside the host path of a writable bind mount. */
export function findNestedUnderWrite(mounts: readonly MountPlan[]): MountPlan[] {
  const writable = mounts.filter((m) => m.type === 'bind' && !m.readOnly).map((m) => m.source);
  return mounts.filter((m) => m.type === 'bind' && writable.some((w) => isInside(m.source, w)));
}

function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * Returns shell lines that exit 126, saying why on stderr, unless the last mount at each pin's
 * target has the pinned device and root. They run in the sandbox image's shell before `exec`.
 */
export function buildPinCheck(pins: readonly MountPin[]): string {
  if (pins.length === 0) return '';
  // awk through busybox by its absolute path (both base images have /bin/busybox; Alpine keeps
  // awk in /usr/bin): npm puts the package's own bins first on PATH, and one named awk
  // would run, with the unchecked mount in place, before the check. `[` and echo are builtins.
  const check = 'lok_pin() { [ "$(T="$1" /bin/busybox awk \'$5 == ENVIRON["T"] { m = $3 " " $4 } END { print m }\' /proc/self/mountinfo)" = "$2" ] || { echo "mcp-lok: refusing to start: the mount at $1 is not the folder that was checked; a server with a write grant may have swapped it for a link" >&2; exit 126; }; }; ';
  return check + pins.map((pin) => `lok_pin ${quote(pin.target)} ${quote(`${pin.device} ${pin.root}`)}; `).join('');
}
