import { escapeControl } from './control-chars.js';
import { LokError } from './errors.js';

const SECRET_PATTERNS: RegExp[] = [
  /(npm_[A-Za-z0-9]{20,})/g,
  /(_authToken=)[^\s]+/g,
  /(\/\/[^:/\s]+:)[^@\s]+@/g,
  /((?:token|password|secret|apikey|api_key)=)[^\s&]+/gi,
];

/** Returns the text with anything that looks like a credential replaced by `***`. */
export function redactSecrets(text: string): string {
  return SECRET_PATTERNS.reduce((t, re) => t.replace(re, (_m, keep: string) => `${keep.startsWith('npm_') ? '' : keep}***`), text);
}

/**
 * Returns the one line (message and hint; the stack only with --debug) to print for an error, and the exit
 * code; unexpected errors become INTERNAL with a pointer to --debug.
 */
export function formatError(error: unknown, prog: string, debug: boolean): { text: string; exitCode: number } {
  if (error instanceof LokError) {
    // Text from outside (npm's, a registry's, a server's) can carry terminal escapes: the line shows them as escapes.
    const lines = [`${prog}: ${escapeControl(redactSecrets(error.hint ? `${error.message} ${error.hint}` : error.message))}`];
    if (debug && error.cause) lines.push(redactSecrets(String((error.cause as Error).stack ?? error.cause)));
    return { text: lines.join('\n'), exitCode: error.exitCode };
  }
  const message = error instanceof Error ? error.message : String(error);
  const lines = [`${prog}: internal error: ${escapeControl(redactSecrets(message))}${debug ? '' : ' Run again with --debug for details, and report it if it persists.'}`];
  if (debug && error instanceof Error && error.stack) lines.push(redactSecrets(error.stack));
  return { text: lines.join('\n'), exitCode: 1 };
}
