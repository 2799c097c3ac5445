import { appendFileSync, chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { LokError, EXIT } from '../errors.js';
import type { Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { EGRESS_FORWARD_PORT, EGRESS_SOCKET } from '../bridge/fifo.js';
import type { Context } from '../context.js';
import { startEgressProxy, type EgressEntry } from '../egress/proxy.js';
import type { OutboundRules } from '../sandbox/profile-validate.js';

const PROXY_URL = `http://127.0.0.1:${EGRESS_FORWARD_PORT}`;

/** What a sandbox with an allowlist is told: its only way out is the proxy on its loopback. */
export const EGRESS_PROXY_ENV: Readonly<Record<string, string>> = {
  HTTP_PROXY: PROXY_URL,
  HTTPS_PROXY: PROXY_URL,
  http_proxy: PROXY_URL,
  https_proxy: PROXY_URL,
  // Node >= 24 (node:24-alpine) sends fetch through the proxy with this; npm reads its own.
  NODE_USE_ENV_PROXY: '1',
  npm_config_proxy: PROXY_URL,
  npm_config_https_proxy: PROXY_URL,
  NO_PROXY: 'localhost,127.0.0.1,::1',
  no_proxy: 'localhost,127.0.0.1,::1',
};

/** Returns this machine's own addresses: a sandbox never reaches them unless named by IP. */
export function listHostAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
}

/** Returns where a server's egress log is kept (JSON lines). */
export function egressLogPath(stateDir: string, server: string): string {
  return join(stateDir, 'egress', `${server}.jsonl`);
}

/** Returns a server's egress log entries, oldest first; NOT_FOUND when it has none. */
export function readEgressLog(stateDir: string, server: string): EgressEntry[] {
  let text: string;
  try {
    text = readFileSync(egressLogPath(stateDir, server), 'utf8');
  } catch {
    throw new LokError('NOT_FOUND', `No egress log for "${server}": it never had an outbound allowlist, or made no attempt.`, { exitCode: EXIT.failure });
  }
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as EgressEntry);
}

/**
 * Starts the egress proxy for one sandbox on a socket beside its pipes, logging every attempt,
 * and telling the user on stderr, for each refusal, the profile change that would allow it.
 */
export async function startSandboxEgress(
  ctx: Context,
  options: { dir: string; rules: OutboundRules; server: string; profile: string; announce?: boolean },
): Promise<Server> {
  const logPath = egressLogPath(ctx.paths.state, options.server);
  mkdirSync(join(ctx.paths.state, 'egress'), { recursive: true, mode: 0o700 });
  const record = (entry: EgressEntry): void => {
    try { appendFileSync(logPath, `${JSON.stringify(entry)}\n`); } catch { /* the log must not break the server */ }
    if (!entry.allowed) (options.announce === false ? ctx.debug : ctx.log)(`mcp-lok: egress denied: ${entry.reason ?? `${entry.host}:${entry.port}`}; to allow it, ${entry.fix ?? 'change the profile'} in profile ${options.profile}.`);
  };
  const socketPath = join(options.dir, EGRESS_SOCKET);
  const server = await startEgressProxy({ socketPath, rules: options.rules, hostAddresses: listHostAddresses(), record });
  // The sandbox user is not ours; the pipes' 0700 parent keeps other host users out.
  chmodSync(socketPath, 0o666);
  server.unref();
  return server;
}
