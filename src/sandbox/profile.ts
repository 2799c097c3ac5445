import type { Profile } from './profile-validate.js';

/** How a profile's network rules are carried out by this version. */
export interface NetworkDecision {
  /** The sandbox's own network: always none. */
  network: 'none';
  /** Outbound allowlist, enforced by mcp-lok's egress proxy (the sandbox itself has no network). */
  egress: Profile['outbound'] | undefined;
  /** A line saying how the profile relaxes the default sandbox, shown on stderr. */
  relaxation: string | undefined;
}

/**
 * Returns the network a profile gets. The sandbox itself never has a network: an allowlist, and
 * even insecure_allow_all, go through mcp-lok's egress proxy, which never reaches this machine,
 * private networks or cloud metadata unless named by IP. That holds for a server from any
 * source: an npm package runs the proxy's forwarder in our own image, and a server image joins
 * a sidecar that runs it on the loopback they share.
 */
export function decideNetwork(profile: Profile, name: string): NetworkDecision {
  const { outbound } = profile;
  if (outbound.insecureAllowAll) {
    return { network: 'none', egress: outbound, relaxation: `profile ${name}: the server can reach any public host on any port through mcp-lok's egress proxy (insecure_allow_all; not for production).` };
  }
  if (outbound.hosts.length > 0) {
    const ports = outbound.ports.join(', ');
    return { network: 'none', egress: outbound, relaxation: `profile ${name}: the server can reach ${outbound.hosts.join(', ')} on port${outbound.ports.length > 1 ? 's' : ''} ${ports}, through mcp-lok's egress proxy.` };
  }
  return { network: 'none', egress: undefined, relaxation: undefined };
}
