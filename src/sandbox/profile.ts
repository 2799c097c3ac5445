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
 * Returns the network a profile gets: none; none plus the egress proxy for an allowlist; or
 * (insecure_allow_all) the engine's bridge. An allowlist needs the proxy's socket mounted,
 * which only an engine on this machine's kernel allows: elsewhere it is refused rather than
 * widened to "anything" or narrowed to "nothing" without a word.
 */
export function decideNetwork(profile: Profile, name: string, canMountSockets: boolean): NetworkDecision {
  const { outbound } = profile;
  if (outbound.insecureAllowAll) {
    return { network: 'bridge', egress: undefined, relaxation: `profile ${name}: the server can reach any host on any port (insecure_allow_all; not for production).` };
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
