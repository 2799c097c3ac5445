import { LokError } from '../../src/errors.js';

/** Returns the LokError that `fn` throws; fails the test when it throws nothing or another error. */
export function catchError(fn: () => unknown): LokError {
  try {
    fn();
  } catch (error) {
    if (error instanceof LokError) return error;
    throw error;
  }
  throw new Error('expected a LokError');
}

/** Returns the LokError that `fn` rejects with; fails the test when it resolves or rejects with another error. */
export async function catchErrorAsync(fn: () => Promise<unknown>): Promise<LokError> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof LokError) return error;
    throw error;
  }
  throw new Error('expected a LokError');
}
