import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LokError } from '../../src/errors.js';
import { expandServiceNames, parseRouteGateways, readAllowedHosts, readPodEgressConfig, readPodServeConfig, serverEnv } from '../../src/pod/config.js';

function refusal(run: () => unknown): LokError {
  try { run(); } catch (error) { if (error instanceof LokError) return error; throw error; }
  throw new Error('expected a LokError');
}

const serve = suite('readPodServeConfig');

serve('defaults to streamable HTTP on 8080, loopback names only, no token', () => {
  assert.equal(readPodServeConfig({}), { transport: 'streamable-http', port: 8080, allowedHosts: [], token: undefined });
});

serve('reads the transport, port, the Service\'s names and the token', () => {
  const config = readPodServeConfig({
    MCP_LOK_POD_TRANSPORT: 'sse', MCP_LOK_POD_PORT: '9000', MCP_LOK_POD_TOKEN: '0123456789abcdef0123',
    MCP_LOK_POD_ALLOWED_HOSTS: 'memory, Memory.team,memory.team.svc.cluster.local 10.96.0.12 [fd00::1]',
  });
  assert.equal(config, {
    transport: 'sse', port: 9000, token: '0123456789abcdef0123',
    allowedHosts: ['memory', 'memory.team', 'memory.team.svc.cluster.local', '10.96.0.12', 'fd00::1'],
  });
});

for (const [env, message] of [
  [{ MCP_LOK_POD_TRANSPORT: 'stdio' }, /MCP_LOK_POD_TRANSPORT must be streamable-http or sse, got "stdio"/],
  [{ MCP_LOK_POD_PORT: '0' }, /MCP_LOK_POD_PORT must be a TCP port/],
  [{ MCP_LOK_POD_PORT: '80a' }, /MCP_LOK_POD_PORT must be a TCP port/],
  [{ MCP_LOK_POD_PORT: '70000' }, /MCP_LOK_POD_PORT must be a TCP port/],
  [{ MCP_LOK_POD_TOKEN: 'short' }, /at least 16/],
  // Set from a Secret whose key is empty: the pod must not serve everyone without a word.
  [{ MCP_LOK_POD_TOKEN: '' }, /MCP_LOK_POD_TOKEN is set but empty/],
  [{ MCP_LOK_POD_TOKEN: 'has a space in it, sixteen+' }, /printable ASCII without spaces/],
  [{ MCP_LOK_POD_ALLOWED_HOSTS: 'http://memory' }, /without ports or schemes, got "http:\/\/memory"/],
  [{ MCP_LOK_POD_ALLOWED_HOSTS: 'memory:8080' }, /without ports or schemes/],
  [{ MCP_LOK_POD_ALLOWED_HOSTS: '*.svc' }, /without ports or schemes/],
] as const) {
  serve(`refuses ${JSON.stringify(env)} in one line, exit 1`, () => {
    const error = refusal(() => readPodServeConfig(env));
    assert.match(error.message, message);
    assert.is(error.exitCode, 1);
    assert.not.match(error.message, /\n/);
  });
}

serve('adds a short Service name\'s longer forms in the pod\'s namespace (MCP_LOK_POD_NAMESPACE, from the downward API)', () => {
  assert.equal(readPodServeConfig({ MCP_LOK_POD_ALLOWED_HOSTS: 'memory,10.96.0.12,memory.other', MCP_LOK_POD_NAMESPACE: 'team' }).allowedHosts, [
    'memory', '10.96.0.12', 'memory.other', 'memory.team', 'memory.team.svc', 'memory.team.svc.cluster.local',
  ]);
  assert.equal(expandServiceNames(['memory'], undefined), ['memory']);
  assert.match(refusal(() => readPodServeConfig({ MCP_LOK_POD_NAMESPACE: 'Team/x' })).message, /MCP_LOK_POD_NAMESPACE must be a namespace name/);
});

serve('reads an empty host list as none', () => {
  assert.equal(readAllowedHosts(' , '), []);
  assert.equal(readAllowedHosts(undefined), []);
});

serve.run();

const egress = suite('readPodEgressConfig');

egress('checks the rules with the profile code and defaults to port 3128', () => {
  assert.equal(readPodEgressConfig({ MCP_LOK_EGRESS_RULES: '{"allow_host":["API.example.com","10.0.0.5"],"allow_port":[443]}' }), {
    port: 3128, rules: { insecureAllowAll: false, transports: ['tcp'], hosts: ['api.example.com', '10.0.0.5'], ports: [443] },
  });
  assert.is(readPodEgressConfig({ MCP_LOK_EGRESS_RULES: '{}', MCP_LOK_EGRESS_PORT: '8888' }).port, 8888);
});

for (const [text, message] of [
  [undefined, /MCP_LOK_EGRESS_RULES is not set/],
  ['', /MCP_LOK_EGRESS_RULES is not set/],
  ['{"allow_host":', /MCP_LOK_EGRESS_RULES is not JSON/],
  ['{"allow_host":["api.example.com"]}', /MCP_LOK_EGRESS_RULES: \$\.allow_port: missing/],
  ['{"allow_host":["*"],"allow_port":[443]}', /\$\.allow_host\[0\]: a lone "\*"/],
  ['{"hosts":["a.example"]}', /\$\.hosts: unknown key/],
  ['["api.example.com"]', /expected an object/],
] as const) {
  egress(`refuses MCP_LOK_EGRESS_RULES=${JSON.stringify(text)} in one line, exit 1`, () => {
    const error = refusal(() => readPodEgressConfig(text === undefined ? {} : { MCP_LOK_EGRESS_RULES: text }));
    assert.match(error.message, message);
    assert.is(error.exitCode, 1);
    assert.match(error.hint ?? '', /network\.outbound object/);
  });
}

egress.run();

const env = suite('serverEnv');

env('passes the pod\'s variables to the server but none of mcp-lok\'s own (the token above all)', () => {
  assert.equal(serverEnv({ GITHUB_TOKEN: 'g', PATH: '/bin', MCP_LOK_POD_TOKEN: 'secret', MCP_LOK_POD_PORT: '1', UNSET: undefined }), { GITHUB_TOKEN: 'g', PATH: '/bin' });
});

env.run();

const routes = suite('parseRouteGateways');

routes('reads the gateways of /proc/net/route and ipv6_route, skipping direct routes', () => {
  const route = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'eth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0',
    'eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
  ].join('\n');
  const route6 = 'fe800000000000000000000000000000 40 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000064 00000000 00000000 00000003 eth0';
  assert.equal(parseRouteGateways(route, route6), ['172.17.0.1', 'fe80:0000:0000:0000:0000:0000:0000:0001']);
  assert.equal(parseRouteGateways('', ''), []);
});

routes.run();
