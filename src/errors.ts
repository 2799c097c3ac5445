/** Exit codes scripts can rely on (STYLE.md habit 5). */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  /** The shim's own failures follow `docker run`: engine or runtime trouble. */
  engine: 125,
  /** The command exists but cannot be invoked. */
  cannotInvoke: 126,
  /** The package or its bin was not found. */
  notFound: 127,
} as const;

export type ErrorCode =
  | 'USAGE'
  | 'ENGINE_UNAVAILABLE'
  | 'ENGINE_ERROR'
  | 'IMAGE_BUILD_FAILED'
  | 'IMAGE_PUSH_FAILED'
  | 'PACKAGE_NOT_FOUND'
  | 'PACKAGE_SPEC_UNSUPPORTED'
  | 'INSTALL_FAILED'
  | 'INSTALL_REFUSED'
  | 'BIN_NOT_FOUND'
  | 'NAME_IN_USE'
  | 'PROFILE_INVALID'
  | 'INVALID_INPUT'
  | 'NOT_FOUND'
  | 'PORT_IN_USE'
  | 'SERVER_EXITED'
  | 'SERVER_TIMEOUT'
  | 'INTERRUPTED'
  | 'INTERNAL';

/**
 * The one error type: a short message for people, a string code for programs, the exit code
 * to leave with, and an optional hint saying what to do.
 */
export class LokError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  readonly hint: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { exitCode?: number; hint?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LokError';
    this.code = code;
    this.exitCode = options.exitCode ?? EXIT.failure;
    this.hint = options.hint;
  }
}

/** Returns a usage error (exit 2 for the manager; the shim maps it to 125). */
export function usageError(message: string, hint?: string): LokError {
  return new LokError('USAGE', message, { exitCode: EXIT.usage, ...(hint ? { hint } : {}) });
}
