import { LokError } from '../errors.js';
import { machineNames } from '../http/machine-names.js';
import { keepLogRotated, logMaxBytes } from '../state/log-rotation.js';
import { currentOwner } from '../state/owner.js';
import { readRecord, removeRecord, serverLogPath, writeRecord, type ServerRecord } from '../state/records.js';
import type { Context } from './context.js';
import { serveHttp, type HttpServing, type ServeStatus } from './serve-http.js';
import type { SupervisorMessage, SupervisorRequest } from './supervisor-protocol.js';

/** Returns the time as records and the server's log write it. */
export function timestamp(): string {
  return new Date().toISOString();
}

/** A background server being served, until `stop`. */
export interface Supervised {
  name: string;
  /** Stops the listener and the server's containers, and records a clean stop. */
  stop: (signal: string) => Promise<void>;
}

/**
 * Serves one background server for its supervisor: keeps its record (what `list` reads) and
 * its log rotated, reports `ready` or `error` to the `start` that spawned it, and restarts a
 * crashed server (serve-http). Resolves once it is ready; undefined when it could not start.
 */
export async function superviseServer(ctx: Context, request: SupervisorRequest, send: (message: SupervisorMessage) => void, logOnly: (line: string) => void): Promise<Supervised | undefined> {
  const { spec } = request;
  const { state } = ctx.paths;
  const { name, port } = spec;
  keepLogRotated(serverLogPath(state, name), { maxBytes: logMaxBytes(ctx.env) });
  const record: ServerRecord = {
    name, spec, transport: spec.transport, host: spec.host, port,
    url: '', mode: request.mode, source: spec.sourceText, profile: spec.server.profile.name, allows: [],
    supervisor: currentOwner(), state: 'starting', restarts: readRecord(state, name)?.restarts ?? 0,
    startedAt: timestamp(), updatedAt: timestamp(),
  };
  const save = (): void => { record.updatedAt = timestamp(); writeRecord(state, record); };
  save();
  logOnly(`mcp-lok: starting ${name} (supervisor ${process.pid})`);
  let serving: HttpServing;
  try {
    serving = await serveHttp(ctx, {
      ...spec.server, quiet: false, launcher: 'start',
      transport: spec.transport, listen: { host: spec.host, port }, targetPort: spec.targetPort,
      mode: request.mode, extraNames: machineNames(spec.host), token: spec.token,
    }, (status: ServeStatus) => {
      record.state = status.state;
      if (status.sessions !== undefined) record.sessions = status.sessions;
      if (status.lastExit !== undefined) record.lastExit = status.lastExit;
      record.restarts = status.restarts;
      save();
    });
  } catch (error) {
    const e = error instanceof LokError ? error : undefined;
    logOnly(`mcp-lok: ${name} did not start: ${(error as Error).message}`);
    send({ type: 'error', message: (error as Error).message, hint: e?.hint, code: e?.code ?? 'INTERNAL', exitCode: e?.exitCode ?? 1 });
    if (request.restart) {
      Object.assign(record, { state: 'stopped', supervisor: undefined, lastExit: (error as Error).message });
      save();
    } else {
      removeRecord(state, name);
    }
    return undefined;
  }
  Object.assign(record, { url: serving.url, mode: serving.mode, allows: serving.plan.allows, profile: serving.plan.profileName, pinKey: serving.plan.prepared.pinned?.key });
  save();
  ctx.log(`mcp-lok: ${name} is ready at ${serving.url}`);
  send({ type: 'ready', name, url: serving.url, mode: serving.mode });
  let stopping: Promise<void> | undefined;
  return {
    name,
    stop: (signal) => {
      stopping ??= (async () => {
        ctx.log(`mcp-lok: stopping ${name} (${signal})`);
        await serving.close().finally(() => {
          // A clean stop leaves no exit to report.
          Object.assign(record, { state: 'stopped', supervisor: undefined, sessions: 0, lastExit: undefined });
          save();
          ctx.log(`mcp-lok: ${name} stopped`);
        });
      })();
      return stopping;
    },
  };
}
