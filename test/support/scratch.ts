// Scratch folders for tests that grant folders to a sandbox: mcp-lok refuses /tmp and the other
// temporary folders as grants (other programs' sockets live there), so these live in the
// repository's own ignored `.tmp/`, or, when the checkout itself sits in a temporary folder
// (a CI clone in /tmp, say), in /srv/mcp-lok-test-scratch (else ~/.cache/...). Every folder on
// the way must let the sandbox's user (uid 1000) pass, which root's home does not. One folder
// per test process, removed when it exits.
import { accessSync, chmodSync, constants, mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const TEMPORARY = ['/tmp', '/var/tmp', '/dev/shm', '/run', '/private/tmp', '/private/var/folders', '/var/folders'];
let base: string | undefined;

/** Returns true when a path lies in a temporary or runtime folder, where grants are refused. */
function inTemporaryFolder(path: string): boolean {
  const real = realpathSync(path);
  const temp = [...TEMPORARY, realpathSync(tmpdir())];
  return temp.some((t) => real === t || real.startsWith(`${t}/`));
}

/** Returns the folder scratch folders go in, outside every temporary folder, open for other users to pass. */
function scratchRoot(): string {
  const candidates = inTemporaryFolder(REPO)
    ? ['/srv/mcp-lok-test-scratch', join(homedir(), '.cache', 'mcp-lok-test-scratch')]
    : [join(REPO, '.tmp')];
  for (const root of candidates) {
    try {
      mkdirSync(root, { recursive: true });
      chmodSync(root, 0o755);
      accessSync(root, constants.W_OK);
      return root;
    } catch { /* the next one */ }
  }
  throw new Error(`no scratch folder outside the temporary folders could be made (tried ${candidates.join(', ')})`);
}

/** Returns a fresh empty folder outside every temporary folder, removed when the process exits. */
export function scratchDir(prefix: string): string {
  if (!base) {
    const made = mkdtempSync(join(scratchRoot(), `grants-${process.pid}-`));
    base = made;
    process.once('exit', () => { rmSync(made, { recursive: true, force: true }); });
  }
  return mkdtempSync(join(base, prefix));
}
