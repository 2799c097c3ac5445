import { LokError, EXIT } from '../errors.js';
import type { Profile } from './profile-validate.js';

/** How a profile's network rules are carried out by this version. */
export interface NetworkDecision {
  network: 'none' | 'bridge';
  /** A line saying how the profile relaxes the default sandbox, shown on stderr. */
  relaxation: string | undefined;
}

/**
 * Returns the network a profile gets: none, or (insecure_allow_all) the engine's bridge.
 * Host allowlists need the egress proxy, which this version lacks: they are refused rather
 * than widened to "anything" or narrowed to "nothing" without a word.
 */
export function decideNetwork(profile: Profile, name: string): NetworkDecision {
  const { outbound } = profile;
  if (outbound.hosts.length > 0) {
    throw new LokError('PROFILE_INVALID', `Profile ${name}: outbound allowlists (allow_host) need mcp-lok's egress proxy, which this version does not have yet.`, { exitCode: EXIT.usage, hint: 'Remove allow_host/allow_port, or set insecure_allow_all (any host, visibly).' });
  }
  if (outbound.insecureAllowAll) {
    return { network: 'bridge', relaxation: `profile ${name}: the server can reach any host on any port (insecure_allow_all; not for production).` };
  }
  return { network: 'none', relaxation: undefined };
}
