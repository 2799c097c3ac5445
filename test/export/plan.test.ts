import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chooseKubeName, serviceHostVariable } from '../../src/export/names.js';
import { formatCpus, formatMemory, planExport, type ExportRequest } from '../../src/export/plan.js';
import { parseServerSource } from '../../src/request/source.js';
import { BUILT_IN_PROFILES, validateProfile } from '../../src/sandbox/profile-validate.js';
import { catchError } from '../support/catch-error.js';

function request(overrides: Partial<ExportRequest> = {}): ExportRequest {
  return {
    source: parseServerSource('npx://@modelcontextprotocol/server-memory'), sourceText: 'npx://@modelcontextprotocol/server-memory',
    args: [], transport: 'streamable-http',
    profile: { name: 'stdio', source: 'built-in', profile: BUILT_IN_PROFILES.stdio },
    name: 'memory', namespace: undefined, memoryBytes: 2 ** 30, cpus: 2, env: [], secrets: [], volumes: [],
    image: 'registry.example.com/memory:1', egressImage: undefined, servicePort: undefined, targetPort: undefined,
    allowFrom: [], homeDir: '/home/me', ...overrides,
  };
}
const profile = (json: unknown) => ({ name: 'p.json', source: 'p.json', profile: validateProfile(json, 'p.json') });
const GRANTS = profile({ read: ['~/docs'], write: ['/srv/data:/data'] });
const API = profile({ network: { outbound: { allow_host: ['api.github.com'], allow_port: [443] } } });

const quantities = suite('formatMemory and formatCpus');
for (const [bytes, text] of [[2 ** 30, '1Gi'], [1.5 * 2 ** 30, '1536Mi'], [6 * 2 ** 20, '6Mi'], [1000 * 1024, '1000Ki'], [1_000_001, '1000001']] as const) {
  quantities(`${bytes} bytes is ${text}`, () => assert.is(formatMemory(bytes), text));
}
for (const [cpus, text] of [[2, '2'], [0.5, '500m'], [1.25, '1250m'], [0.01, '10m'], [64, '64']] as const) {
  quantities(`${cpus} CPUs is ${text}`, () => assert.is(formatCpus(cpus), text));
}
quantities.run();

const names = suite('chooseKubeName and serviceHostVariable');
for (const [given, hint, name] of [
  [undefined, 'server-memory', 'server-memory'],
  [undefined, 'My_Server.v2', 'my-server-v2'],
  [undefined, '9lives', 'lives'],
  [undefined, '___', 'mcp-server'],
  ['memory', 'x', 'memory'],
] as const) {
  names(`${given ?? hint} gives ${name}`, () => assert.is(chooseKubeName(given, hint), name));
}
for (const bad of ['Memory', 'my_server', '-x', 'a'.repeat(57), '1abc']) {
  names(`--name ${bad} is refused in one line`, () => assert.match(catchError(() => chooseKubeName(bad, 'x')).message, /^Expected `--name` to be a Kubernetes name/));
}
names('the egress Service\'s variable is the one Kubernetes sets', () => assert.is(serviceHostVariable('my-server-egress'), 'MY_SERVER_EGRESS_SERVICE_HOST'));
names.run();

const refusals = suite('planExport refuses, in one line, what it cannot carry');
for (const [title, req, message] of [
  ['an npx:// server without --image', request({ image: undefined }), /build and push it with `mcp-lok image build --push REF npx:\/\/@modelcontextprotocol\/server-memory`, then pass `--image REF`/],
  ['--image for a server from an image', request({ source: parseServerSource('ghcr.io/o/s:1'), sourceText: 'ghcr.io/o/s:1' }), /`--image` is for npx:\/\/ servers/],
  ['an allowlist without --egress-image', request({ profile: API }), /`mcp-lok image build --push REF --egress-proxy`, then pass `--egress-image REF`/],
  ['--egress-image with no allowlist', request({ egressImage: 'r/e:1' }), /`--egress-image` has nothing to run/],
  ['a grant without a mapping', request({ profile: GRANTS, volumes: [{ grant: '/data', kind: 'pvc', name: 'data' }] }), /^Profile p\.json grants ~\/docs \(read-only\), and a cluster has no host folders: map it to a volume with `--volume ~\/docs=PVC` or `--volume ~\/docs=configmap:NAME`\.$/],
  ['a write grant on a ConfigMap', request({ profile: GRANTS, volumes: [{ grant: '~/docs', kind: 'pvc', name: 'd' }, { grant: '/data', kind: 'configmap', name: 'x' }] }), /grants \/data read-write, and a ConfigMap is read-only/],
  ['a mapping of no grant', request({ profile: GRANTS, volumes: [{ grant: '/elsewhere', kind: 'pvc', name: 'x' }] }), /`--volume \/elsewhere=\.\.\.` names no grant of profile p\.json \(its grants: ~\/docs, \/data\)/],
  ['a grant mapped twice', request({ profile: GRANTS, volumes: [{ grant: '~/docs', kind: 'pvc', name: 'a' }, { grant: '/home/me/docs', kind: 'pvc', name: 'b' }, { grant: '/data', kind: 'pvc', name: 'c' }] }), /Grant ~\/docs is mapped 2 times/],
  ['a variable mcp-lok sets', request({ env: [{ name: 'MCP_LOK_POD_PORT', value: '1' }] }), /The variable MCP_LOK_POD_PORT is set by mcp-lok/],
  ['the proxy variable of an allowlisted server', request({ profile: API, egressImage: 'r/e:1', secrets: [{ env: 'HTTPS_PROXY', secret: 's', key: 'k' }] }), /The variable HTTPS_PROXY is set by mcp-lok/],
  ['a variable given twice', request({ env: [{ name: 'A', value: '1' }], secrets: [{ env: 'A', secret: 's', key: 'k' }] }), /The variable A is given twice/],
] as const) {
  refusals(title, () => {
    const error = catchError(() => planExport(req));
    assert.is(error.exitCode, 2);
    assert.not.match(error.message, /\n/);
    assert.match(error.message, message);
  });
}
refusals.run();

const plans = suite('planExport');
plans('grants become volumes where they are on this machine: read-only stays read-only', () => {
  const plan = planExport(request({ profile: GRANTS, volumes: [{ grant: '/home/me/docs', kind: 'configmap', name: 'docs' }, { grant: '/srv/data', kind: 'pvc', name: 'data' }] }));
  assert.equal(plan.volumes, [
    { volume: 'grant-0', mountPath: '/home/me/docs', readOnly: true, kind: 'configmap', claimOrMap: 'docs' },
    { volume: 'grant-1', mountPath: '/data', readOnly: false, kind: 'pvc', claimOrMap: 'data' },
  ]);
});
plans('secrets are references, never values; the user\'s variables win over the fixed set', () => {
  const plan = planExport(request({ env: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=512' }], secrets: [{ env: 'TOKEN', secret: 'api', key: 'token' }] }));
  assert.equal(plan.env.find((e) => e.name === 'TOKEN'), { name: 'TOKEN', secret: 'api', key: 'token' });
  assert.equal(plan.env.find((e) => e.name === 'NODE_OPTIONS'), { name: 'NODE_OPTIONS', value: '--max-old-space-size=512' });
  assert.equal(plan.env.find((e) => e.name === 'MCP_LOK_POD_TRANSPORT'), { name: 'MCP_LOK_POD_TRANSPORT', value: 'streamable-http' });
});
plans('the pod\'s bridge is told the Service\'s name and, from the downward API, its namespace (it answers no other Host); a token may come from a Secret', () => {
  const plan = planExport(request({ secrets: [{ env: 'MCP_LOK_POD_TOKEN', secret: 'mcp', key: 'token' }] }));
  assert.equal(plan.env.find((e) => e.name === 'MCP_LOK_POD_ALLOWED_HOSTS'), { name: 'MCP_LOK_POD_ALLOWED_HOSTS', value: plan.name });
  assert.equal(plan.env.filter((e) => e.name === 'MCP_LOK_POD_NAMESPACE'), [{ name: 'MCP_LOK_POD_NAMESPACE', field: 'metadata.namespace' }]);
  assert.equal(plan.env.find((e) => e.name === 'MCP_LOK_POD_TOKEN'), { name: 'MCP_LOK_POD_TOKEN', secret: 'mcp', key: 'token' });
  assert.throws(() => planExport(request({ env: [{ name: 'MCP_LOK_POD_NAMESPACE', value: 'x' }] })), /MCP_LOK_POD_NAMESPACE is set by mcp-lok/);
  const image = planExport(request({ source: parseServerSource('ghcr.io/o/s:1'), sourceText: 'ghcr.io/o/s:1', image: undefined }));
  assert.not.ok(image.env.some((e) => e.name.startsWith('MCP_LOK_POD_')), 'an image of its own has no bridge to tell');
});
plans('a server from an image gets PORT and MCP_PORT, as on a machine', () => {
  const plan = planExport(request({ source: parseServerSource('ghcr.io/o/s:1'), sourceText: 'ghcr.io/o/s:1', image: undefined, targetPort: 3000 }));
  assert.is(plan.image, 'ghcr.io/o/s:1');
  assert.equal(plan.env.filter((e) => e.name.endsWith('PORT')), [{ name: 'PORT', value: '3000' }, { name: 'MCP_PORT', value: '3000' }]);
  assert.is(plan.servicePort, 3000);
});
plans('an allowlisted server reaches its proxy by the address Kubernetes gives its Service, without DNS', () => {
  const plan = planExport(request({ profile: API, egressImage: 'r/e:1' }));
  assert.equal(plan.egress?.rules, { allow_host: ['api.github.com'], allow_port: [443] });
  assert.equal(plan.env.find((e) => e.name === 'HTTPS_PROXY'), { name: 'HTTPS_PROXY', value: 'http://$(MEMORY_EGRESS_SERVICE_HOST):3128' });
});
plans('the profile\'s summary is an annotation, and the labels name the server', () => {
  const plan = planExport(request({ profile: API, egressImage: 'r/e:1' }));
  assert.equal(plan.labels, { 'mcp-lok': 'true', 'mcp-lok-name': 'memory' });
  assert.is(plan.annotations['mcp-lok-profile-summary'], 'files: none; network: tcp to api.github.com on ports 443');
});
plans.run();
