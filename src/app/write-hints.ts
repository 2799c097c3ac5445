// Servers that keep data beside their own code fail to write in the sandbox, where the
// installed package is read-only: this says why on stderr, and how to point them at their home.
import { PACKAGES_DIR, SANDBOX_HOME } from '../sandbox/hardening.js';

/** A server known to write beside its code unless a variable names another file. */
export interface BesideCode {
  pkg: string;
  file: string;
  variable: string;
}

/**
 * Servers known to keep a file beside their code. server-memory writes `memory.jsonl` next to
 * its `dist/index.js` unless `MEMORY_FILE_PATH` (an absolute path) names another file; its
 * write errors go back to the client as tool results, never to stderr, so only this table can
 * warn about it.
 */
export const WRITES_BESIDE_CODE: readonly BesideCode[] = [
  { pkg: '@modelcontextprotocol/server-memory', file: 'memory.jsonl', variable: 'MEMORY_FILE_PATH' },
];

function homeWords(ephemeral: boolean): string {
  return ephemeral ? `its home (${SANDBOX_HOME}, in memory with --ephemeral)` : `its home (${SANDBOX_HOME}, kept across runs)`;
}

/** What the plan does for a server known to write beside its code: a variable to set, or a line to say. */
export interface BesideCodeFix {
  /** The variable that moves its file into the home, set when the user left it unset. */
  env?: { name: string; value: string };
  notice: string;
}

/**
 * Returns how to keep a known server's file out of its read-only package: when the variable
 * that moves it is unset, mcp-lok sets it to a file in the server's home and says so; when the
 * user set it to a relative path (which such a server takes from its own folder, beside its
 * code), it is left as given and the line says what to set instead. Undefined otherwise.
 */
export function besideCodeFix(packages: readonly string[], env: Readonly<Record<string, string>>, ephemeral: boolean): BesideCodeFix | undefined {
  const known = WRITES_BESIDE_CODE.find((k) => packages.includes(k.pkg) && !env[k.variable]?.startsWith('/'));
  if (!known) return undefined;
  const value = `${SANDBOX_HOME}/${known.file}`;
  if (env[known.variable] === undefined) {
    return {
      env: { name: known.variable, value },
      notice: `mcp-lok: ${known.pkg} keeps ${known.file} beside its code, which is read-only in the sandbox: ${known.variable}=${value} keeps it in ${homeWords(ephemeral)} (-e ${known.variable}=PATH chooses another file).`,
    };
  }
  return { notice: `mcp-lok: ${known.pkg} keeps ${known.file} beside its code, which is read-only in the sandbox, so its writes fail with a relative ${known.variable}; use -e ${known.variable}=${value} to keep it in ${homeWords(ephemeral)}.` };
}

const PACKAGE_PATH = new RegExp(`EROFS\\b[^\\n]*?(${PACKAGES_DIR.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/[^\\s'"\`,;)]+)`);

/** Returns the path under the package mount that a line of the server's stderr says it could not write (EROFS), or undefined. */
export function findReadOnlyWrite(text: string): string | undefined {
  return PACKAGE_PATH.exec(text)?.[1];
}

/** Returns the stderr line that explains a refused write to `path`, inside the package tree. */
export function readOnlyWriteNotice(path: string, ephemeral: boolean): string {
  const inPackage = path.replace(/^.*?\/node_modules\//, '');
  const known = WRITES_BESIDE_CODE.find((k) => inPackage.startsWith(`${k.pkg}/`));
  const how = known ? `add -e ${known.variable}=${SANDBOX_HOME}/${known.file}` : 'set the server\'s own option or variable for where it keeps files (see its README) to a path there';
  return `mcp-lok: the server could not write ${inPackage}: its installed package is read-only in the sandbox. To keep its files in ${homeWords(ephemeral)}, ${how}.`;
}

/** How much of the previous chunk is kept, so a message split between two chunks is still found. */
const CARRY_CHARS = 1024;

/**
 * Returns an `onStderr` that passes every chunk on at once, unchanged, and calls `notice` once,
 * after the chunk that shows a write refused inside the package tree; after that it only
 * passes chunks on. Only stderr goes through it: the MCP bytes on stdout never do.
 */
export function watchReadOnlyWrites(write: (chunk: Buffer) => void, notice: (path: string) => void): (chunk: Buffer) => void {
  let carry = '';
  let found = false;
  return (chunk) => {
    write(chunk);
    if (found) return;
    const text = carry + chunk.toString('utf8');
    const path = findReadOnlyWrite(text);
    if (path) { found = true; carry = ''; notice(path); return; }
    carry = text.slice(-CARRY_CHARS);
  };
}
