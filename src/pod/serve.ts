// The entry point of a package image (`mcp-lok image build --push REF npx://PKG`) in a pod:
// serves the package's stdio MCP server over streamable HTTP or SSE with mcp-lok's session
// bridge, one server process per client session. There is no engine in a pod, so a session's
// server is a child process in the pod's one sandbox, not a container of its own. Settings
// come from MCP_LOK_POD_* (pod/config.ts); the container's arguments are the server's.
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { fileURLToPath } from 'node:url';
import { LokError } from '../errors.js';
import { startStdioBridge } from '../http/session-bridge/bridge.js';
import { processBackend } from '../http/session-bridge/process-backend.js';
import { readPodServeConfig, serverEnv } from './config.js';
import { readServerRecord, type PodServerRecord } from './record.js';

/** The image's record of what to run, written by `image build` beside this code. */
const RECORD_PATH = fileURLToPath(new URL('../../server.json', import.meta.url));
const HOME = '/home/node';

const log = (line: string): void => { process.stderr.write(`mcp-lok pod: ${line}\n`); };

function fail(error: unknown): never {
  const text = error instanceof LokError ? `${error.message}${error.hint ? ` ${error.hint}` : ''}` : error instanceof Error ? error.message : String(error);
  log(text);
  process.exit(1);
}

/** The pod's own addresses: a request naming one (a probe, a client given the pod's IP) names this server, not a rebinding page. */
function ownAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address.replace(/%.*$/, '')));
}

async function main(): Promise<void> {
  const config = readPodServeConfig(process.env);
  let record: PodServerRecord;
  try { record = readServerRecord(readFileSync(RECORD_PATH, 'utf8')); } catch (error) { fail(error); }
  const [command, ...prefix] = record.command;
  if (command === undefined) fail(new Error(`${RECORD_PATH} names no command`));
  const bridge = await startStdioBridge({
    transport: config.transport,
    listen: { host: '0.0.0.0', port: config.port },
    extraNames: [...config.allowedHosts, ...ownAddresses()],
    anyPort: true,
    token: config.token,
    openBackend: processBackend({
      command, args: [...prefix, ...process.argv.slice(2)], env: { ...serverEnv(process.env), HOME }, cwd: HOME,
      onStderr: (chunk) => { process.stderr.write(chunk); }, log,
    }),
    log,
  });
  log(`serving ${record.packages.map((p) => `${p.name}@${p.version}`).join(' ')} over ${config.transport} on port ${bridge.port} (${config.transport === 'sse' ? '/sse' : '/mcp'}), ${config.token ? 'bearer token required' : 'no token'}, Host: ${['localhost', ...config.allowedHosts].join(', ')}`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    log('stopping: closing every session');
    void bridge.close().then(() => process.exit(0), fail);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch(fail);
