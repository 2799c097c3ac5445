import { usageError } from '../errors.js';
import { showInput } from './input-errors.js';
import { parseBoolean } from './option-values.js';
import { findOption, resolveLokOptions, type LokOptions, type RawLokValues } from './options.js';
import { parsePackageSpec, type PackageSpec } from './package-spec.js';

export type { EnvEntry, LokOptions } from './options.js';

/** What `mcp-lok-npx` was asked to do. */
export type NpxInvocation =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'run'; lok: LokOptions; yes: boolean | undefined; quiet: boolean; packages: PackageSpec[]; command: string | undefined; args: string[] };

const HELP_HINT = 'Run `mcp-lok-npx --help` to see the options.';
const NO_SHELL = 'mcp-lok-npx runs a package\'s bin in a sandbox, not shell commands';
const NO_WORKSPACE = 'mcp-lok-npx runs packages from the npm registry, not from workspaces';
const UNSUPPORTED_FLAGS: Readonly<Record<string, string>> = {
  '-c': NO_SHELL,
  '--call': NO_SHELL,
  '--shell-auto-fallback': NO_SHELL,
  '-w': NO_WORKSPACE,
  '--workspace': NO_WORKSPACE,
  '--workspaces': NO_WORKSPACE,
  '--include-workspace-root': NO_WORKSPACE,
};
const BIN_NAME = /^[A-Za-z0-9_][A-Za-z0-9._+-]{0,213}$/;

interface ParseState {
  raw: RawLokValues;
  yes: boolean | undefined;
  quiet: boolean;
  packages: string[];
  help: boolean;
  version: boolean;
}

function readFlagValue(flag: string, inline: string | undefined, takeNext: () => string | undefined): string {
  if (inline !== undefined) return inline;
  const next = takeNext();
  if (next === undefined || (next.startsWith('-') && next !== '-')) {
    throw usageError(`Missing the value of \`${flag}\`${next === undefined ? '' : ` (got the option ${showInput(next)})`}.`, HELP_HINT);
  }
  return next;
}

function applyFlag(state: ParseState, flag: string, inline: string | undefined, takeNext: () => string | undefined): void {
  const reason = UNSUPPORTED_FLAGS[flag];
  if (reason) throw usageError(`The npx option \`${flag}\` is not supported: ${reason}.`, HELP_HINT);
  const found = findOption(flag);
  if (!found) throw usageError(`Unknown option ${showInput(flag)}; mcp-lok options and npx options go before the package.`, HELP_HINT);
  const { key, def } = found;
  const value = def.value ? readFlagValue(flag, inline, takeNext) : inline ?? 'true';
  if (def.group !== 'mcp-lok' && !def.value && parseBoolean(value) === undefined) {
    throw usageError(`Expected \`${flag}\` to be \`true\` or \`false\`, got ${showInput(value)}.`, HELP_HINT);
  }
  const on = parseBoolean(value) === true;
  switch (key) {
    case 'yes': state.yes = on; break;
    case 'no': if (on) state.yes = false; break;
    case 'package': state.packages.push(value); break;
    case 'quiet': state.quiet = on; break;
    case 'help': state.help ||= on; break;
    case 'version': state.version ||= on; break;
    case 'loglevel': case 'cacheMode': break;
    default: (state.raw[key] ??= []).push(value);
  }
}

/** Returns the index of the first positional (the package, or the command with -p), after applying every flag before it. */
function readFlags(argv: readonly string[], state: ParseState): number {
  let i = 0;
  const takeNext = (): string | undefined => argv[++i];
  for (; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    if (arg === '--') return i + 1;
    if (!arg.startsWith('-') || arg === '-') return i;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      applyFlag(state, eq === -1 ? arg : arg.slice(0, eq), eq === -1 ? undefined : arg.slice(eq + 1), takeNext);
      continue;
    }
    // A cluster of short flags such as `-yq`; a flag that takes a value ends it (`-eTOKEN`, `-p pkg`).
    for (let j = 1; j < arg.length; j += 1) {
      const flag = `-${arg[j]}`;
      const glued = arg.slice(j + 1);
      const takesValue = findOption(flag)?.def.value !== undefined;
      applyFlag(state, flag, takesValue && glued !== '' ? glued.replace(/^=/, '') : undefined, takeNext);
      if (takesValue) break;
    }
  }
  return i;
}

function toCommand(positional: string): string {
  if (BIN_NAME.test(positional)) return positional;
  throw usageError(
    `Expected the command after the \`-p\` packages to be a bin name such as \`server-cli\`, got ${showInput(positional)}.`,
    'With `-p`, the first argument after the options names the bin to run; put versions on the package, as in `-p pkg@1.2.3 pkg-cli`.',
  );
}

/**
 * Returns the invocation npx's grammar describes: options only before the first positional (or `--`),
 * which is the package (or, with `-p`, the bin to run); everything after it goes to the server.
 */
export function parseNpxArgs(argv: string[], env: Readonly<Record<string, string | undefined>>): NpxInvocation {
  const state: ParseState = { raw: {}, yes: undefined, quiet: false, packages: [], help: false, version: false };
  const start = readFlags(argv, state);
  if (state.help) return { kind: 'help' };
  if (state.version) return { kind: 'version' };
  const lok = resolveLokOptions(state.raw, env);
  const [first, ...args] = argv.slice(start);
  const base = { kind: 'run', lok, yes: state.yes, quiet: state.quiet, args } as const;
  if (state.packages.length > 0) {
    return { ...base, packages: state.packages.map(parsePackageSpec), command: first === undefined ? undefined : toCommand(first) };
  }
  if (first === undefined) {
    throw usageError('Missing the package to run. Usage: mcp-lok-npx [options] <package>[@version] [args...]', HELP_HINT);
  }
  return { ...base, packages: [parsePackageSpec(first)], command: undefined };
}
