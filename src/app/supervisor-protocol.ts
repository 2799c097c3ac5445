import type { HttpTransport, ServeMode } from './serve-http.js';
import type { ServerRequest } from '../request/server-request.js';

/**
 * Everything a background server is: the typed request its front end built (CLI `start` or
 * the management server's `start_server`), the name and port chosen for it, and its token.
 * The supervisor runs exactly this, and a later `start NAME` reuses it from the record: no
 * argv is parsed again, so no string from a client or an agent is ever read as an option.
 */
export interface BackgroundSpec {
  name: string;
  /** The server source as given (for `list`). */
  sourceText: string;
  server: ServerRequest;
  transport: HttpTransport;
  host: string;
  port: number;
  /** The port the server listens on in its sandbox, if it speaks HTTP itself. */
  targetPort: number | undefined;
  /** Clients must send `Authorization: Bearer <token>` when set (always beyond loopback). */
  token: string | undefined;
}

/** What `start` hands its supervisor on stdin (never argv: variables can be secrets). */
export interface SupervisorRequest {
  spec: BackgroundSpec;
  /** How it was served before (a restart skips finding out). */
  mode?: ServeMode | undefined;
  /** Starting again from a record: keep the record when this start fails. */
  restart: boolean;
}

/** One line the supervisor sends `start` on descriptor 3 until the server is ready. */
export type SupervisorMessage =
  | { type: 'log'; line: string }
  | { type: 'ready'; name: string; url: string; mode: ServeMode }
  | { type: 'error'; message: string; hint?: string | undefined; code: string; exitCode: number };

/** The descriptor the supervisor reports on. */
export const REPORT_FD = 3;

/** The durations of a request that may be `never` (Infinity), which JSON writes as null. */
export const NEVER_KEYS: ReadonlySet<string> = new Set(['refreshAfterMs', 'updateCheckMs']);

/** Returns the request `start` wrote on the supervisor's stdin. JSON has no Infinity: `--refresh-after never` arrives as null. */
export function parseSupervisorRequest(text: string): SupervisorRequest {
  return JSON.parse(text, (key, value: unknown) => (NEVER_KEYS.has(key) && value === null ? Infinity : value)) as SupervisorRequest;
}
