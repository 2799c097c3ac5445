import { EXIT, LokError } from '../errors.js';
import { invalidInput, showInput } from './input-errors.js';

/** A package from the npm registry, as named on the command line. */
export interface PackageSpec {
  raw: string;
  name: string;
  /** exact version, tag, or semver range; 'latest' when omitted */
  selector: string;
  kind: 'version' | 'tag' | 'range';
}

const MAX_NAME_CHARS = 214;
const MAX_SELECTOR_CHARS = 256;
const LOCAL = 'local paths are';
const GIT = 'git repositories are';
const OTHER_SOURCES = 'package sources other than the npm registry are';

// What npm accepts but the sandbox cannot honour yet. Prefix rules are tried on the whole spec first (a URL
// may contain `@`), then every rule on the part after `@`, then the remaining rules on the whole spec.
const PREFIX_RULES: ReadonlyArray<readonly [RegExp, string]> = [
  [/^npm:/i, 'npm aliases (`npm:`) are'],
  [/^workspace:/i, 'workspace packages are'],
  [/^file:/i, LOCAL],
  [/^(?:\.|~[/\\]|[/\\]|[a-zA-Z]:)/, LOCAL],
  [/^https?:/i, 'tarball URLs are'],
  [/^(?:git(?:\+[a-z]+)?|ssh|github|gitlab|bitbucket|gist):/i, GIT],
  [/^git@/i, GIT],
];
const OTHER_RULES: ReadonlyArray<readonly [RegExp, string]> = [
  [/\.(?:tgz|tar\.gz|tar)$/i, LOCAL],
  [/^[a-z][a-z0-9+.-]*:\/\//i, OTHER_SOURCES],
  [/^[^@].*\//, GIT],
  [/:/, OTHER_SOURCES],
];

const VERSION = /^[v=]?(\d+\.\d+\.\d+(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)$/;
const TAG = /^[A-Za-z][A-Za-z0-9._-]*$/;
const RANGE_CHARS = /^[0-9a-zA-Z.*^~<>=|+\s-]+$/;
const PARTIAL = String.raw`v?(?:\d+|[xX*])(?:\.(?:\d+|[xX*])){0,2}(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?`;
const BARE = new RegExp(`^${PARTIAL}$`);
const COMPARATOR = new RegExp(`^(?:[<>]=?|=|~>?|\\^)?${PARTIAL}$`);

function rejectUnsupported(raw: string, part: string, rules: ReadonlyArray<readonly [RegExp, string]>): void {
  const reason = rules.find(([re]) => re.test(part))?.[1];
  if (reason === undefined) return;
  throw new LokError(
    'PACKAGE_SPEC_UNSUPPORTED',
    `Cannot run ${showInput(raw)}: ${reason} not supported yet; publish the package or use an npm registry name such as \`@scope/name@1.2.3\`.`,
    { exitCode: EXIT.usage, hint: 'Run `mcp-lok-npx --help` to see the package forms it accepts.' },
  );
}

/** Returns why a package name breaks npm's rules for new packages, or undefined when it is valid. */
export function findNameProblem(name: string): string | undefined {
  if (name === '') return 'it is empty';
  if (name.length > MAX_NAME_CHARS) return `it is longer than ${MAX_NAME_CHARS} characters`;
  const parts = name.startsWith('@') ? /^@([^/]+)\/([^/]+)$/.exec(name)?.slice(1) : [name];
  if (!parts) return 'a scoped name has the form `@scope/name`';
  // A leading `-` would reach npm inside the install container as an option.
  if (parts.some((p) => /^[._-]/.test(p))) return 'it cannot start with `.`, `_` or `-`';
  if (/[A-Z]/.test(name)) return 'it must be lowercase';
  if (!parts.every((p) => /^[a-z0-9._-]+$/.test(p))) return 'it may only contain lowercase letters, digits, `-`, `.` and `_`';
  if (name === 'node_modules' || name === 'favicon.ico') return 'it is a reserved name';
  return undefined;
}

/** Returns true when the text is a semver range such as `^1.2`, `>=1 <2`, `1.x || 2` or `1.0.0 - 2`. */
export function isSemverRange(text: string): boolean {
  if (!RANGE_CHARS.test(text)) return false;
  return text.split('||').every((set) => {
    const tokens = set.trim().replace(/([<>]=?|=|~>?|\^)\s+/g, '$1').split(/\s+/).filter(Boolean);
    if (tokens.length === 3 && tokens[1] === '-') return BARE.test(tokens[0] ?? '') && BARE.test(tokens[2] ?? '');
    return tokens.length > 0 && tokens.every((t) => COMPARATOR.test(t));
  });
}

function classifySelector(raw: string, selector: string): Pick<PackageSpec, 'selector' | 'kind'> {
  if (selector === '') return { selector: 'latest', kind: 'tag' };
  const version = selector.length <= MAX_SELECTOR_CHARS ? VERSION.exec(selector)?.[1] : undefined;
  if (version) return { selector: version, kind: 'version' };
  if (TAG.test(selector) && !/^v\d/i.test(selector) && !/^[xX](?:\.|$)/.test(selector)) return { selector, kind: 'tag' };
  if (selector.length <= MAX_SELECTOR_CHARS && isSemverRange(selector)) return { selector: selector.trim(), kind: 'range' };
  throw invalidInput(
    `${showInput(raw)} does not name a version: expected an exact version, a tag or a semver range after \`@\`.`,
    'Use a spec such as `name@1.2.3`, `name@latest` or `name@^1.2`.',
  );
}

/**
 * Returns the registry package a spec names (`name`, `name@1.2.3`, `@scope/name@^1`, `name@next`);
 * paths, git, tarball URLs, aliases and workspaces are refused before anything is installed.
 */
export function parsePackageSpec(spec: string): PackageSpec {
  rejectUnsupported(spec, spec, PREFIX_RULES);
  const at = spec.indexOf('@', 1);
  const name = at === -1 ? spec : spec.slice(0, at);
  const rest = at === -1 ? undefined : spec.slice(at + 1);
  if (rest !== undefined) rejectUnsupported(spec, rest, [...PREFIX_RULES, ...OTHER_RULES]);
  rejectUnsupported(spec, spec, OTHER_RULES);
  const problem = findNameProblem(name);
  if (problem) {
    throw invalidInput(`${showInput(spec)} is not a valid npm package name: ${problem}.`, 'Use a registry name such as `@scope/name@1.2.3`.');
  }
  return { raw: spec, name, ...classifySelector(spec, rest ?? '') };
}
