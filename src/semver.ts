// Version precedence for what pins compare (pinned, newest, history): npm's own semver package
// decides, so mcp-lok orders versions exactly as npm does. It is loaded on first use: a warm
// start reads its pin without comparing versions.
import { createRequire } from 'node:module';

type Compare = (a: string, b: string) => number;
type Valid = (v: string, options: { loose: boolean }) => string | null;
let semver: { compare: Compare; valid: Valid } | undefined;

function load(): { compare: Compare; valid: Valid } {
  if (!semver) {
    const require = createRequire(import.meta.url);
    semver = { compare: require('semver/functions/compare.js') as Compare, valid: require('semver/functions/valid.js') as Valid };
  }
  return semver;
}

/**
 * Compares two versions by semver precedence (negative: `a` is older); text that is no
 * version sorts before every version, and among such text by plain order.
 */
export function compareVersions(a: string, b: string): number {
  const { compare, valid } = load();
  const x = valid(a.trim(), { loose: true });
  const y = valid(b.trim(), { loose: true });
  if (!x || !y) return x ? 1 : y ? -1 : a < b ? -1 : a > b ? 1 : 0;
  return compare(x, y);
}
