import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LokError } from '../../src/errors.js';
import { parseJsonStrict } from '../../src/sandbox/profile-json.js';
import {
  BUILT_IN_PROFILES, describeProfile, findContainerPathProblem, profileToJson, validateProfile, type Profile,
} from '../../src/sandbox/profile-validate.js';

const NO_NETWORK = { insecureAllowAll: false, transports: [], hosts: [], ports: [] };

/** The example profile of the original mcp-lok README, with `udp` or without. */
function readmeProfile(transports: string[]): unknown {
  return parseJsonStrict(JSON.stringify({
    read: ['/var/run/mcp.sock'],
    write: ['/var/run/mcp.sock'],
    network: { outbound: { insecure_allow_all: false, allow_transport: transports, allow_host: ['localhost', 'google.com'], allow_port: [80, 443] } },
  }, null, 2), 'profile.json');
}

/** Returns an outbound section with the given keys, inside a whole profile. */
function outbound(rules: Record<string, unknown>): unknown {
  return { network: { outbound: rules } };
}

/** Returns an outbound section allowing the given hosts on port 443. */
function hosts(...names: unknown[]): unknown {
  return outbound({ allow_host: names, allow_port: [443] });
}

/** Returns the error validateProfile throws, failing the test when it does not throw. */
function validationError(value: unknown, source = 'profile.json'): LokError {
  try {
    validateProfile(value, source);
  } catch (error) {
    assert.instance(error, LokError);
    return error as LokError;
  }
  throw new assert.Assertion({ message: `expected ${JSON.stringify(value)} to be rejected`, generated: false, operator: 'throws', actual: value, expects: 'an error' });
}

const validate = suite('validateProfile');

const accepted: Array<[string, unknown, Profile]> = [
  ['an empty object as the most restrictive profile', {}, { read: [], write: [], outbound: NO_NETWORK }],
  ['empty read and write lists and an empty network as nothing', { read: [], write: [], network: {} }, { read: [], write: [], outbound: NO_NETWORK }],
  ['an empty outbound section as no network', outbound({}), { read: [], write: [], outbound: NO_NETWORK }],
  ['empty host and port lists together as no network', outbound({ insecure_allow_all: false, allow_transport: ['tcp'], allow_host: [], allow_port: [] }), { read: [], write: [], outbound: NO_NETWORK }],
  ['the transport alone as no network, since no host is named', outbound({ allow_transport: ['tcp'] }), { read: [], write: [], outbound: NO_NETWORK }],
  ['git_writable true as writable .git folders', { write: ['~/app'], git_writable: true }, { read: [], write: [{ host: '~/app', container: '~/app' }], outbound: NO_NETWORK, gitWritable: true }],
  ['git_writable false as the default, read-only .git folders', { write: ['~/app'], git_writable: false }, { read: [], write: [{ host: '~/app', container: '~/app' }], outbound: NO_NETWORK }],
  [
    'the original README example without "udp", keeping a path granted in both lists once, read-write',
    readmeProfile(['tcp']),
    { read: [], write: [{ host: '/var/run/mcp.sock', container: '/var/run/mcp.sock' }], outbound: { insecureAllowAll: false, transports: ['tcp'], hosts: ['localhost', 'google.com'], ports: [80, 443] } },
  ],
  [
    'absolute, home-relative and host:container paths, mirroring the host path when no container path is given',
    { read: ['/abs/path', '~/projects/x', '/host/path:/container/path'], write: ['~/out:/home/node/out', '/srv/cache:/tmp/cache'] },
    {
      read: [{ host: '/abs/path', container: '/abs/path' }, { host: '~/projects/x', container: '~/projects/x' }, { host: '/host/path', container: '/container/path' }],
      write: [{ host: '~/out', container: '/home/node/out' }, { host: '/srv/cache', container: '/tmp/cache' }],
      outbound: NO_NETWORK,
    },
  ],
  [
    'paths with trailing and repeated slashes and "." segments, normalised',
    { read: ['/data/', '/a//b/./c/', '~/x/', '~', '/srv/in/:/in/', '/'.concat('e:/', 'f//')] },
    {
      read: [
        { host: '/data', container: '/data' }, { host: '/a/b/c', container: '/a/b/c' }, { host: '~/x', container: '~/x' },
        { host: '~/', container: '~/' }, { host: '/srv/in', container: '/in' }, { host: '/e', container: '/f' },
      ],
      write: [],
      outbound: NO_NETWORK,
    },
  ],
  [
    'a colon split only where the part after the last colon starts with "/"',
    { read: ['/a:b', '/c:/d:/e', '/f:g/h'] },
    { read: [{ host: '/a:b', container: '/a:b' }, { host: '/c:/d', container: '/e' }, { host: '/f:g/h', container: '/f:g/h' }], write: [], outbound: NO_NETWORK },
  ],
  [
    'one host path granted at two container paths',
    { read: ['/data', '/data:/mirror'] },
    { read: [{ host: '/data', container: '/data' }, { host: '/data', container: '/mirror' }], write: [], outbound: NO_NETWORK },
  ],
  [
    'host names, wildcards and addresses in canonical form',
    hosts('API.GitHub.com', '*.Example.com', '*.co.uk', 'localhost', '10.0.0.5', '2001:DB8:0::1', '[::1]', 'xn--bcher-kva.de', 'a-b.c1.io'),
    {
      read: [], write: [],
      outbound: { insecureAllowAll: false, transports: ['tcp'], hosts: ['api.github.com', '*.example.com', '*.co.uk', 'localhost', '10.0.0.5', '2001:db8::1', '::1', 'xn--bcher-kva.de', 'a-b.c1.io'], ports: [443] },
    },
  ],
  ['ports from 1 to 65535', outbound({ allow_host: ['a.example.com'], allow_port: [1, 443, 65535] }), { read: [], write: [], outbound: { insecureAllowAll: false, transports: ['tcp'], hosts: ['a.example.com'], ports: [1, 443, 65535] } }],
  ['insecure_allow_all alone as any TCP egress', outbound({ insecure_allow_all: true }), { read: [], write: [], outbound: { insecureAllowAll: true, transports: ['tcp'], hosts: [], ports: [] } }],
  ['pin_tools "enforce" (tool pinning made stricter)', { pin_tools: 'enforce' }, { read: [], write: [], outbound: NO_NETWORK, pinTools: 'enforce' }],
  ['pin_tools "observe"', { pin_tools: 'observe' }, { read: [], write: [], outbound: NO_NETWORK, pinTools: 'observe' }],
  ['insecure_allow_all with empty lists and the tcp transport', outbound({ insecure_allow_all: true, allow_transport: ['tcp'], allow_host: [], allow_port: [] }), { read: [], write: [], outbound: { insecureAllowAll: true, transports: ['tcp'], hosts: [], ports: [] } }],
];

for (const [title, value, expected] of accepted) {
  validate(`accepts ${title}`, () => {
    assert.equal(validateProfile(value, 'profile.json'), expected);
  });
}

validate('accepts the example of the format with every key', () => {
  const text = `{ "read": ["/abs/path", "~/projects/x", "/host/path:/container/path"],
    "write": ["/srv/out:/out"],
    "network": { "outbound": { "insecure_allow_all": false, "allow_transport": ["tcp"], "allow_host": ["api.github.com", "*.example.com", "10.0.0.5", "2001:db8::1"], "allow_port": [443] } } }`;
  const profile = validateProfile(parseJsonStrict(text, 'profile.json'), 'profile.json');
  assert.equal(profile.outbound, { insecureAllowAll: false, transports: ['tcp'], hosts: ['api.github.com', '*.example.com', '10.0.0.5', '2001:db8::1'], ports: [443] });
  assert.is(profile.read.length, 3);
});

const OUT = '$.network.outbound';

const rejected: Array<[string, unknown, string]> = [
  // Shape and unknown keys.
  ['a list at the top level', [], '$: expected an object with the keys read, write, network, git_writable, pin_tools, got a list'],
  ['null at the top level', null, '$: expected an object with the keys read, write, network, git_writable, pin_tools, got null'],
  ['a string at the top level', 'read', '$: expected an object with the keys read, write, network, git_writable, pin_tools, got the string "read"'],
  ['an unknown top-level key', { read: [], netwrok: {} }, '$.netwrok: unknown key; accepted keys are read, write, network, git_writable, pin_tools'],
  ['an unknown key that is no identifier', { 'read ': [] }, '$["read "]: unknown key; accepted keys are read, write, network, git_writable, pin_tools'],
  ['git_writable as a string', { git_writable: 'yes' }, '$.git_writable: expected true or false, got the string "yes"'],
  ['pin_tools "off" (a profile may only tighten)', { pin_tools: 'off' }, '$.pin_tools: a profile can only make tool pinning stricter, so "off" is not accepted; use "observe" or "enforce", or leave pin_tools out'],
  ['pin_tools as true', { pin_tools: true }, '$.pin_tools: expected "observe" or "enforce", got true'],
  ['an unknown key under network', { network: { inbound: {} } }, '$.network.inbound: unknown key; accepted keys are outbound'],
  ['an unknown key under outbound', outbound({ allow_hosts: [] }), `${OUT}.allow_hosts: unknown key; accepted keys are insecure_allow_all, allow_transport, allow_host, allow_port`],
  ['a "__proto__" key', parseJsonStrict('{"__proto__": {"read": ["/"]}}', 'p'), '$.__proto__: unknown key; accepted keys are read, write, network, git_writable, pin_tools'],
  ['network as a list', { network: [] }, '$.network: expected an object with the keys outbound, got a list'],
  ['network as null', { network: null }, '$.network: expected an object with the keys outbound, got null'],
  ['outbound as a boolean', { network: { outbound: true } }, `${OUT}: expected an object with the keys insecure_allow_all, allow_transport, allow_host, allow_port, got true`],
  // Types.
  ['read as a string', { read: '/data' }, '$.read: expected a list such as ["~/projects/x", "/srv/data:/data"], got the string "/data"'],
  ['write as an object', { write: {} }, '$.write: expected a list such as ["~/projects/x", "/srv/data:/data"], got an object'],
  ['read as null', { read: null }, '$.read: expected a list such as ["~/projects/x", "/srv/data:/data"], got null'],
  ['a path that is a number', { read: ['/a', 1] }, '$.read[1]: expected a path string such as "~/projects/x", got the number 1'],
  ['a path that is a list', { write: [['/a']] }, '$.write[0]: expected a path string such as "~/projects/x", got a list'],
  ['insecure_allow_all as a string', outbound({ insecure_allow_all: 'yes' }), `${OUT}.insecure_allow_all: expected true or false, got the string "yes"`],
  ['insecure_allow_all as a number', outbound({ insecure_allow_all: 1 }), `${OUT}.insecure_allow_all: expected true or false, got the number 1`],
  ['allow_transport as a string', outbound({ allow_transport: 'tcp' }), `${OUT}.allow_transport: expected a list such as ["tcp"], got the string "tcp"`],
  ['a transport that is a number', outbound({ allow_transport: [6] }), `${OUT}.allow_transport[0]: expected "tcp", got the number 6`],
  ['allow_host as a string', outbound({ allow_host: 'api.github.com', allow_port: [443] }), `${OUT}.allow_host: expected a list such as ["api.github.com"], got the string "api.github.com"`],
  ['a host that is a number', hosts(1), `${OUT}.allow_host[0]: expected a host name such as "api.github.com", got the number 1`],
  ['allow_port as a number', outbound({ allow_host: ['a.example.com'], allow_port: 443 }), `${OUT}.allow_port: expected a list such as [443], got the number 443`],
  ['a port that is a string', outbound({ allow_host: ['a.example.com'], allow_port: ['443'] }), `${OUT}.allow_port[0]: expected a port number such as 443, got the string "443"`],
  ['a port that is not an integer', outbound({ allow_host: ['a.example.com'], allow_port: [443.5] }), `${OUT}.allow_port[0]: expected a port from 1 to 65535, got 443.5`],
  ['a port above 65535', outbound({ allow_host: ['a.example.com'], allow_port: [443, 80, 70000] }), `${OUT}.allow_port[2]: expected a port from 1 to 65535, got 70000`],
  ['port 0', outbound({ allow_host: ['a.example.com'], allow_port: [0] }), `${OUT}.allow_port[0]: expected a port from 1 to 65535, got 0`],
  ['a negative port', outbound({ allow_host: ['a.example.com'], allow_port: [-443] }), `${OUT}.allow_port[0]: expected a port from 1 to 65535, got -443`],
  // Paths.
  ['an empty path', { read: [''] }, '$.read[0]: expected a path such as "~/projects/x", got an empty string'],
  ['a path with NUL', { read: ['/a\u0000b'] }, '$.read[0]: paths must not contain control or invisible characters such as NUL, newline or U+202E, got "/a\\u0000b"'],
  ['a path with a line separator', { read: ['/a\u2028b'] }, '$.read[0]: paths must not contain control or invisible characters such as NUL, newline or U+202E, got "/a\\u2028b"'],
  ['a path with a right-to-left override', { read: ['/home/me/\u202egnp.sh'] }, '$.read[0]: paths must not contain control or invisible characters such as NUL, newline or U+202E, got "/home/me/\\u202egnp.sh"'],
  ['a path with a newline', { write: ['/a', '/a\nb'] }, '$.write[1]: paths must not contain control or invisible characters such as NUL, newline or U+202E, got "/a\\nb"'],
  ['a relative path', { read: ['projects/x'] }, '$.read[0]: paths must be absolute, such as `/home/me/project`, or start with `~/`, got "projects/x"'],
  ['a dot-relative path', { read: ['./x'] }, '$.read[0]: paths must be absolute, such as `/home/me/project`, or start with `~/`, got "./x"'],
  ['another user\'s home', { read: ['~root/x'] }, '$.read[0]: paths must be absolute, such as `/home/me/project`, or start with `~/`, got "~root/x"'],
  ['a Windows path', { read: ['C:\\Users\\me'] }, '$.read[0]: paths must be absolute, such as `/home/me/project`, or start with `~/`, got "C:\\\\Users\\\\me"'],
  ['a Windows path with forward slashes', { read: ['C:/Users/me'] }, '$.read[0]: paths must be absolute, such as `/home/me/project`, or start with `~/`, got "C:/Users/me"'],
  ['a relative host path before a container path', { write: ['data:/data'] }, '$.write[0]: paths must be absolute, such as `/home/me/project`, or start with `~/`, got "data:/data"'],
  ['a ".." segment', { read: ['/a/../b'] }, '$.read[0]: ".." segments are not allowed, got "/a/../b"; write the path without them'],
  ['a ".." segment after the home', { read: ['~/..'] }, '$.read[0]: ".." segments are not allowed, got "~/.."; write the path without them'],
  ['a ".." segment in the container path', { read: ['/srv:/work/../etc'] }, '$.read[0]: ".." segments are not allowed, got "/srv:/work/../etc"; write the path without them'],
  ['a missing host path before the colon', { read: [':/data'] }, '$.read[0]: expected a host path before ":", such as "/srv/data:/data", got ":/data"'],
  ['the container root', { read: ['/srv:/'] }, '$.read[0]: the container path must not be /, which would replace the whole filesystem; choose a folder such as /work'],
  ['the root mirrored', { write: ['/'] }, '$.write[0]: the container path must not be /, which would replace the whole filesystem; choose a folder such as /work'],
  ['a container path inside /proc', { read: ['/srv:/proc/self'] }, '$.read[0]: the container path /proc/self is reserved (/proc); choose another, such as /work'],
  ['/sys mirrored', { read: ['/sys'] }, '$.read[0]: the container path /sys is reserved (/sys); choose another, such as /work'],
  ['a container path inside /dev', { write: ['/srv:/dev/shm'] }, '$.write[0]: the container path /dev/shm is reserved (/dev); choose another, such as /work'],
  ['mcp-lok\'s package folder', { read: ['/srv:/opt/mcp-lok'] }, '$.read[0]: the container path /opt/mcp-lok is reserved (/opt/mcp-lok); choose another, such as /work'],
  ['a folder inside mcp-lok\'s package folder', { read: ['/srv:/opt/mcp-lok/pkgs/x'] }, '$.read[0]: the container path /opt/mcp-lok/pkgs/x is reserved (/opt/mcp-lok); choose another, such as /work'],
  ['a folder hiding mcp-lok\'s package folder', { read: ['/srv:/opt'] }, '$.read[0]: the container path /opt would hide /opt/mcp-lok, which the sandbox needs; choose another, such as /work'],
  ['mcp-lok\'s run folder', { write: ['/srv:/run/mcp-lok/x'] }, '$.write[0]: the container path /run/mcp-lok/x is reserved (/run/mcp-lok); choose another, such as /work'],
  ['a folder hiding mcp-lok\'s run folder', { write: ['/srv:/run'] }, '$.write[0]: the container path /run would hide /run/mcp-lok, which the sandbox needs; choose another, such as /work'],
  ['mcp-lok\'s run folder through /var/run', { write: ['/srv:/var/run/mcp-lok'] }, '$.write[0]: the container path /var/run/mcp-lok is reserved (/var/run/mcp-lok); choose another, such as /work'],
  ['/var, which holds /var/run', { write: ['/var'] }, '$.write[0]: the container path /var would hide /var/run/mcp-lok, which the sandbox needs; choose another, such as /work'],
  ['the sandbox\'s /tmp', { write: ['/scratch:/tmp/'] }, '$.write[0]: the container path /tmp is the sandbox\'s own temporary folder; use a folder below it, such as /tmp/data, or another path'],
  ['the sandbox\'s home', { read: ['~/:/home/node'] }, '$.read[0]: the container path /home/node is the sandbox\'s own home; use a folder below it, such as /home/node/data, or another path'],
  ['a path listed twice', { read: ['/a', '/b', '/c', '/a'] }, '$.read[3]: duplicate of $.read[0]; list each entry once'],
  ['a path listed twice once normalised', { write: ['~/x', '~/x/'] }, '$.write[1]: duplicate of $.write[0]; list each entry once'],
  ['two host paths at one container path in read', { read: ['/srv/a:/data', '/data'] }, '$.read[1]: the container path /data is already granted by $.read[0]; each container path may be granted once'],
  ['two host paths at one container path across read and write', { read: ['/srv/a:/data'], write: ['/srv/b:/data'] }, '$.write[0]: the container path /data is already granted by $.read[0]; each container path may be granted once'],
  // Transports.
  ['the original README example with "udp"', readmeProfile(['tcp', 'udp']), `${OUT}.allow_transport[1]: UDP cannot be allowed: the egress proxy carries TCP only; remove "udp"`],
  ['"UDP" in capitals', outbound({ allow_transport: ['UDP'] }), `${OUT}.allow_transport[0]: UDP cannot be allowed: the egress proxy carries TCP only; remove "UDP"`],
  ['another transport', outbound({ allow_transport: ['sctp'] }), `${OUT}.allow_transport[0]: expected "tcp", the only transport the egress proxy carries, got "sctp"`],
  ['"TCP" in capitals', outbound({ allow_transport: ['TCP'] }), `${OUT}.allow_transport[0]: expected "tcp", the only transport the egress proxy carries, got "TCP"`],
  ['an empty transport list', outbound({ allow_transport: [], allow_host: ['a.example.com'], allow_port: [443] }), `${OUT}.allow_transport: an empty list means nothing could connect; omit it or use ["tcp"]`],
  ['a transport listed twice', outbound({ allow_transport: ['tcp', 'tcp'] }), `${OUT}.allow_transport[1]: duplicate of ${OUT}.allow_transport[0]; list each entry once`],
  // Hosts.
  ['an empty host', hosts('a.example.com', ''), `${OUT}.allow_host[1]: expected a host name such as "api.github.com", got an empty string`],
  ['a host with a space', hosts('api github.com'), `${OUT}.allow_host[0]: host names cannot contain spaces or control characters, got "api github.com"`],
  ['a host with a trailing newline', hosts('api.github.com\n'), `${OUT}.allow_host[0]: host names cannot contain spaces or control characters, got "api.github.com\\n"`],
  ['a URL', hosts('https://x.example.com'), `${OUT}.allow_host[0]: expected a host name, not a URL: use \`x.example.com\``],
  ['a URL with a user, port and path', hosts('http://me@API.GitHub.com:8443/repos?x=1'), `${OUT}.allow_host[0]: expected a host name, not a URL: use \`api.github.com\``],
  ['a URL without a host', hosts('file:///etc/hosts'), `${OUT}.allow_host[0]: expected a host name, not a URL, got "file:///etc/hosts"`],
  ['a host with a path', hosts('api.github.com/repos'), `${OUT}.allow_host[0]: expected a host name, not a path: use \`api.github.com\``],
  ['a file path', hosts('/etc/hosts'), `${OUT}.allow_host[0]: expected a host name, not a path, got "/etc/hosts"`],
  ['an IPv4 range', hosts('10.0.0.0/8'), `${OUT}.allow_host[0]: address ranges are not supported, got "10.0.0.0/8"; list the addresses`],
  ['an IPv6 range', hosts('2001:db8::/32'), `${OUT}.allow_host[0]: address ranges are not supported, got "2001:db8::/32"; list the addresses`],
  ['a host with a port', hosts('api.github.com:443'), `${OUT}.allow_host[0]: expected a host without a port: use \`api.github.com\` and put 443 in allow_port`],
  ['an IPv4 address with a port', hosts('10.0.0.5:8080'), `${OUT}.allow_host[0]: expected a host without a port: use \`10.0.0.5\` and put 8080 in allow_port`],
  ['a bracketed IPv6 address with a port', hosts('[::1]:443'), `${OUT}.allow_host[0]: expected a host without a port: use \`::1\` and put 443 in allow_port`],
  ['colons that make no address', hosts('a:b:c'), `${OUT}.allow_host[0]: expected a host name or IP address, got "a:b:c"`],
  ['an IPv6 zone id', hosts('fe80::1%eth0'), `${OUT}.allow_host[0]: IPv6 zone ids are not supported, got "fe80::1%eth0"; write the address without %zone`],
  ['an IPv4 address in brackets', hosts('[10.0.0.5]'), `${OUT}.allow_host[0]: only IPv6 addresses may be written in brackets, got "[10.0.0.5]"`],
  ['an IPv4 part above 255', hosts('256.1.1.1'), `${OUT}.allow_host[0]: expected an IPv4 address of four numbers from 0 to 255 without leading zeros, such as 10.0.0.5, got "256.1.1.1"`],
  ['an IPv4 address with three parts', hosts('10.0.5'), `${OUT}.allow_host[0]: expected an IPv4 address of four numbers from 0 to 255 without leading zeros, such as 10.0.0.5, got "10.0.5"`],
  ['an IPv4 address with leading zeros', hosts('010.0.0.5'), `${OUT}.allow_host[0]: expected an IPv4 address of four numbers from 0 to 255 without leading zeros, such as 10.0.0.5, got "010.0.0.5"`],
  ['a name ending in a number', hosts('example.123'), `${OUT}.allow_host[0]: expected an IPv4 address such as 10.0.0.5 or a host name, got "example.123"`],
  ['a lone "*"', hosts('*'), `${OUT}.allow_host[0]: a lone "*" would allow every host; list the hosts, or set insecure_allow_all to true`],
  ['a wildcard over a top-level domain', hosts('*.com'), `${OUT}.allow_host[0]: a wildcard needs at least two labels after "*.", such as "*.example.com", got "*.com"`],
  ['a wildcard over a two-letter domain', hosts('*.co'), `${OUT}.allow_host[0]: a wildcard needs at least two labels after "*.", such as "*.example.com", got "*.co"`],
  ['a wildcard inside a name', hosts('a.*.com'), `${OUT}.allow_host[0]: "*" may only be the whole first label, such as "*.example.com", got "a.*.com"`],
  ['a wildcard glued to a label', hosts('*example.com'), `${OUT}.allow_host[0]: "*" may only be the whole first label, such as "*.example.com", got "*example.com"`],
  ['two wildcards', hosts('*.*.example.com'), `${OUT}.allow_host[0]: "*" may only be the whole first label, such as "*.example.com", got "*.*.example.com"`],
  ['a name with a final dot', hosts('api.github.com.'), `${OUT}.allow_host[0]: write the name without the final dot: use \`api.github.com\``],
  ['a label starting with a hyphen', hosts('-bad.example.com'), `${OUT}.allow_host[0]: expected a host name of dot-separated labels made of letters, digits and inner hyphens (at most 63 each), got "-bad.example.com"`],
  ['a label with an underscore', hosts('my_host.example.com'), `${OUT}.allow_host[0]: expected a host name of dot-separated labels made of letters, digits and inner hyphens (at most 63 each), got "my_host.example.com"`],
  ['an empty label', hosts('a..example.com'), `${OUT}.allow_host[0]: expected a host name of dot-separated labels made of letters, digits and inner hyphens (at most 63 each), got "a..example.com"`],
  ['a label of 64 characters', hosts(`${'a'.repeat(64)}.example.com`), `${OUT}.allow_host[0]: expected a host name of dot-separated labels made of letters, digits and inner hyphens (at most 63 each), got "${'a'.repeat(64)}.example.com"`],
  ['a name longer than 253 characters', hosts(`${'abcdefghi.'.repeat(25)}com1`), `${OUT}.allow_host[0]: host names are at most 253 characters, got 254`],
  ['a single-label name', hosts('intranet'), `${OUT}.allow_host[0]: expected a full host name such as "api.example.com" (only "localhost" may stand alone), got "intranet"`],
  ['an international name', hosts('bücher.de'), `${OUT}.allow_host[0]: write international names in their ASCII form: use \`xn--bcher-kva.de\``],
  ['a host listed twice', hosts('a.example.com', 'A.Example.com'), `${OUT}.allow_host[1]: duplicate of ${OUT}.allow_host[0]; list each entry once`],
  ['an IPv6 address listed twice in two spellings', hosts('2001:db8::1', '2001:DB8:0:0::1'), `${OUT}.allow_host[1]: duplicate of ${OUT}.allow_host[0]; list each entry once`],
  // Ports and the lists together.
  ['a port listed twice', outbound({ allow_host: ['a.example.com'], allow_port: [443, 80, 443] }), `${OUT}.allow_port[2]: duplicate of ${OUT}.allow_port[0]; list each entry once`],
  ['hosts with an empty port list', outbound({ allow_host: ['a.example.com'], allow_port: [] }), `${OUT}.allow_port: an empty list would allow every port; list the ports, such as [443]`],
  ['hosts without a port list', outbound({ allow_host: ['a.example.com'] }), `${OUT}.allow_port: missing; ports must be explicit, so list the ports allow_host may use, such as [443]`],
  ['ports with an empty host list', outbound({ allow_host: [], allow_port: [443] }), `${OUT}.allow_host: an empty list would allow every host; list the hosts, such as ["api.github.com"]`],
  ['ports without a host list', outbound({ allow_port: [443] }), `${OUT}.allow_host: missing; hosts must be explicit, so list the hosts allow_port applies to, such as ["api.github.com"]`],
  ['insecure_allow_all with hosts', outbound({ insecure_allow_all: true, allow_host: ['a.example.com'], allow_port: [443] }), `${OUT}.allow_host: contradicts insecure_allow_all, which already allows every host and port; remove allow_host, or set insecure_allow_all to false to allow only what the lists name`],
  ['insecure_allow_all with ports', outbound({ insecure_allow_all: true, allow_port: [443] }), `${OUT}.allow_port: contradicts insecure_allow_all, which already allows every host and port; remove allow_port, or set insecure_allow_all to false to allow only what the lists name`],
];

for (const [title, value, detail] of rejected) {
  validate(`rejects ${title}, naming the JSON path`, () => {
    const error = validationError(value);
    assert.is(error.message, `profile.json: ${detail}.`);
    assert.is(error.code, 'PROFILE_INVALID');
    assert.is(error.exitCode, 2);
  });
}

validate('keeps every message on one line, whatever the source name and the values hold', () => {
  const sneaky = [
    { read: ['/a\u2028b'] }, { read: ['rel\u2029ative'] }, hosts('a\u2028.example.com'), hosts('\u202eexample.com'),
    { ['x\ny']: 1 }, hosts('https://exa\u2028mple.com'), outbound({ allow_transport: ['u\u2028dp'] }),
  ];
  for (const source of ['profile.json', 'evil\nname.json', 'sep\u2028.json']) {
    for (const value of [...rejected.map(([, v]) => v), ...sneaky]) {
      const { message } = validationError(value, source);
      assert.not.match(message, /[\n\r\u2028\u2029\u202e]/, `${JSON.stringify(message)} spans lines`);
    }
  }
  assert.is(validationError([], 'evil\nname.json').message, '"evil\\nname.json": $: expected an object with the keys read, write, network, git_writable, pin_tools, got a list.');
});

validate('returns new objects that do not share lists with the input', () => {
  const input = { read: ['/a'], network: { outbound: { allow_host: ['a.example.com'], allow_port: [443] } } };
  const profile = validateProfile(input, 'profile.json');
  profile.outbound.ports.push(80);
  assert.equal(input.network.outbound.allow_port, [443]);
});

const container = suite('findContainerPathProblem');

const containerPaths: Array<[string, string | undefined]> = [
  ['/work', undefined],
  ['/var/run/mcp.sock', undefined],
  ['/home/node/project', undefined],
  ['/tmp/cache', undefined],
  ['/optional', undefined],
  ['/procfs', undefined],
  ['/', 'the container path must not be /, which would replace the whole filesystem; choose a folder such as /work'],
  ['/proc', 'the container path /proc is reserved (/proc); choose another, such as /work'],
  ['/dev/null', 'the container path /dev/null is reserved (/dev); choose another, such as /work'],
  ['/opt/mcp-lok/bin', 'the container path /opt/mcp-lok/bin is reserved (/opt/mcp-lok); choose another, such as /work'],
  ['/var/run', 'the container path /var/run would hide /var/run/mcp-lok, which the sandbox needs; choose another, such as /work'],
  ['/home/node', 'the container path /home/node is the sandbox\'s own home; use a folder below it, such as /home/node/data, or another path'],
];

for (const [path, problem] of containerPaths) {
  container(`${problem ? 'refuses' : 'accepts'} ${path}`, () => {
    assert.is(findContainerPathProblem(path), problem);
  });
}

const describe = suite('describeProfile');

const descriptions: Array<[string, Profile, string[]]> = [
  ['says none for the most restrictive profile', BUILT_IN_PROFILES.stdio, ['files: none', 'network: none']],
  ['warns in capitals for any host and port', BUILT_IN_PROFILES.network, ['files: none', 'network: ANY public host and port (insecure_allow_all)']],
  [
    'lists read-only and read-write grants, with the container path when it differs',
    { read: [{ host: '/home/me/project', container: '/home/me/project' }, { host: '~/docs', container: '~/docs' }], write: [{ host: '/data', container: '/work' }], outbound: NO_NETWORK },
    ['read-only: /home/me/project', 'read-only: ~/docs', 'read-write: /data -> /work', 'network: none'],
  ],
  [
    'says when .git folders in write grants are writable',
    { read: [], write: [{ host: '~/app', container: '~/app' }], outbound: NO_NETWORK, gitWritable: true },
    ['read-write: ~/app', 'git: .git folders in write grants are writable (git_writable)', 'network: none'],
  ],
  [
    'lists the hosts and ports that may be reached',
    { read: [], write: [], outbound: { insecureAllowAll: false, transports: ['tcp'], hosts: ['api.github.com', '*.example.com'], ports: [443] } },
    ['files: none', 'network: tcp to api.github.com, *.example.com on ports 443'],
  ],
  [
    'lists several ports',
    { read: [], write: [], outbound: { insecureAllowAll: false, transports: ['tcp'], hosts: ['localhost'], ports: [80, 443] } },
    ['files: none', 'network: tcp to localhost on ports 80, 443'],
  ],
  [
    'says none when no transport is allowed, whatever the lists say',
    { read: [], write: [], outbound: { insecureAllowAll: false, transports: [], hosts: ['localhost'], ports: [80] } },
    ['files: none', 'network: none'],
  ],
];

for (const [title, profile, lines] of descriptions) {
  describe(title, () => {
    assert.equal(describeProfile(profile), lines);
  });
}

describe('describes the original README example as one read-write grant and its hosts', () => {
  assert.equal(describeProfile(validateProfile(readmeProfile(['tcp']), 'profile.json')), [
    'read-write: /var/run/mcp.sock',
    'network: tcp to localhost, google.com on ports 80, 443',
  ]);
});

const builtIns = suite('BUILT_IN_PROFILES');

builtIns('has stdio allowing nothing and network allowing any TCP egress', () => {
  assert.equal(BUILT_IN_PROFILES.stdio, { read: [], write: [], outbound: NO_NETWORK });
  assert.equal(BUILT_IN_PROFILES.network, { read: [], write: [], outbound: { insecureAllowAll: true, transports: ['tcp'], hosts: [], ports: [] } });
});

builtIns('is frozen, so no caller can widen a shared built-in', () => {
  for (const profile of Object.values(BUILT_IN_PROFILES)) {
    assert.ok(Object.isFrozen(profile));
    assert.ok(Object.isFrozen(profile.read) && Object.isFrozen(profile.write));
    assert.ok(Object.isFrozen(profile.outbound) && Object.isFrozen(profile.outbound.hosts) && Object.isFrozen(profile.outbound.ports));
    assert.throws(() => profile.read.push({ host: '/', container: '/' }));
  }
});

builtIns('is what validateProfile returns for the equivalent profile files', () => {
  assert.equal(validateProfile({}, 'stdio'), BUILT_IN_PROFILES.stdio);
  assert.equal(validateProfile(outbound({ insecure_allow_all: true, allow_transport: ['tcp'] }), 'network'), BUILT_IN_PROFILES.network);
});

const roundTrip = suite('profileToJson');

for (const [title, value] of accepted.map(([t, v]) => [t, v] as const)) {
  roundTrip(`gives back ${title}`, () => {
    const profile = validateProfile(value, 'profile.json');
    assert.equal(validateProfile(profileToJson(profile), 'record'), profile);
  });
}
roundTrip('gives back the built-ins and git_writable', () => {
  for (const profile of [BUILT_IN_PROFILES.stdio, BUILT_IN_PROFILES.network, validateProfile({ write: ['/srv/a:/a'], git_writable: true }, 'p')]) {
    assert.equal(validateProfile(profileToJson(profile), 'record'), profile);
  }
});

validate.run();
roundTrip.run();
container.run();
describe.run();
builtIns.run();
