// Version precedence for what pins compare (pinned, newest, history): npm's own semver package
// decides, so mcp-lok orders versions exactly as npm does.
import compare from 'semver/functions/compare.js';
import valid from 'semver/functions/valid.js';

/**
 * Compares two versions by semver precedence (negative: `a` is older); text that is no
 * version sorts before every version, and among such text by plain order.
 */
export function compareVersions(a: string, b: string): number {
  const x = valid(a.trim(), { loose: true });
  const y = valid(b.trim(), { loose: true });
  if (!x || !y) return x ? 1 : y ? -1 : a < b ? -1 : a > b ? 1 : 0;
  return compare(x, y);
}
