// Scratch folders for tests that grant folders to a sandbox: mcp-lok refuses /tmp and the other
// temporary folders as grants (other programs' sockets live there), so these live in the
// repository's own ignored `.tmp/`, one folder per test process, removed when it exits.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
let base: string | undefined;

/** Returns a fresh empty folder outside every temporary folder, removed when the process exits. */
export function scratchDir(prefix: string): string {
  if (!base) {
    mkdirSync(join(REPO, '.tmp'), { recursive: true });
    const made = mkdtempSync(join(REPO, '.tmp', `grants-${process.pid}-`));
    base = made;
    process.once('exit', () => { rmSync(made, { recursive: true, force: true }); });
  }
  return mkdtempSync(join(base, prefix));
}
