import { createServer, type AddressInfo } from 'node:net';
import { listenerUrl, type ListenPolicy } from '../host-check.js';
import { MAX_CONNECTIONS, UncheckedConnections } from '../connection-guard.js';
import type { MessageHooks } from './messages.js';
import { SpliceConnection, type SpliceTimeouts, type Upstream } from './splice-connection.js';

export type { MessageHooks, JsonRpcErrorBody } from './messages.js';
export { createEndpointRewriter, ENDPOINT_SCAN_LIMIT_BYTES, type EndpointRewriter } from './endpoint-rewriter.js';
export { IDLE_TIMEOUT_MS, REQUEST_HEAD_TIMEOUT_MS, REQUEST_TIMEOUT_MS, type SpliceTimeouts, type Upstream } from './splice-connection.js';

export interface ReverseProxyOptions {
  /** Where to listen; port 0 picks a free one. */
  listen: { host: string; port: number };
  /** Undefined while the server is not ready yet (requests get 503). */
  upstream: Upstream | undefined;
  /** Host header value sent upstream, e.g. `localhost:8080` (the server may check it). */
  upstreamHost: string;
  /** Extra host names accepted in Host and Origin (see `ListenPolicy.extraNames`). */
  extraNames?: readonly string[];
  /** Every request must carry `Authorization: Bearer <token>` (taken off before the server sees the request). */
  token?: string | undefined;
  /** One line per finished request (method, path, status, ms) and per upstream failure. */
  log?: (line: string) => void;
  /** Where request lines go instead of `log`, if given (failures stay in `log`). */
  logRequest?: (line: string) => void;
  /** Shorter slow-request and idle limits, for tests (see SpliceTimeouts for the defaults). */
  timeouts?: Partial<SpliceTimeouts>;
  /** Tool pinning: what the proxy does with the JSON-RPC messages in MCP bodies (none: bytes are only copied). */
  hooks?: MessageHooks | undefined;
}

export interface ReverseProxy {
  /** The bound port. */
  readonly port: number;
  /** The proxy's own address, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  /** Swaps the upstream for connections opened from now on (the supervisor does this when it restarts a container). */
  setUpstream(upstream: Upstream | undefined): void;
  /** Stops listening and destroys open connections, SSE streams included. */
  close(): Promise<void>;
}

/**
 * Starts an HTTP reverse proxy in front of an MCP server that speaks SSE or streamable HTTP.
 * Each client connection is spliced to one upstream connection of its own; only request heads
 * are parsed and rewritten, so the proxy costs little more than copying bytes. Every request
 * must name this listener in Host and Origin, which stops DNS rebinding: a web page whose name
 * resolves to 127.0.0.1 cannot reach the server through it.
 */
export async function startReverseProxy(options: ReverseProxyOptions): Promise<ReverseProxy> {
  const policy: ListenPolicy = { host: options.listen.host, port: 0, extraNames: options.extraNames, token: options.token };
  let upstream = options.upstream;
  const spliceOptions = {
    policy, upstreamHost: options.upstreamHost, currentUpstream: () => upstream, log: options.log, logRequest: options.logRequest ?? options.log,
    timeouts: options.timeouts, hooks: options.hooks,
  };
  const connections = new Set<SpliceConnection>();

  const unchecked = new UncheckedConnections();
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    unchecked.add(socket);
    const connection = new SpliceConnection(socket, spliceOptions, () => connections.delete(connection), () => unchecked.passed(socket));
    connections.add(connection);
  });
  server.maxConnections = MAX_CONNECTIONS;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listen.port, options.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  policy.port = port;

  return {
    port,
    url: listenerUrl(options.listen.host, port),
    setUpstream(next) { upstream = next; },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const connection of connections) connection.destroy();
    }),
  };
}
