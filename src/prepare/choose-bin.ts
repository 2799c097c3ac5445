import { EXIT, LokError } from '../errors.js';

/** The executable npx would run: which package provides it, its name, and its path inside the package. */
export interface ChosenBin {
  pkg: string;
  binName: string;
  binPath: string;
}

function unscoped(name: string): string {
  return name.replace(/^@[^/]+\//, '');
}

function isSafeBinName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !/[/\\:\u0000-\u001f]/.test(name);
}

// A bin path that leaves the package directory could point the run phase at anything in the tree.
function normalizeBinPath(path: string): string | undefined {
  const segments = path.replace(/\\/g, '/').split('/');
  if (path === '' || /^(?:[/\\]|[a-zA-Z]:)/.test(path) || segments.includes('..') || /[\u0000-\u001f]/.test(path)) return undefined;
  const kept = segments.filter((s) => s !== '' && s !== '.');
  return kept.length > 0 ? kept.join('/') : undefined;
}

/**
 * Returns package.json's `bin` as a map of bin name to relative path (a string names one bin after the
 * unscoped package); entries with unsafe names or paths that escape the package are dropped.
 */
export function normalizeBinField(name: string, bin: unknown): Record<string, string> {
  const raw: Array<[string, unknown]> = typeof bin === 'string'
    ? [[unscoped(name), bin]]
    : bin !== null && typeof bin === 'object' && !Array.isArray(bin) ? Object.entries(bin) : [];
  const entries = raw.flatMap(([binName, path]): Array<[string, string]> => {
    const safePath = typeof path === 'string' ? normalizeBinPath(path) : undefined;
    return isSafeBinName(binName) && safePath !== undefined ? [[binName, safePath]] : [];
  });
  // fromEntries defines own properties, so a bin named `__proto__` stays a plain key.
  return Object.fromEntries(entries);
}

function listBins(pkgs: ReadonlyArray<{ name: string; bin: Record<string, string> }>): string {
  const all = pkgs.flatMap((p) => Object.keys(p.bin).map((b) => `${b} (${p.name})`));
  return all.length > 0 ? all.join(', ') : 'none';
}

/**
 * Returns the bin to run by npx's rule: the named command from the first package that has it; without
 * one, the first package's only bin, or the bin named like the package without its scope.
 */
export function chooseBin(pkgs: Array<{ name: string; bin: Record<string, string> }>, command: string | undefined): ChosenBin {
  if (command !== undefined) {
    const owner = pkgs.find((p) => Object.hasOwn(p.bin, command));
    const binPath = owner?.bin[command];
    if (owner && binPath !== undefined) return { pkg: owner.name, binName: command, binPath };
    throw new LokError('BIN_NOT_FOUND', `No executable named \`${command}\` in ${pkgs.map((p) => p.name).join(', ')}; available: ${listBins(pkgs)}.`, {
      exitCode: EXIT.notFound,
      hint: 'Name one of them after the packages: `-p <package> <bin>`.',
    });
  }
  const first = pkgs[0];
  if (!first) throw new LokError('INTERNAL', 'No package to choose a bin from.');
  const names = Object.keys(first.bin);
  const only = names.length === 1 ? names[0] : undefined;
  const chosen = only ?? (Object.hasOwn(first.bin, unscoped(first.name)) ? unscoped(first.name) : undefined);
  const binPath = chosen === undefined ? undefined : first.bin[chosen];
  if (chosen !== undefined && binPath !== undefined) return { pkg: first.name, binName: chosen, binPath };
  if (names.length === 0) {
    throw new LokError('BIN_NOT_FOUND', `Package ${first.name} has no executable (no \`bin\` in its package.json), so there is nothing to run.`, {
      exitCode: EXIT.notFound,
      hint: 'Check the package name: MCP servers on npm provide a bin.',
    });
  }
  throw new LokError('BIN_NOT_FOUND', `Package ${first.name} has several executables and none is named ${unscoped(first.name)}: ${names.join(', ')}.`, {
    exitCode: EXIT.notFound,
    hint: `Choose one with \`-p <package> <bin>\`, as in \`mcp-lok-npx -p ${first.name} ${names[0] ?? '<bin>'}\`.`,
  });
}
