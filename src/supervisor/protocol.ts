/** What `mcp-lok start` hands its supervisor on stdin (never argv: `-e` values can be secrets). */
export interface SupervisorRequest {
  /** `start`'s arguments with the chosen --name and --port first. */
  argv: string[];
  /** The arguments as the user typed them, kept to start it again. */
  userArgv: string[];
  /** How it was served before (a restart skips finding out). */
  mode?: 'proxy' | 'bridge' | undefined;
  /** Starting again from a record: keep the record when this start fails. */
  restart: boolean;
}

/** One line the supervisor sends `start` on descriptor 3 until the server is ready. */
export type SupervisorMessage =
  | { type: 'log'; line: string }
  | { type: 'ready'; name: string; url: string; mode: 'proxy' | 'bridge' }
  | { type: 'error'; message: string; hint?: string | undefined; code: string; exitCode: number };

/** The descriptor the supervisor reports on. */
export const REPORT_FD = 3;
