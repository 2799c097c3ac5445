// What a package image holds, as `image build` records it in the image (server.json beside the
// in-pod code, and the same facts in the image's labels): the command to run and the exact
// versions. Pure.

/** One package of the image's tree, exactly as pinned. */
export interface PodPackage {
  name: string;
  version: string;
  /** The registry's integrity of its tarball (sha512), from the tree's lockfile. */
  integrity: string;
}

/** The record the in-pod entry point reads. */
export interface PodServerRecord {
  /** The server's command: its bin inside the read-only tree; the container's arguments follow. */
  command: string[];
  packages: PodPackage[];
  /** The tree's directory name: a hash of its lockfile (package-lock.json, in the tree). */
  tree: string;
}

/** Returns the record in `text`, or throws saying what is wrong with it. */
export function readServerRecord(text: string): PodServerRecord {
  const value = JSON.parse(text) as Partial<PodServerRecord>;
  const strings = (list: unknown): list is string[] => Array.isArray(list) && list.every((s) => typeof s === 'string');
  if (!strings(value.command) || value.command.length === 0) throw new Error('the image\'s server.json names no command');
  if (!Array.isArray(value.packages) || !value.packages.every((p) => typeof p?.name === 'string' && typeof p.version === 'string' && typeof p.integrity === 'string')) {
    throw new Error('the image\'s server.json lists no packages');
  }
  if (typeof value.tree !== 'string') throw new Error('the image\'s server.json names no tree');
  return { command: value.command, packages: value.packages, tree: value.tree };
}
