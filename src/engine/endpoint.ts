/** Where a Docker-API engine listens: a Unix socket or a TCP address. */
export type EngineEndpoint =
  | { kind: 'unix'; socketPath: string; source: string }
  | { kind: 'tcp'; host: string; port: number; tls: boolean; source: string };

/** Returns the endpoint as a user would write it in DOCKER_HOST. */
export function formatEndpoint(endpoint: EngineEndpoint): string {
  return endpoint.kind === 'unix'
    ? `unix://${endpoint.socketPath}`
    : `${endpoint.tls ? 'https' : 'tcp'}://${endpoint.host}:${endpoint.port}`;
}

/** Returns dockerode/docker-modem connection options for an endpoint. */
export function toModemOptions(
  endpoint: EngineEndpoint,
): { socketPath: string } | { host: string; port: number; protocol: 'http' | 'https' } {
  return endpoint.kind === 'unix'
    ? { socketPath: endpoint.socketPath }
    : { host: endpoint.host, port: endpoint.port, protocol: endpoint.tls ? 'https' : 'http' };
}
