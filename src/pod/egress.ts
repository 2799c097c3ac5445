// The entry point of the egress proxy image (`mcp-lok image build --push REF --egress-proxy`)
// in a pod: mcp-lok's own egress proxy with the same checks as on a machine (names resolved by
// the proxy; private, loopback, link-local, metadata and cluster addresses refused unless
// allow_host names the IP), on TCP for the server pods its NetworkPolicy lets in. Rules come
// from MCP_LOK_EGRESS_RULES (pod/config.ts); each attempt is one JSON line on stdout.
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { LokError } from '../errors.js';
import { startEgressProxy, type EgressEntry } from '../egress/proxy.js';
import { parseRouteGateways, readPodEgressConfig } from './config.js';

const log = (line: string): void => { process.stderr.write(`mcp-lok egress: ${line}\n`); };

function read(path: string): string {
  try { return readFileSync(path, 'utf8'); } catch { return ''; }
}

async function main(): Promise<void> {
  let config;
  try {
    config = readPodEgressConfig(process.env);
  } catch (error) {
    const text = error instanceof LokError ? `${error.message}${error.hint ? ` ${error.hint}` : ''}` : String(error);
    log(text);
    process.exit(1);
  }
  // The pod's own addresses and its gateway (the node): never reachable unless named by IP.
  const own = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address.replace(/%.*$/, '')));
  const hostAddresses = [...new Set([...own, ...parseRouteGateways(read('/proc/net/route'), read('/proc/net/ipv6_route'))])];
  const record = (entry: EgressEntry): void => { process.stdout.write(`${JSON.stringify(entry)}\n`); };
  const server = await startEgressProxy({ socketPath: { host: '0.0.0.0', port: config.port }, rules: config.rules, hostAddresses, record });
  const allowed = config.rules.insecureAllowAll ? 'any host and port (insecure_allow_all)' : config.rules.hosts.length === 0 ? 'nothing' : `${config.rules.hosts.join(', ')} on ${config.rules.ports.join(', ')}`;
  log(`listening on port ${config.port}; allows ${allowed}`);
  const stop = (): void => { server.close(() => process.exit(0)); setTimeout(() => process.exit(0), 2000).unref(); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error: unknown) => {
  log(`cannot start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
