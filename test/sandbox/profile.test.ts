import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decideNetwork } from '../../src/sandbox/profile.js';
import type { OutboundRules, Profile } from '../../src/sandbox/profile-validate.js';

const NO_NETWORK: OutboundRules = { insecureAllowAll: false, transports: [], hosts: [], ports: [] };
const ALLOWLIST: OutboundRules = { insecureAllowAll: false, transports: ['tcp'], hosts: ['api.github.com'], ports: [443] };
const ANY: OutboundRules = { insecureAllowAll: true, transports: ['tcp'], hosts: [], ports: [] };
const profile = (outbound: OutboundRules): Profile => ({ read: [], write: [], outbound });

const decide = suite('decideNetwork');

for (const [what, outbound, egress, relaxation] of [
  ['no outbound rules: no network and nothing to announce', NO_NETWORK, undefined, undefined],
  ['an allowlist: no network, only the egress proxy', ALLOWLIST, ALLOWLIST, /reach api\.github\.com on port 443, through mcp-lok's egress proxy/],
  ['insecure_allow_all: still no network, any public host through the proxy', ANY, ANY, /any public host on any port through mcp-lok's egress proxy/],
] as const) {
  decide(`gives ${what}`, () => {
    const decision = decideNetwork(profile(outbound), 'p');
    // Never the engine's own network, whatever the server's source: that reaches the host, the LAN and metadata.
    assert.is(decision.network, 'none');
    assert.equal(decision.egress, egress);
    if (relaxation) assert.match(decision.relaxation ?? '', relaxation);
    else assert.is(decision.relaxation, undefined);
  });
}

decide.run();
