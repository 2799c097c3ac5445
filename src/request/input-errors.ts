import { isAbsolute, resolve } from 'node:path';
import { EXIT, LokError } from '../errors.js';

const MAX_SHOWN_CHARS = 80;

/** Returns user input in backticks for an error message: one line, control characters escaped, long input cut. */
export function showInput(value: string): string {
  // A hostile argument must not forge extra lines or terminal escapes in our stderr.
  const escaped = value.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const cut = escaped.length > MAX_SHOWN_CHARS ? `${escaped.slice(0, MAX_SHOWN_CHARS)}…` : escaped;
  return `\`${cut}\``;
}

/** Returns an INVALID_INPUT error that exits like a usage error. */
export function invalidInput(message: string, hint?: string): LokError {
  return new LokError('INVALID_INPUT', message, { exitCode: EXIT.usage, ...(hint ? { hint } : {}) });
}

/**
 * Returns a path made absolute against the working folder, refusing a relative one when that
 * folder is `/`: desktop clients start servers there, so `./profile.json` would silently mean
 * `/profile.json`, whatever folder the user had in mind.
 */
export function resolveAgainstCwd(path: string, cwd: string, what: string, hint = 'Give its absolute path.'): string {
  if (isAbsolute(path)) return path;
  if (cwd === '/') {
    throw invalidInput(`The ${what} path ${showInput(path)} is relative, but the working folder is / (desktop clients start servers there): mcp-lok does not read it as ${showInput(resolve('/', path))}.`, hint);
  }
  return resolve(cwd, path);
}
