import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { buildManifests, REFUSED_IPV4, type KubeObject } from '../../src/export/manifests.js';
import { planExport, type ExportRequest } from '../../src/export/plan.js';
import type { LoadedProfile } from '../../src/request/profiles.js';
import { parseServerSource } from '../../src/request/source.js';
import { BUILT_IN_PROFILES, validateProfile } from '../../src/sandbox/profile-validate.js';
import { findRestrictedViolations, findSandboxViolations } from './pss.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function profileOf(name: string, json: unknown): LoadedProfile {
  return { name, source: name, profile: validateProfile(json, name) };
}

function request(overrides: Partial<ExportRequest> = {}): ExportRequest {
  return {
    source: parseServerSource('npx://@modelcontextprotocol/server-memory@2025.9.25'),
    sourceText: 'npx://@modelcontextprotocol/server-memory@2025.9.25',
    args: [], transport: 'streamable-http',
    profile: { name: 'stdio', source: 'built-in', profile: BUILT_IN_PROFILES.stdio },
    name: 'memory', namespace: undefined, memoryBytes: 2 ** 30, cpus: 2,
    env: [], secrets: [], volumes: [],
    image: 'registry.example.com/mcp/memory:1', egressImage: undefined,
    servicePort: undefined, targetPort: undefined, allowFrom: [], homeDir: '/home/me',
    ...overrides,
  };
}

const ALLOWLIST = profileOf('github.json', { network: { outbound: { allow_host: ['api.github.com', '10.1.2.3'], allow_port: [443, 8443] } } });

/** Every shape of export: each is validated, checked against the standard, and its policies read. */
const CASES: ReadonlyArray<readonly [string, ExportRequest]> = [
  ['an npx:// server with the default profile', request()],
  ['a server from an image, over SSE, on its own port, in a namespace', request({
    source: parseServerSource('ghcr.io/org/server:1.0'), sourceText: 'ghcr.io/org/server:1.0', image: undefined,
    transport: 'sse', targetPort: 3000, servicePort: 80, namespace: 'mcp', args: ['--verbose'],
  })],
  ['an allowlisted server with a Secret and a variable', request({
    profile: ALLOWLIST, egressImage: 'registry.example.com/mcp/egress:1',
    secrets: [{ env: 'GITHUB_TOKEN', secret: 'github', key: 'token' }], env: [{ name: 'LOG_LEVEL', value: 'debug' }],
  })],
  ['the built-in network profile (any public host)', request({ profile: { name: 'network', source: 'built-in', profile: BUILT_IN_PROFILES.network }, egressImage: 'registry.example.com/mcp/egress:1' })],
  ['grants mapped to a PVC and a ConfigMap, clients chosen by label', request({
    profile: profileOf('fs.json', { read: ['~/docs'], write: ['/srv/data:/data'] }),
    volumes: [{ grant: '~/docs', kind: 'configmap', name: 'docs' }, { grant: '/data', kind: 'pvc', name: 'data' }],
    allowFrom: [{ kind: 'pods', labels: { app: 'agent' } }, { kind: 'namespaces', labels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } }],
    memoryBytes: 512 * 2 ** 20, cpus: 0.5,
  })],
];

type Validator = new (data: unknown) => { validate(): void };

async function validatorFor(object: KubeObject): Promise<Validator> {
  switch (`${object.apiVersion}/${object.kind}`) {
    case 'apps/v1/Deployment': return (await import('kubernetes-models/apps/v1/Deployment')).Deployment as unknown as Validator;
    case 'v1/Service': return (await import('kubernetes-models/v1/Service')).Service as unknown as Validator;
    case 'networking.k8s.io/v1/NetworkPolicy': return (await import('kubernetes-models/networking.k8s.io/v1/NetworkPolicy')).NetworkPolicy as unknown as Validator;
    default: throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  }
}

/** A JSON round trip: what kubectl receives is data, never class instances. */
function asData(object: KubeObject): unknown {
  return JSON.parse(JSON.stringify(object));
}

const schemas = suite('manifests against the Kubernetes API schemas (kubernetes-models)');

for (const [title, req] of CASES) {
  schemas(`${title}: every object is valid`, async () => {
    const objects = buildManifests(planExport(req));
    assert.ok(objects.length >= 3);
    for (const object of objects) {
      const Model = await validatorFor(object);
      try {
        new Model(asData(object)).validate();
      } catch (error) {
        assert.unreachable(`${object.kind} ${object.metadata?.name}: ${(error as Error).message}`);
      }
    }
  });
}

schemas('the validator refuses a broken object (the check can fail)', async () => {
  const [policy] = buildManifests(planExport(request()));
  const broken = asData(policy as KubeObject) as { spec: { egress: unknown[] } };
  broken.spec.egress = [{ ports: [{ protocol: 'ICMP', port: 1 }] }];
  const Model = await validatorFor(policy as KubeObject);
  assert.throws(() => new Model(broken).validate(), /protocol/);
  const built = buildManifests(planExport(request())).find((o) => o.kind === 'Deployment') as KubeObject;
  const deployment = asData(built) as IDeployment;
  (deployment.spec!.template.spec!.containers[0]!.securityContext as Record<string, unknown>).runAsUser = 'root';
  const Deployment = await validatorFor(built);
  assert.throws(() => new Deployment(deployment).validate(), /runAsUser must be integer/);
});

schemas.run();

function deployments(objects: KubeObject[]): IDeployment[] {
  return objects.filter((o): o is IDeployment => o.kind === 'Deployment');
}

const pss = suite('the restricted Pod Security Standard, field by field');

for (const [title, req] of CASES) {
  pss(`${title}: each pod passes restricted, and mcp-lok's own rules`, () => {
    const pods = deployments(buildManifests(planExport(req)));
    assert.is(pods.length, req.egressImage ? 2 : 1);
    for (const d of pods) {
      const spec = d.spec!.template.spec!;
      assert.equal(findRestrictedViolations(spec), [], d.metadata?.name);
      assert.equal(findSandboxViolations(spec), [], d.metadata?.name);
      const c = spec.containers[0]!;
      // Each rule, as the standard words it, on the container itself (not only inherited from the pod).
      assert.is(c.securityContext?.allowPrivilegeEscalation, false);
      assert.is(c.securityContext?.privileged, false);
      assert.equal(c.securityContext?.capabilities, { drop: ['ALL'] });
      assert.is(c.securityContext?.runAsNonRoot, true);
      assert.is(c.securityContext?.runAsUser, 1000);
      assert.equal(c.securityContext?.seccompProfile, { type: 'RuntimeDefault' });
      assert.is(c.securityContext?.readOnlyRootFilesystem, true);
      assert.is(spec.automountServiceAccountToken, false);
      assert.is(spec.hostNetwork ?? false, false);
      assert.is(spec.hostPID ?? false, false);
      assert.is(spec.hostIPC ?? false, false);
      assert.ok((spec.volumes ?? []).every((v) => v.hostPath === undefined));
      assert.ok((c.ports ?? []).every((p) => p.hostPort === undefined));
    }
  });
}

pss('the server gets its limits from --memory/--cpus, and memory-backed /tmp and home', () => {
  const [server] = deployments(buildManifests(planExport(request({ memoryBytes: 512 * 2 ** 20, cpus: 0.5 })))).filter((d) => d.metadata?.name === 'memory');
  const spec = server!.spec!.template.spec!;
  const c = spec.containers[0]!;
  assert.equal(c.resources?.limits, { memory: '512Mi', cpu: '500m' });
  assert.equal(c.resources?.requests, { memory: '256Mi', cpu: '100m' });
  const mountOf = (path: string): string | undefined => c.volumeMounts?.find((m) => m.mountPath === path)?.name;
  for (const path of ['/tmp', '/home/node']) {
    const volume = spec.volumes?.find((v) => v.name === mountOf(path));
    assert.equal(volume?.emptyDir, { medium: 'Memory', sizeLimit: '64Mi' }, path);
  }
});

pss('the checker finds each broken rule (it can fail)', () => {
  const [server] = deployments(buildManifests(planExport(request())));
  const spec = JSON.parse(JSON.stringify(server!.spec!.template.spec)) as NonNullable<NonNullable<IDeployment['spec']>['template']['spec']>;
  const c = spec.containers[0]!;
  c.securityContext = { ...c.securityContext, allowPrivilegeEscalation: true, privileged: true, capabilities: { add: ['SYS_ADMIN'] }, runAsNonRoot: false, seccompProfile: { type: 'Unconfined' }, readOnlyRootFilesystem: false };
  spec.hostNetwork = true;
  spec.automountServiceAccountToken = true;
  spec.volumes = [...(spec.volumes ?? []), { name: 'host', hostPath: { path: '/' } }];
  const found = findRestrictedViolations(spec).join('\n');
  for (const rule of ['host namespaces', 'privileged', 'adds SYS_ADMIN', 'allowPrivilegeEscalation', 'drop ALL', 'runAsNonRoot', 'seccompProfile', 'volume host']) assert.ok(found.includes(rule), rule);
  const own = findSandboxViolations(spec).join('\n');
  for (const rule of ['automountServiceAccountToken', 'readOnlyRootFilesystem']) assert.ok(own.includes(rule), rule);
});

pss.run();

/** What a profile's policies say, in short: the server's egress, and the proxy's ports. */
interface PolicySummary {
  serverEgress: 'none' | 'proxy only';
  proxy: undefined | { dns: boolean; ports: number[] | 'any'; addresses: string[] };
}

function summarize(objects: KubeObject[]): PolicySummary {
  const policies = objects.filter((o): o is INetworkPolicy => o.kind === 'NetworkPolicy');
  const server = policies.find((p) => p.metadata?.labels?.['mcp-lok-role'] === 'server')!;
  const proxy = policies.find((p) => p.metadata?.labels?.['mcp-lok-role'] === 'egress');
  assert.equal(server.spec?.policyTypes, ['Ingress', 'Egress']);
  const egress = server.spec?.egress ?? [];
  let serverEgress: PolicySummary['serverEgress'];
  if (egress.length === 0) serverEgress = 'none';
  else {
    // Exactly one rule: to the egress pods of this server, on the proxy's port; no DNS, no ipBlock.
    assert.is(egress.length, 1);
    assert.equal(egress[0]?.to, [{ podSelector: { matchLabels: { 'mcp-lok-name': 'memory', 'mcp-lok-role': 'egress' } } }]);
    assert.equal(egress[0]?.ports, [{ protocol: 'TCP', port: 3128 }]);
    serverEgress = 'proxy only';
  }
  if (!proxy) return { serverEgress, proxy: undefined };
  assert.equal(proxy.spec?.policyTypes, ['Ingress', 'Egress']);
  assert.equal(proxy.spec?.ingress, [{ from: [{ podSelector: { matchLabels: { 'mcp-lok-name': 'memory', 'mcp-lok-role': 'server' } } }], ports: [{ protocol: 'TCP', port: 3128 }] }]);
  const rules = proxy.spec?.egress ?? [];
  const dns = rules.some((r) => r.to?.[0]?.podSelector?.matchLabels?.['k8s-app'] === 'kube-dns' && r.ports?.every((p) => p.port === 53));
  const outside = rules.filter((r) => r.to?.some((t) => t.ipBlock));
  const ports = new Set<string>();
  const addresses: string[] = [];
  for (const rule of outside) {
    for (const p of rule.ports ?? []) ports.add(p.port === undefined ? 'any' : String(p.port));
    for (const t of rule.to ?? []) {
      const cidr = t.ipBlock?.cidr ?? '';
      if (cidr === '0.0.0.0/0') assert.equal(t.ipBlock?.except, REFUSED_IPV4);
      else if (cidr === '2000::/3') assert.ok(t.ipBlock?.except?.includes('2002::/16'));
      else addresses.push(cidr);
    }
  }
  return { serverEgress, proxy: { dns, ports: ports.has('any') ? 'any' : [...ports].map(Number), addresses } };
}

const policies = suite('the NetworkPolicy derived from each built-in and example profile');

const profileDir = join(ROOT, 'profiles');
const PROFILES: Array<readonly [string, LoadedProfile, PolicySummary]> = [
  ['built-in stdio', { name: 'stdio', source: 'built-in', profile: BUILT_IN_PROFILES.stdio }, { serverEgress: 'none', proxy: undefined }],
  ['built-in network', { name: 'network', source: 'built-in', profile: BUILT_IN_PROFILES.network }, { serverEgress: 'proxy only', proxy: { dns: true, ports: 'any', addresses: [] } }],
  ['README: one API host', profileOf('api.json', { network: { outbound: { allow_host: ['api.github.com'], allow_port: [443] } } }), { serverEgress: 'proxy only', proxy: { dns: true, ports: [443], addresses: [] } }],
  ['README: an explicit no-network profile', profileOf('none.json', { read: [], write: [], network: { outbound: { insecure_allow_all: false } } }), { serverEgress: 'none', proxy: undefined }],
  ['an address named by IP, on two ports', ALLOWLIST, { serverEgress: 'proxy only', proxy: { dns: true, ports: [443, 8443], addresses: ['10.1.2.3/32'] } }],
];
const EXPECTED_FILES: Record<string, PolicySummary> = {
  'stdio.json': { serverEgress: 'none', proxy: undefined },
  'network.json': { serverEgress: 'proxy only', proxy: { dns: true, ports: 'any', addresses: [] } },
};
for (const file of readdirSync(profileDir).filter((f) => f.endsWith('.json'))) {
  const expected = EXPECTED_FILES[file];
  policies(`profiles/${file} has an expected policy in this table`, () => assert.ok(expected, `add profiles/${file} to EXPECTED_FILES`));
  if (expected) PROFILES.push([`profiles/${file}`, profileOf(file, JSON.parse(readFileSync(join(profileDir, file), 'utf8'))), expected]);
}

for (const [title, profile, expected] of PROFILES) {
  policies(`${title}: server egress ${expected.serverEgress}${expected.proxy ? `, proxy ports ${String(expected.proxy.ports)}` : ''}`, () => {
    const egressImage = expected.proxy ? 'registry.example.com/mcp/egress:1' : undefined;
    const objects = buildManifests(planExport(request({ profile, egressImage })));
    assert.equal(summarize(objects), expected);
    assert.is(objects.filter((o) => o.kind === 'Deployment').length, expected.proxy ? 2 : 1);
  });
}

policies('ingress comes only from the namespace by default, or from the clients chosen', () => {
  const ingressOf = (req: ExportRequest): unknown => (buildManifests(planExport(req))[0] as INetworkPolicy).spec?.ingress;
  assert.equal(ingressOf(request()), [{ from: [{ podSelector: {} }], ports: [{ protocol: 'TCP', port: 8080 }] }]);
  assert.equal(ingressOf(request({ allowFrom: [{ kind: 'pods', labels: { app: 'agent' } }], targetPort: 9000 })), [{ from: [{ podSelector: { matchLabels: { app: 'agent' } } }], ports: [{ protocol: 'TCP', port: 9000 }] }]);
});

policies('policies come first, and the egress Service before the server\'s pods (they read its address)', () => {
  const kinds = buildManifests(planExport(request({ profile: ALLOWLIST, egressImage: 'registry.example.com/mcp/egress:1' }))).map((o) => `${o.kind}/${o.metadata?.name}`);
  assert.equal(kinds, ['NetworkPolicy/memory', 'NetworkPolicy/memory-egress', 'Service/memory-egress', 'Deployment/memory-egress', 'Service/memory', 'Deployment/memory']);
});

policies.run();
