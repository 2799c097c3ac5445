// Server and container names: the one check every name from a user or an agent passes, and the
// one slug that turns a package or image into a default name that passes it.

/**
 * A server or container name: a letter or digit, then letters, digits, `_`, `.` and `-`, at most
 * 63 in all. The engine accepts the same characters; the first one keeps a name from reading as
 * an option, and no `/` keeps it from reaching outside mcp-lok's folders as a file name.
 */
export const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;

/** Returns true when `name` is a valid server or container name (CONTAINER_NAME). */
export function isContainerName(name: string): boolean {
  return CONTAINER_NAME.test(name);
}

/**
 * Returns a readable name part made from any text (`@scope/pkg` gives `scope-pkg`): runs of other
 * characters become `-`, leading `-`, `_` and `.` go, at most `maxChars` are kept, and `server`
 * stands in for an empty result; it always passes isContainerName when maxChars is at most 63.
 */
export function slugName(text: string, maxChars: number): string {
  const slug = text.replace(/[^a-zA-Z0-9_.-]+/g, '-').replace(/^[-_.]+/, '').slice(0, maxChars);
  return slug || 'server';
}

/** Returns the name part of an image reference, without registry, path, tag or digest: `ghcr.io/org/app:1` gives `app`. */
export function imageShortName(ref: string): string {
  return (ref.replace(/@.*$/, '').split('/').pop() ?? '').replace(/:.*$/, '');
}
