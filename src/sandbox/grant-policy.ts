import { posix } from 'node:path';

/** A place no grant may expose; `subtree` also forbids everything inside it. */
export interface DenyRule {
  path: string;
  why: string;
  subtree: boolean;
}

/** System directories: granting them (or anything inside) hands over the machine. */
const SYSTEM_DIRS = ['/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/libx32', '/proc', '/run', '/sbin', '/sys', '/usr', '/var', '/snap', '/System', '/Library', '/private/etc', '/private/var'];

/** Credential and configuration stores under the home directory. */
const CREDENTIAL_PATHS = ['.ssh', '.aws', '.gnupg', '.docker', '.kube', '.npmrc', '.netrc', '.git-credentials', '.config/gh', '.config/gcloud', '.azure', '.password-store', '.pypirc', '.cargo/credentials', '.cargo/credentials.toml', '.gitconfig', '.local/share/keyrings', 'Library/Keychains'];

/**
 * Returns the rules for this machine: `/` and the home directory themselves, system
 * directories, credential stores, the engine's socket and mcp-lok's own state.
 */
export function buildDenyRules(input: { home: string; engineSocket?: string | undefined; lokDirs: string[] }): DenyRule[] {
  const rules: DenyRule[] = [
    { path: '/', why: 'the whole filesystem', subtree: false },
    { path: input.home, why: 'your whole home directory', subtree: false },
    ...SYSTEM_DIRS.map((path) => ({ path, why: 'a system directory', subtree: true })),
    ...CREDENTIAL_PATHS.map((p) => ({ path: posix.join(input.home, p), why: 'a credential store', subtree: true })),
    ...input.lokDirs.map((path) => ({ path, why: 'mcp-lok\'s own state', subtree: true })),
  ];
  if (input.engineSocket) rules.push({ path: input.engineSocket, why: 'the container engine\'s socket', subtree: true });
  return rules;
}

function isInside(child: string, parent: string): boolean {
  return parent === '/' ? child !== '/' : child.startsWith(`${parent}/`);
}

/**
 * Returns why a resolved host path may not be granted, or undefined when it may: it is a
 * denied place, contains one (a grant of `/home` would expose `~/.ssh`), or lies inside a
 * denied subtree.
 */
export function findGrantViolation(resolved: string, rules: DenyRule[]): string | undefined {
  for (const rule of rules) {
    if (resolved === rule.path) return `it is ${rule.why} (${rule.path})`;
    if (isInside(rule.path, resolved)) return `it contains ${rule.why} (${rule.path})`;
    if (rule.subtree && isInside(resolved, rule.path)) return `it is inside ${rule.why} (${rule.path})`;
  }
  return undefined;
}
