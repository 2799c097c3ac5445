import { readFileSync } from 'node:fs';

/** Returns mcp-lok's version from its package.json. */
export function readVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
