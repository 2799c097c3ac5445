/**
 * Where a Docker-API engine listens: a Unix socket or a TCP address, and the API version
 * agreed with it (see `negotiateApiVersion`).
 */
export type EngineEndpoint =
  | ({ kind: 'unix'; socketPath: string } & EndpointFacts)
  | ({ kind: 'tcp'; host: string; port: number; tls: boolean } & EndpointFacts);

/** What discovery learns about an endpoint. */
export interface EndpointFacts {
  source: string;
  apiVersion?: string;
  /** Podman's Docker-compatible service (it needs its own process limit set; see the builder). */
  podman?: boolean;
}

/** The newest Engine API version mcp-lok's requests are written and tested against. */
export const MAX_API_VERSION = '1.47';

function compareVersions(a: string, b: string): number {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am - bm || an - bn;
}

/**
 * Returns the API version to speak: the engine's own when it is older than ours (Docker 20.10
 * speaks 1.41), else ours (Docker 29 refuses anything below 1.44). Undefined: unversioned.
 */
export function negotiateApiVersion(engineVersion: string | undefined): string | undefined {
  if (!engineVersion || !/^\d+\.\d+$/.test(engineVersion)) return undefined;
  return compareVersions(engineVersion, MAX_API_VERSION) < 0 ? engineVersion : MAX_API_VERSION;
}

/** Returns the endpoint as a user would write it in DOCKER_HOST. */
export function formatEndpoint(endpoint: EngineEndpoint): string {
  return endpoint.kind === 'unix'
    ? `unix://${endpoint.socketPath}`
    : `${endpoint.tls ? 'https' : 'tcp'}://${endpoint.host}:${endpoint.port}`;
}
