import { LokError, EXIT } from '../errors.js';
import type { Profile } from './profile-validate.js';

/** How a profile's network rules are carried out by this version. */
export interface NetworkDecision {
  network: 'none' | 'bridge';
  /** Outbound allowlist, enforced by mcp-lok's egress proxy (the sandbox itself has no network). */
  egress: Profile['outbound'] | undefined;
  /** A line saying how the profile relaxes the default sandbox, shown on stderr. */
  relaxation: string | undefined;
}

/**
 * Returns the network a profile gets. When mcp-lok's egress proxy can be offered (a server
 * from an npm package, run in our own image: on this machine's kernel the proxy's socket is
 * mounted, elsewhere the proxy runs in a sidecar), the sandbox itself never has a network: an
 * allowlist, and even insecure_allow_all, go through the proxy, which never reaches this
 * machine, private networks or cloud metadata unless named by IP. Where it cannot (an image
 * of any kind may have no shell or node for the forwarder), an allowlist is refused (not
 * widened or dropped without a word) and insecure_allow_all uses the engine's network,
 * saying what that reaches.
 */
export function decideNetwork(profile: Profile, name: string, canOfferProxy: boolean): NetworkDecision {
  const { outbound } = profile;
  if (outbound.insecureAllowAll) {
    if (canOfferProxy) {
      return { network: 'none', egress: outbound, relaxation: `profile ${name}: the server can reach any public host on any port through mcp-lok's egress proxy (insecure_allow_all; not for production).` };
    }
    return { network: 'bridge', egress: undefined, relaxation: `profile ${name}: the server can reach any host on any port over the engine's network, including this machine and cloud metadata (insecure_allow_all; mcp-lok's egress proxy needs a server from an npm package).` };
  }
  if (outbound.hosts.length > 0) {
    if (!canOfferProxy) {
      throw new LokError('PROFILE_INVALID', `Profile ${name}: outbound allowlists need a server from an npm package (mcp-lok-npx, or npx://PACKAGE) in this version; an image may have no shell or node for mcp-lok's egress forwarder.`, { exitCode: EXIT.usage, hint: 'Run the server from its npm package, or remove allow_host/allow_port, or set insecure_allow_all (any host, visibly).' });
    }
    const ports = outbound.ports.join(', ');
    return { network: 'none', egress: outbound, relaxation: `profile ${name}: the server can reach ${outbound.hosts.join(', ')} on port${outbound.ports.length > 1 ? 's' : ''} ${ports}, through mcp-lok's egress proxy.` };
  }
  return { network: 'none', egress: undefined, relaxation: undefined };
}
