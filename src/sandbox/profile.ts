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
 * Returns the network a profile gets. The sandbox itself never has a network when mcp-lok's
 * egress proxy can be mounted (an engine on this machine's kernel): an allowlist, and even
 * insecure_allow_all, go through the proxy, which never reaches this machine, private
 * networks or cloud metadata unless named by IP. Where the proxy cannot be mounted, an
 * allowlist is refused (not widened or dropped without a word) and insecure_allow_all uses
 * the engine's network, saying what that reaches.
 */
export function decideNetwork(profile: Profile, name: string, canMountSockets: boolean): NetworkDecision {
  const { outbound } = profile;
  if (outbound.insecureAllowAll) {
    if (canMountSockets) {
      return { network: 'none', egress: outbound, relaxation: `profile ${name}: the server can reach any public host on any port through mcp-lok's egress proxy (insecure_allow_all; not for production).` };
    }
    return { network: 'bridge', egress: undefined, relaxation: `profile ${name}: the server can reach any host on any port over the engine's network, including this machine and cloud metadata (insecure_allow_all; this engine cannot mount mcp-lok's egress proxy).` };
  }
  if (outbound.hosts.length > 0) {
    if (!canMountSockets) {
      throw new LokError('PROFILE_INVALID', `Profile ${name}: outbound allowlists need an engine on this machine's kernel (Docker Engine or Podman on Linux) in this version.`, { exitCode: EXIT.usage, hint: 'Remove allow_host/allow_port, or set insecure_allow_all (any host, visibly).' });
    }
    const ports = outbound.ports.join(', ');
    return { network: 'none', egress: outbound, relaxation: `profile ${name}: the server can reach ${outbound.hosts.join(', ')} on port${outbound.ports.length > 1 ? 's' : ''} ${ports}, through mcp-lok's egress proxy.` };
  }
  return { network: 'none', egress: undefined, relaxation: undefined };
}
