import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { PACKAGE_ROOT } from './package-root.js';

/** Returns mcp-lok's version from its package.json. */
export function readVersion(): string {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}
