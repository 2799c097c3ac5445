// What the egress suites share: the fixture registry, and a web server on the engine's bridge
// gateway (a private address, reachable only when a profile names that IP).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { engineRequest } from '../../src/engine/http.js';
import { ENGINE, bridgeGateway } from './harness.js';
import { startFixtureRegistry, type FixtureRegistry } from './registry.js';

export interface EgressWorld {
  registry: FixtureRegistry;
  gateway: string;
  /** The web server's port on the gateway; it answers `hello egress`. */
  port: number;
  close: () => Promise<void>;
}

/** Starts the registry and the web server; `close` also removes the fixture installs named by `packages`. */
export async function startEgressWorld(packages: RegExp): Promise<EgressWorld> {
  const registry = await startFixtureRegistry();
  const gateway = await bridgeGateway();
  const web = createServer((_req, res) => res.end('hello egress'));
  await new Promise<void>((resolve) => web.listen(0, gateway, resolve));
  const close = async (): Promise<void> => {
    await registry.close();
    await new Promise((resolve) => web.close(resolve));
    // Installs from this run's registry (its port is in their key) are of no use to any other run.
    const filters = encodeURIComponent(JSON.stringify({ label: ['mcp-lok=true', 'mcp-lok-kind=packages'] }));
    const volumes = (await engineRequest<{ Volumes: Array<{ Name: string; Labels: Record<string, string> }> | null }>(ENGINE, 'GET', `/volumes?filters=${filters}`)).body.Volumes ?? [];
    for (const v of volumes) if (packages.test(v.Labels['mcp-lok-package'] ?? '')) await engineRequest(ENGINE, 'DELETE', `/volumes/${v.Name}`);
  };
  return { registry, gateway, port: (web.address() as AddressInfo).port, close };
}
