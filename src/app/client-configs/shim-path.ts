import { realpathSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { EXIT, LokError } from '../../errors.js';
import type { ShimCommand } from './entry-plan.js';
import { PACKAGE_ROOT } from '../../package-root.js';

/** Where this mcp-lok's own mcp-lok-npx is: bin/ beside dist/. */
export const OWN_SHIM = join(PACKAGE_ROOT, 'bin', 'mcp-lok-npx');

/** Where mcp-lok-npx is, as a config should name it, and what PATH says about it. */
export interface ShimLocation {
  shim: ShimCommand;
  /** The file itself (this mcp-lok's bin/mcp-lok-npx). */
  file: string;
  /** The first mcp-lok-npx on PATH, and whether it is this one. */
  onPath: { path: string; same: boolean } | undefined;
}

/**
 * Returns how configs should start mcp-lok-npx: by an absolute path (desktop clients start
 * servers with a bare PATH), preferring the link npm put on PATH when it leads to this copy,
 * since that link survives upgrades; on Windows, node.exe with the script (a .cmd cannot be
 * started without a shell). Pure: the file system answers come in `facts`.
 */
export function chooseShimCommand(facts: { file: string; real: string | undefined; onPath: Array<{ path: string; real: string | undefined }>; platform: NodeJS.Platform; execPath: string }): ShimLocation {
  if (/[\\/]_npx[\\/]/.test(facts.file)) {
    throw new LokError('INVALID_INPUT', 'This mcp-lok runs from npx\'s cache, which npm may clear at any time: a config naming its mcp-lok-npx would break.', {
      exitCode: EXIT.usage, hint: 'Install it first (`npm install -g mcp-lok`), then run `mcp-lok wrap`.',
    });
  }
  const first = facts.onPath[0];
  const same = first !== undefined && facts.real !== undefined && first.real === facts.real;
  const onPath = first ? { path: first.path, same } : undefined;
  if (facts.platform === 'win32') return { shim: { command: facts.execPath, prefix: [facts.file] }, file: facts.file, onPath };
  return { shim: { command: same && first ? first.path : facts.file, prefix: [] }, file: facts.file, onPath };
}

function realOrUndefined(path: string): string | undefined {
  try { return realpathSync(path); } catch { return undefined; }
}

/** Returns where this mcp-lok's mcp-lok-npx is and how configs should name it (see chooseShimCommand). */
export function locateShim(env: Readonly<Record<string, string | undefined>>, platform: NodeJS.Platform): ShimLocation {
  const names = platform === 'win32' ? ['mcp-lok-npx.cmd', 'mcp-lok-npx'] : ['mcp-lok-npx'];
  const onPath = (env.PATH ?? env.Path ?? '').split(delimiter).filter((dir) => dir !== '' && isAbsolute(dir)).flatMap((dir) => names.map((n) => join(dir, n)))
    .filter((path) => { try { return statSync(path).isFile(); } catch { return false; } })
    .map((path) => ({ path, real: realOrUndefined(path) }));
  return chooseShimCommand({ file: OWN_SHIM, real: realOrUndefined(OWN_SHIM), onPath, platform, execPath: process.execPath });
}
