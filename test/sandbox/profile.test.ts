import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LokError } from '../../src/errors.js';
import { decideNetwork } from '../../src/sandbox/profile.js';
import type { OutboundRules, Profile } from '../../src/sandbox/profile-validate.js';

const NO_NETWORK: OutboundRules = { insecureAllowAll: false, transports: [], hosts: [], ports: [] };
const ALLOWLIST: OutboundRules = { insecureAllowAll: false, transports: ['tcp'], hosts: ['api.github.com'], ports: [443] };
const ANY: OutboundRules = { insecureAllowAll: true, transports: ['tcp'], hosts: [], ports: [] };
const profile = (outbound: OutboundRules): Profile => ({ read: [], write: [], outbound });

const decide = suite('decideNetwork');

for (const [what, outbound, canOfferProxy, network, egress, relaxation] of [
  ['no outbound rules: no network and nothing to announce', NO_NETWORK, true, 'none', undefined, undefined],
  ['no outbound rules, even where the proxy cannot be offered', NO_NETWORK, false, 'none', undefined, undefined],
  ['an allowlist: no network, only the egress proxy', ALLOWLIST, true, 'none', ALLOWLIST, /reach api\.github\.com on port 443, through mcp-lok's egress proxy/],
  ['insecure_allow_all: still no network, any public host through the proxy', ANY, true, 'none', ANY, /any public host on any port through mcp-lok's egress proxy/],
  ['insecure_allow_all where the proxy cannot be offered (an image): the engine\'s network, saying what that reaches', ANY, false, 'bridge', undefined, /over the engine's network, including this machine and cloud metadata/],
] as const) {
  decide(`gives ${what}`, () => {
    const decision = decideNetwork(profile(outbound), 'p', canOfferProxy);
    assert.is(decision.network, network);
    assert.equal(decision.egress, egress);
    if (relaxation) assert.match(decision.relaxation ?? '', relaxation);
    else assert.is(decision.relaxation, undefined);
  });
}

decide('refuses an allowlist where the proxy cannot be offered, naming the way out', () => {
  try {
    decideNetwork(profile(ALLOWLIST), 'api', false);
    assert.unreachable('an allowlist was accepted without the proxy');
  } catch (error) {
    assert.instance(error, LokError);
    assert.is((error as LokError).code, 'PROFILE_INVALID');
    assert.match((error as LokError).message, /^Profile api: outbound allowlists need a server from an npm package/);
  }
});

decide.run();
