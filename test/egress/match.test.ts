import { isIP } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkResolvedAddress, checkServerName, classifyAddress, decideEgress, matchHost, normaliseIp } from '../../src/egress/match.js';
import type { AddressClass } from '../../src/egress/match.js';
import type { OutboundRules } from '../../src/sandbox/profile-validate.js';

function rules(hosts: string[], ports: number[]): OutboundRules {
  return { insecureAllowAll: false, transports: hosts.length ? ['tcp'] : [], hosts, ports };
}
const ALLOW_ALL: OutboundRules = { insecureAllowAll: true, transports: ['tcp'], hosts: [], ports: [] };
const NONE = rules([], []);

const classify = suite('classifyAddress');

const CLASSES: Array<[string, AddressClass]> = [
  ['8.8.8.8', 'public'],
  ['1.1.1.1', 'public'],
  ['172.32.0.1', 'public'],
  ['100.128.0.1', 'public'],
  ['2606:4700::1111', 'public'],
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['::1', 'loopback'],
  ['10.0.0.5', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['192.168.1.1', 'private'],
  ['100.64.0.1', 'private'],
  ['100.127.255.255', 'private'],
  ['fc00::1', 'private'],
  ['fd12:3456::1', 'private'],
  ['169.254.1.1', 'link-local'],
  ['fe80::1', 'link-local'],
  ['fe80::1%eth0', 'link-local'],
  ['febf::1', 'link-local'],
  ['169.254.169.254', 'metadata'],
  ['169.254.170.2', 'metadata'],
  ['fd00:ec2::254', 'metadata'],
  ['100.100.100.200', 'metadata'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'unspecified'],
  ['::', 'unspecified'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['ff02::1', 'multicast'],
  ['240.0.0.1', 'reserved'],
  ['255.255.255.255', 'reserved'],
  ['192.0.0.8', 'reserved'],
  ['192.0.2.1', 'reserved'],
  ['198.18.0.1', 'reserved'],
  ['198.19.255.255', 'reserved'],
  ['198.51.100.7', 'reserved'],
  ['203.0.113.9', 'reserved'],
  ['2001:db8::1', 'reserved'],
  // IPv4-mapped IPv6 is the IPv4 address, in either spelling.
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:7f00:1', 'loopback'],
  ['::FFFF:7F00:0001', 'loopback'],
  ['0:0:0:0:0:ffff:a9fe:a9fe', 'metadata'],
  ['::ffff:10.0.0.5', 'private'],
  ['::ffff:8.8.8.8', 'public'],
  // NAT64 is translated to the embedded IPv4 address.
  ['64:ff9b::a9fe:a9fe', 'metadata'],
  ['64:ff9b::127.0.0.1', 'loopback'],
  ['64:ff9b::808:808', 'public'],
  // 6to4 carries an IPv4 address that a local relay may route to.
  ['2002:7f00:1::', 'loopback'],
  ['2002:c0a8:101::1', 'private'],
  ['2002:a00:5::', 'private'],
  ['2002:a9fe:a9fe::', 'metadata'],
  ['2002:a83f:8110::', 'metadata'],
  ['2002:a9fe:101::', 'link-local'],
  ['2002:808:808::1', 'public'],
  // Azure's WireServer hands out VM agent settings and secrets.
  ['168.63.129.16', 'metadata'],
  ['::ffff:168.63.129.16', 'metadata'],
  ['64:ff9b::a83f:8110', 'metadata'],
  ['168.63.129.17', 'public'],
  // Teredo tunnels through a relay to an embedded IPv4 address: refused whole.
  ['2001::1', 'reserved'],
  ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'reserved'],
  ['2001:0:ffff:ffff:ffff:ffff:ffff:ffff', 'reserved'],
  ['2001:1::1', 'public'],
  ['2001:2::1', 'reserved'],
  ['2001:10::1', 'reserved'],
  ['2001:20::1', 'reserved'],
  ['3fff::1', 'reserved'],
  // Local-network IPv6: unique local, site-local, link-local.
  ['fdff:ffff:ffff:ffff::1', 'private'],
  ['fec0::1', 'private'],
  ['feff::1', 'private'],
  ['fe80::1:2:3:4', 'link-local'],
  // IPv4-compatible (deprecated), IPv4-translated and NAT64 local-use forms with private insides.
  ['::10.0.0.5', 'reserved'],
  ['::a9fe:a9fe', 'reserved'],
  ['::ffff:0:a00:5', 'private'],
  ['::ffff:0:7f00:1', 'loopback'],
  ['64:ff9b:1::a00:5', 'private'],
  ['64:ff9b:1::a9fe:a9fe', 'metadata'],
  // Only 2000::/3 is global unicast: the rest of the IPv6 space is not routed on the internet.
  ['4000::1', 'reserved'],
  ['5f00::1', 'reserved'],
  ['1::1', 'reserved'],
  ['e000::1', 'reserved'],
  ['3ffe:ffff::1', 'public'],
];

for (const [ip, expected] of CLASSES) {
  classify(`classifies ${ip} as ${expected}`, () => {
    assert.is(classifyAddress(ip), expected);
  });
}

// The choice: non-IP input is 'reserved', not an exception, so callers that refuse every class
// but 'public' fail closed.
for (const text of ['0x7f.1', '127.1', '2130706433', '0177.0.0.1', '010.0.0.1', 'localhost', '', '[::1]']) {
  classify(`treats ${JSON.stringify(text)}, which is not an IP literal, as reserved`, () => {
    assert.is(classifyAddress(text), 'reserved');
  });
}

classify.run();

const normalise = suite('normaliseIp');

for (const [text, expected] of [
  ['10.0.0.5', '10.0.0.5'],
  ['::ffff:7f00:1', '127.0.0.1'],
  ['::ffff:127.0.0.1', '127.0.0.1'],
  ['[2001:DB8:0::1]', '2001:db8::1'],
  ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'],
  ['fe80::1%eth0', 'fe80::1'],
  ['64:ff9b::a9fe:a9fe', '64:ff9b::a9fe:a9fe'],
  ['0x7f.1', undefined],
  ['example.com', undefined],
] as const) {
  normalise(`writes ${text} as ${String(expected)}`, () => {
    assert.is(normaliseIp(text), expected);
  });
}

normalise.run();

const match = suite('matchHost');

for (const [host, pattern, expected] of [
  ['api.example.com', 'api.example.com', true],
  ['API.Example.COM', 'api.example.com', true],
  ['api.example.com.', 'api.example.com', true],
  ['api.example.com', 'example.com', false],
  ['example.com.evil.net', 'example.com', false],
  ['a.example.com', '*.example.com', true],
  ['a.b.c.example.com', '*.example.com', true],
  ['A.Example.com.', '*.example.com', true],
  ['example.com', '*.example.com', false],
  ['.example.com', '*.example.com', false],
  ['badexample.com', '*.example.com', false],
  ['example.com.evil.net', '*.example.com', false],
  ['10.0.0.5', '10.0.0.5', true],
  ['10.0.0.6', '10.0.0.5', false],
  ['::ffff:10.0.0.5', '10.0.0.5', true],
  ['::ffff:a00:5', '10.0.0.5', true],
  ['127.0.0.1', '::ffff:7f00:1', true],
  ['[2001:DB8:0::1]', '2001:db8::1', true],
  ['2001:db8::2', '2001:db8::1', false],
  ['10.0.0.5', '*.0.0.5', false],
  ['10.0.0.5', 'example.com', false],
  ['0x7f.1', '127.0.0.1', false],
  ['127.1', '127.0.0.1', false],
  ['2130706433', '127.0.0.1', false],
  ['0177.0.0.1', '127.0.0.1', false],
  ['evil.com\u0000.example.com', '*.example.com', false],
  ['', '*.example.com', false],
] as const) {
  match(`${expected ? 'matches' : 'does not match'} ${JSON.stringify(host)} against ${pattern}`, () => {
    assert.is(matchHost(host, pattern), expected);
  });
}

match.run();

const decide = suite('decideEgress');

const PROFILE = rules(['api.example.com', '*.cdn.example.com', '10.0.0.5', '2001:db8::1'], [443]);

for (const [title, host, port, profile, extra] of [
  ['allows a listed host on a listed port', 'api.example.com', 443, PROFILE, []],
  ['allows a listed host with a trailing dot and capitals', 'API.example.com.', 443, PROFILE, []],
  ['allows a subdomain of a wildcard at any depth', 'a.b.cdn.example.com', 443, PROFILE, []],
  ['allows an IP literal that allow_host names exactly', '10.0.0.5', 443, PROFILE, []],
  ['allows an IPv4-mapped spelling of an allowed IP', '::ffff:10.0.0.5', 443, PROFILE, []],
  ['allows a bracketed IPv6 literal that allow_host names', '[2001:DB8::1]', 443, PROFILE, []],
  ['allows any public host and port under insecure_allow_all', 'anything.example.org', 8443, ALLOW_ALL, []],
  ['allows a public IP literal under insecure_allow_all', '8.8.8.8', 53, ALLOW_ALL, ['192.168.1.20']],
] as const) {
  decide(title, () => {
    assert.equal(decideEgress({ host, port }, profile, [...extra]), { allowed: true });
  });
}

for (const [title, host, port, profile, extra, reason, fix] of [
  ['refuses a host not in allow_host', 'other.example.com', 443, PROFILE, [], 'other.example.com is not in allow_host', 'add "other.example.com" to network.outbound.allow_host'],
  ['refuses the wildcard\'s own apex', 'cdn.example.com', 443, PROFILE, [], 'cdn.example.com is not in allow_host', 'add "cdn.example.com" to network.outbound.allow_host'],
  ['refuses a port not in allow_port', 'api.example.com', 8443, PROFILE, [], 'port 8443 is not in allow_port', 'add 8443 to network.outbound.allow_port'],
  ['names both changes when neither host nor port is allowed', 'Other.example.com.', 80, PROFILE, [], 'other.example.com is not in allow_host and port 80 is not in allow_port', 'add "other.example.com" to network.outbound.allow_host and 80 to network.outbound.allow_port'],
  ['refuses everything when the profile has no outbound rules', 'api.example.com', 443, NONE, [], 'api.example.com is not in allow_host and port 443 is not in allow_port', 'add "api.example.com" to network.outbound.allow_host and 443 to network.outbound.allow_port'],
  ['refuses a public IP literal that allow_host does not name', '8.8.8.8', 443, PROFILE, [], '8.8.8.8 is not in allow_host', 'add "8.8.8.8" to network.outbound.allow_host'],
  ['refuses an IP literal even when a wildcard would match its text', '10.0.0.5', 443, rules(['*.0.0.5'], [443]), [], '10.0.0.5 is a private address', 'add "10.0.0.5" to network.outbound.allow_host if that is intended'],
  ['refuses the metadata address under insecure_allow_all', '169.254.169.254', 80, ALLOW_ALL, [], '169.254.169.254 is a cloud metadata address', 'add "169.254.169.254" to network.outbound.allow_host if that is intended'],
  ['refuses mapped loopback under insecure_allow_all', '[::ffff:7f00:1]', 80, ALLOW_ALL, [], '127.0.0.1 is a loopback address', 'add "127.0.0.1" to network.outbound.allow_host if that is intended'],
  ['refuses NAT64 metadata under insecure_allow_all', '64:ff9b::a9fe:a9fe', 80, ALLOW_ALL, [], '64:ff9b::a9fe:a9fe is a cloud metadata address', 'add "64:ff9b::a9fe:a9fe" to network.outbound.allow_host if that is intended'],
  ['refuses Azure\'s WireServer under insecure_allow_all', '168.63.129.16', 80, ALLOW_ALL, [], '168.63.129.16 is a cloud metadata address', 'add "168.63.129.16" to network.outbound.allow_host if that is intended'],
  ['refuses a Teredo address under insecure_allow_all', '[2001:0:4136:e378:8000:63bf:3fff:fdd2]', 443, ALLOW_ALL, [], '2001:0:4136:e378:8000:63bf:3fff:fdd2 is a reserved address', 'add "2001:0:4136:e378:8000:63bf:3fff:fdd2" to network.outbound.allow_host if that is intended'],
  ['refuses 6to4 wrapping a private address under insecure_allow_all', '2002:c0a8:101::1', 443, ALLOW_ALL, [], '2002:c0a8:101::1 is a private address', 'add "2002:c0a8:101::1" to network.outbound.allow_host if that is intended'],
  ['refuses the host machine\'s own address under insecure_allow_all', '203.0.114.7', 22, ALLOW_ALL, ['203.0.114.7'], '203.0.114.7 is an address of this machine', 'add "203.0.114.7" to network.outbound.allow_host if that is intended'],
  ['refuses a hex spelling of an address', '0x7f.1', 80, ALLOW_ALL, [], '"0x7f.1" is not a host name or IP address', 'connect by host name or by an IP address written as four numbers, such as 10.0.0.5'],
  ['refuses a decimal spelling of an address', '2130706433', 80, ALLOW_ALL, [], '"2130706433" is not a host name or IP address', 'connect by host name or by an IP address written as four numbers, such as 10.0.0.5'],
  ['refuses an octal spelling of an address', '0177.0.0.1', 80, ALLOW_ALL, [], '"0177.0.0.1" is not a host name or IP address', 'connect by host name or by an IP address written as four numbers, such as 10.0.0.5'],
  ['refuses port 0', 'api.example.com', 0, ALLOW_ALL, [], '0 is not a TCP port', 'connect to a port from 1 to 65535'],
  ['refuses a port above 65535', 'api.example.com', 65536, PROFILE, [], '65536 is not a TCP port', 'connect to a port from 1 to 65535'],
] as const) {
  decide(title, () => {
    assert.equal(decideEgress({ host, port }, profile, [...extra]), { allowed: false, reason, fix });
  });
}

decide('checks that the sample addresses are what they claim to be', () => {
  assert.is(isIP('0x7f.1'), 0);
  assert.is(isIP('2130706433'), 0);
  assert.is(isIP('0177.0.0.1'), 0);
});

decide.run();

const resolved = suite('checkResolvedAddress');

const OWN = ['192.168.1.20', 'fe80::abcd'];

for (const [title, host, address, profile] of [
  ['allows a public IPv4 address', 'api.example.com', '93.184.216.34', PROFILE],
  ['allows a public IPv6 address', 'api.example.com', '2606:2800:220:1:248:1893:25c8:1946', PROFILE],
  ['allows a private address that allow_host names exactly', 'internal.example.com', '10.0.0.5', PROFILE],
  ['allows the mapped spelling of an allowed private address', 'internal.example.com', '::ffff:a00:5', PROFILE],
  ['allows the host\'s own address when allow_host names it', 'me.example.com', '192.168.1.20', rules(['me.example.com', '192.168.1.20'], [443])],
  ['allows a public address under insecure_allow_all', 'anything.example.org', '8.8.8.8', ALLOW_ALL],
] as const) {
  resolved(title, () => {
    assert.equal(checkResolvedAddress({ host }, address, profile, OWN), { allowed: true });
  });
}

for (const [title, address, profile, reason, fix] of [
  ['refuses a private address', '10.0.0.6', PROFILE, 'api.example.com resolved to 10.0.0.6, a private address', 'add "10.0.0.6" to network.outbound.allow_host if that is intended'],
  ['refuses a CGNAT address', '100.64.1.2', PROFILE, 'api.example.com resolved to 100.64.1.2, a private address', 'add "100.64.1.2" to network.outbound.allow_host if that is intended'],
  ['refuses a unique local IPv6 address', 'fd12::1', PROFILE, 'api.example.com resolved to fd12::1, a private address', 'add "fd12::1" to network.outbound.allow_host if that is intended'],
  ['refuses a site-local IPv6 address', 'fec0::5', PROFILE, 'api.example.com resolved to fec0::5, a private address', 'add "fec0::5" to network.outbound.allow_host if that is intended'],
  ['refuses a link-local IPv6 address', 'fe80::5', PROFILE, 'api.example.com resolved to fe80::5, a link-local address', 'add "fe80::5" to network.outbound.allow_host if that is intended'],
  ['refuses Azure\'s WireServer under insecure_allow_all', '168.63.129.16', ALLOW_ALL, 'api.example.com resolved to 168.63.129.16, a cloud metadata address', 'add "168.63.129.16" to network.outbound.allow_host if that is intended'],
  ['refuses a Teredo address under insecure_allow_all', '2001:0:4136:e378:8000:63bf:3fff:fdd2', ALLOW_ALL, 'api.example.com resolved to 2001:0:4136:e378:8000:63bf:3fff:fdd2, a reserved address', 'add "2001:0:4136:e378:8000:63bf:3fff:fdd2" to network.outbound.allow_host if that is intended'],
  ['refuses 6to4 wrapping the metadata address under insecure_allow_all', '2002:a9fe:a9fe::1', ALLOW_ALL, 'api.example.com resolved to 2002:a9fe:a9fe::1, a cloud metadata address', 'add "2002:a9fe:a9fe::1" to network.outbound.allow_host if that is intended'],
  ['refuses IPv4-translated loopback under insecure_allow_all', '::ffff:0:7f00:1', ALLOW_ALL, 'api.example.com resolved to ::ffff:0:7f00:1, a loopback address', 'add "::ffff:0:7f00:1" to network.outbound.allow_host if that is intended'],
  ['refuses loopback', '127.0.0.1', PROFILE, 'api.example.com resolved to 127.0.0.1, a loopback address', 'add "127.0.0.1" to network.outbound.allow_host if that is intended'],
  ['refuses IPv4-mapped loopback', '::ffff:127.0.0.1', PROFILE, 'api.example.com resolved to 127.0.0.1, a loopback address', 'add "127.0.0.1" to network.outbound.allow_host if that is intended'],
  ['refuses hex IPv4-mapped loopback', '::ffff:7f00:1', PROFILE, 'api.example.com resolved to 127.0.0.1, a loopback address', 'add "127.0.0.1" to network.outbound.allow_host if that is intended'],
  ['refuses IPv6 loopback', '::1', PROFILE, 'api.example.com resolved to ::1, a loopback address', 'add "::1" to network.outbound.allow_host if that is intended'],
  ['refuses a link-local address', '169.254.10.10', PROFILE, 'api.example.com resolved to 169.254.10.10, a link-local address', 'add "169.254.10.10" to network.outbound.allow_host if that is intended'],
  ['refuses the metadata address', '169.254.169.254', PROFILE, 'api.example.com resolved to 169.254.169.254, a cloud metadata address', 'add "169.254.169.254" to network.outbound.allow_host if that is intended'],
  ['refuses the metadata address under insecure_allow_all', '169.254.169.254', ALLOW_ALL, 'api.example.com resolved to 169.254.169.254, a cloud metadata address', 'add "169.254.169.254" to network.outbound.allow_host if that is intended'],
  ['refuses the ECS credentials address under insecure_allow_all', '169.254.170.2', ALLOW_ALL, 'api.example.com resolved to 169.254.170.2, a cloud metadata address', 'add "169.254.170.2" to network.outbound.allow_host if that is intended'],
  ['refuses AWS IPv6 metadata under insecure_allow_all', 'fd00:ec2::254', ALLOW_ALL, 'api.example.com resolved to fd00:ec2::254, a cloud metadata address', 'add "fd00:ec2::254" to network.outbound.allow_host if that is intended'],
  ['refuses NAT64 metadata under insecure_allow_all', '64:ff9b::a9fe:a9fe', ALLOW_ALL, 'api.example.com resolved to 64:ff9b::a9fe:a9fe, a cloud metadata address', 'add "64:ff9b::a9fe:a9fe" to network.outbound.allow_host if that is intended'],
  ['refuses the host\'s own address under insecure_allow_all', '192.168.1.20', ALLOW_ALL, 'api.example.com resolved to 192.168.1.20, an address of this machine', 'add "192.168.1.20" to network.outbound.allow_host if that is intended'],
  ['refuses the host\'s own IPv6 address with a zone id', 'fe80::abcd%eth0', ALLOW_ALL, 'api.example.com resolved to fe80::abcd, an address of this machine', 'add "fe80::abcd" to network.outbound.allow_host if that is intended'],
  ['refuses the unspecified address', '0.0.0.0', PROFILE, 'api.example.com resolved to 0.0.0.0, an unspecified address', 'add "0.0.0.0" to network.outbound.allow_host if that is intended'],
  ['refuses a multicast address', 'ff02::1', PROFILE, 'api.example.com resolved to ff02::1, a multicast address', 'add "ff02::1" to network.outbound.allow_host if that is intended'],
  ['refuses a documentation address', '2001:db8::2', PROFILE, 'api.example.com resolved to 2001:db8::2, a reserved address', 'add "2001:db8::2" to network.outbound.allow_host if that is intended'],
  ['refuses the broadcast address', '255.255.255.255', PROFILE, 'api.example.com resolved to 255.255.255.255, a reserved address', 'add "255.255.255.255" to network.outbound.allow_host if that is intended'],
  ['refuses something that is not an IP address', '0x7f.1', ALLOW_ALL, 'api.example.com resolved to "0x7f.1", which is not an IP address', 'none: the resolver returned something that is not an address'],
] as const) {
  resolved(title, () => {
    assert.equal(checkResolvedAddress({ host: 'API.example.com.' }, address, profile, OWN), { allowed: false, reason, fix });
  });
}

resolved.run();

const sni = suite('checkServerName');

const NO_FRONTING = 'none: a tunnel\'s TLS server name must be the host it was opened to (no domain fronting)';
const TUNNEL_RULES = rules(['api.example.com', '*.cdn.example.com', '151.101.1.1', '2001:db8::5'], [443]);

for (const [title, host, serverName, profile] of [
  ['allows the name the tunnel was opened to', 'api.example.com', 'api.example.com', TUNNEL_RULES],
  ['allows it in other capitals, with a trailing dot', 'API.example.com', 'api.example.com.', TUNNEL_RULES],
  ['allows no name at all (a client that sends none)', 'api.example.com', undefined, TUNNEL_RULES],
  ['allows a tunnel by an allowed IP with no name (clients send none for IPs)', '151.101.1.1', undefined, TUNNEL_RULES],
  ['allows a tunnel by an allowed IP that names the same IP', '151.101.1.1', '151.101.1.1', TUNNEL_RULES],
  ['allows a tunnel by an allowed IP that names a host allowed by name', '151.101.1.1', 'api.example.com', TUNNEL_RULES],
  ['allows a tunnel by an allowed IP that names a host a wildcard allows', '151.101.1.1', 'img.cdn.example.com', TUNNEL_RULES],
  ['allows a tunnel by IPv6 naming its own address', '2001:db8::5', '2001:DB8:0::5', TUNNEL_RULES],
  ['allows any public name by IP under insecure_allow_all', '8.8.8.8', 'dns.example.org', ALLOW_ALL],
] as const) {
  sni(title, () => {
    assert.equal(checkServerName({ host, port: 443 }, { serverName, encryptedHello: false }, profile), { allowed: true });
  });
}

for (const [title, host, serverName, profile, reason, fix] of [
  ['refuses another name on a tunnel opened by name (domain fronting)', 'api.example.com', 'blocked.example.org', TUNNEL_RULES, 'the TLS server name (SNI) is blocked.example.org, not api.example.com', NO_FRONTING],
  ['refuses a sibling under the same wildcard', 'a.cdn.example.com', 'b.cdn.example.com', TUNNEL_RULES, 'the TLS server name (SNI) is b.cdn.example.com, not a.cdn.example.com', NO_FRONTING],
  ['refuses another name under insecure_allow_all too', 'api.example.com', 'other.example.org', ALLOW_ALL, 'the TLS server name (SNI) is other.example.org, not api.example.com', NO_FRONTING],
  ['refuses an IP as the name of a tunnel opened by name', 'api.example.com', '151.101.1.1', TUNNEL_RULES, 'the TLS server name (SNI) is 151.101.1.1, not api.example.com', NO_FRONTING],
  ['refuses a tunnel by an allowed IP that names a host not allowed by name', '151.101.1.1', 'blocked.example.org', TUNNEL_RULES, 'the TLS server name blocked.example.org in a tunnel to 151.101.1.1 is not allowed: blocked.example.org is not in allow_host', 'add "blocked.example.org" to network.outbound.allow_host'],
  ['refuses a tunnel by an allowed IP that names another IP', '151.101.1.1', '151.101.1.2', TUNNEL_RULES, 'the TLS server name (SNI) is 151.101.1.2, not 151.101.1.1', NO_FRONTING],
  ['refuses a name that is not a host name', 'api.example.com', 'api.example.com:443', TUNNEL_RULES, 'the TLS server name "api.example.com:443" is not a host name', NO_FRONTING],
  ['refuses a numeric spelling of an address as the name', '151.101.1.1', '0x97.0x65.1.1', TUNNEL_RULES, 'the TLS server name "0x97.0x65.1.1" is not a host name', NO_FRONTING],
] as const) {
  sni(title, () => {
    assert.equal(checkServerName({ host, port: 443 }, { serverName, encryptedHello: false }, profile), { allowed: false, reason, fix });
  });
}

sni('refuses an Encrypted Client Hello even when its outer name matches', () => {
  const verdict = checkServerName({ host: 'api.example.com', port: 443 }, { serverName: 'api.example.com', encryptedHello: true }, TUNNEL_RULES);
  assert.equal(verdict, {
    allowed: false, reason: 'the TLS ClientHello to api.example.com hides its real server name (Encrypted Client Hello)',
    fix: 'none: the egress proxy must see the server name; turn Encrypted Client Hello off in the client',
  });
});

sni.run();
