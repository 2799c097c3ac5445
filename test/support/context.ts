import { PassThrough } from 'node:stream';
import type { Context } from '../../src/app/context.js';
import { getPaths } from '../../src/state/paths.js';

/** Returns a context for unit tests: memory streams, the given home, and no engine unless given. */
export function testContext(overrides: Partial<Context> & { home: string }): Context {
  return {
    env: {},
    cwd: overrides.home,
    platform: process.platform,
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    paths: getPaths({ MCP_LOK_HOME: overrides.home }),
    now: Date.now,
    color: false,
    log: () => {},
    debug: () => {},
    engine: () => Promise.reject(new Error('no engine in this test')),
    swept: () => Promise.resolve(),
    ...overrides,
  };
}
