import type { Readable, Writable } from 'node:stream';
import type { LokPaths } from '../state/paths.js';

/** What a command may touch: streams, environment, paths and clock. Tests build their own. */
export interface Context {
  env: Readonly<Record<string, string | undefined>>;
  home: string;
  stdin: Readable;
  /**
   * The process's own stdio descriptors, when the streams are the real process's: the
   * named-pipe bridge relays them outside Node. Reading `stdin` first would break that.
   */
  stdioFds?: { stdin: number; stdout: number };
  stdout: Writable;
  stderr: Writable;
  /** stderr's descriptor when it is the process's own, for relays that bypass Node. */
  stderrFd?: number;
  paths: LokPaths;
  now: () => number;
  /** One line of progress or notice for people, on stderr. */
  log: (line: string) => void;
  /** Detail shown only with --debug. */
  debug: (line: string) => void;
}
