// The manifests of an export, built from its plan (pure). Typed with kubernetes-models'
// interfaces (types only: nothing of it is loaded at run time), so a misspelt field fails the
// build; the tests validate each object against the API schemas the package ships.
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import type { IVolumeMount } from 'kubernetes-models/v1/VolumeMount';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { INetworkPolicyEgressRule } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyEgressRule';
import type { INetworkPolicyIngressRule } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyIngressRule';
import type { INetworkPolicyPeer } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer';
import type { INetworkPolicyPort } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPort';
import { HOME_SIZE_BYTES, TMP_SIZE_BYTES } from '../sandbox/hardening.js';
import { EGRESS_PROXY_LIMITS, EGRESS_PROXY_PORT, formatMemory, POD_HOME, type ExportPlan, type IngressPeer } from './plan.js';

/** One object of the output, in the order `kubectl apply -f` creates them. */
export type KubeObject = IDeployment | IService | INetworkPolicy;

/** The user every container runs as: not root, as on a machine where the user is root. */
export const POD_USER = 1000;

/**
 * Addresses the egress proxy's pod may never reach by name, besides the proxy's own checks:
 * loopback, private, carrier-grade NAT (and Alibaba's metadata in it), link-local (cloud
 * metadata), Azure's WireServer, reserved, benchmark, multicast. A cluster's own pod and Service
 * ranges are private on nearly every cluster; an address `allow_host` names is allowed apart.
 */
export const REFUSED_IPV4 = [
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '168.63.129.16/32', '169.254.0.0/16', '172.16.0.0/12',
  '192.0.0.0/24', '192.0.2.0/24', '192.168.0.0/16', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24', '224.0.0.0/4', '240.0.0.0/4',
];
/** IPv6: only global unicast, less Teredo, 6to4 (which carry IPv4 addresses) and documentation. */
export const PUBLIC_IPV6 = { cidr: '2000::/3', except: ['2001::/32', '2001:db8::/32', '2002::/16'] };

/** The cluster's DNS pods (kube-dns and CoreDNS both carry `k8s-app: kube-dns`). */
const CLUSTER_DNS: INetworkPolicyPeer = {
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
  podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
};

function roleLabels(plan: ExportPlan, role: 'server' | 'egress'): Record<string, string> {
  return { ...plan.labels, 'mcp-lok-role': role };
}

function selector(plan: ExportPlan, role: 'server' | 'egress'): Record<string, string> {
  return { 'mcp-lok-name': plan.name, 'mcp-lok-role': role };
}

function metadata(plan: ExportPlan, name: string, role: 'server' | 'egress'): IDeployment['metadata'] {
  return {
    name,
    ...(plan.namespace !== undefined ? { namespace: plan.namespace } : {}),
    labels: roleLabels(plan, role),
    annotations: plan.annotations,
  };
}

/** The restricted Pod Security Standard, and more: each field is checked by the PSS table test. */
function containerSecurity(): IContainer['securityContext'] {
  return {
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    runAsUser: POD_USER,
    runAsGroup: POD_USER,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

function podSpec(containers: IContainer[], volumes: IVolume[], serviceLinks: boolean): IPodSpec {
  return {
    // No API credentials in the pod: a server has no business with the cluster's API.
    automountServiceAccountToken: false,
    // The server finds its egress proxy by the variables Kubernetes sets for the namespace's Services.
    enableServiceLinks: serviceLinks,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: POD_USER,
      runAsGroup: POD_USER,
      fsGroup: POD_USER,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    containers,
    volumes,
  };
}

function memoryDir(name: string, bytes: number): IVolume {
  // In memory, capped; it counts against the container's memory limit.
  return { name, emptyDir: { medium: 'Memory', sizeLimit: formatMemory(bytes) } };
}

function serverEnv(plan: ExportPlan): IEnvVar[] {
  return plan.env.map((e) => ('secret' in e
    ? { name: e.name, valueFrom: { secretKeyRef: { name: e.secret, key: e.key } } }
    : 'field' in e ? { name: e.name, valueFrom: { fieldRef: { fieldPath: e.field } } }
      : { name: e.name, value: e.value }));
}

/** Returns a one-replica Deployment of a role's pods. */
function deployment(plan: ExportPlan, name: string, role: 'server' | 'egress', spec: IPodSpec): IDeployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: metadata(plan, name, role),
    spec: {
      replicas: 1,
      selector: { matchLabels: selector(plan, role) },
      template: { metadata: { labels: roleLabels(plan, role), annotations: plan.annotations }, spec },
    },
  };
}

/** Returns the NetworkPolicy of a role's pods: only the given connections in and out. */
function networkPolicy(plan: ExportPlan, name: string, role: 'server' | 'egress', ingress: INetworkPolicyIngressRule[], egress: INetworkPolicyEgressRule[]): INetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: metadata(plan, name, role),
    spec: { podSelector: { matchLabels: selector(plan, role) }, policyTypes: ['Ingress', 'Egress'], ingress, egress },
  };
}

/** Returns the server's Deployment: one replica, since a client's session lives in one pod. */
export function buildServerDeployment(plan: ExportPlan): IDeployment {
  const mounts: IVolumeMount[] = [
    { name: 'tmp', mountPath: '/tmp' },
    { name: 'home', mountPath: POD_HOME },
    ...plan.volumes.map((v) => ({ name: v.volume, mountPath: v.mountPath, readOnly: v.readOnly })),
  ];
  const volumes: IVolume[] = [
    memoryDir('tmp', TMP_SIZE_BYTES),
    memoryDir('home', HOME_SIZE_BYTES),
    ...plan.volumes.map((v): IVolume => (v.kind === 'pvc'
      ? { name: v.volume, persistentVolumeClaim: { claimName: v.claimOrMap, readOnly: v.readOnly } }
      : { name: v.volume, configMap: { name: v.claimOrMap } })),
  ];
  const container: IContainer = {
    name: 'server',
    image: plan.image,
    ...(plan.args.length > 0 ? { args: plan.args } : {}),
    env: serverEnv(plan),
    ports: [{ name: 'mcp', containerPort: plan.podPort, protocol: 'TCP' }],
    readinessProbe: { tcpSocket: { port: 'mcp' }, periodSeconds: 5 },
    resources: { limits: plan.limits, requests: plan.requests },
    securityContext: containerSecurity(),
    volumeMounts: mounts,
  };
  return deployment(plan, plan.name, 'server', podSpec([container], volumes, plan.egress !== undefined));
}

/** Returns the Service clients reach the server through. */
export function buildServerService(plan: ExportPlan): IService {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(plan, plan.name, 'server'),
    spec: {
      type: 'ClusterIP',
      selector: selector(plan, 'server'),
      ports: [{ name: 'mcp', port: plan.servicePort, targetPort: 'mcp', protocol: 'TCP', appProtocol: 'http' }],
    },
  };
}

function ingressPeer(peer: IngressPeer): INetworkPolicyPeer {
  if (peer.kind === 'namespace') return { podSelector: {} };
  if (peer.kind === 'pods') return { podSelector: { matchLabels: peer.labels } };
  return { namespaceSelector: { matchLabels: peer.labels } };
}

/**
 * Returns the server's NetworkPolicy: connections in only from the chosen clients, to its port;
 * out, nothing at all, or (with an allowlist) only its egress proxy's port, and no DNS.
 */
export function buildServerPolicy(plan: ExportPlan): INetworkPolicy {
  const egress: INetworkPolicyEgressRule[] = plan.egress
    ? [{ to: [{ podSelector: { matchLabels: selector(plan, 'egress') } }], ports: [{ protocol: 'TCP', port: EGRESS_PROXY_PORT }] }]
    : [];
  return networkPolicy(plan, plan.name, 'server', [{ from: plan.allowFrom.map(ingressPeer), ports: [{ protocol: 'TCP', port: plan.podPort }] }], egress);
}

/** Returns the egress proxy's Deployment: the same hardening as the server's, its rules in a variable. */
export function buildEgressDeployment(plan: ExportPlan): IDeployment | undefined {
  if (!plan.egress) return undefined;
  const container: IContainer = {
    name: 'egress-proxy',
    image: plan.egress.image,
    env: [
      { name: 'MCP_LOK_EGRESS_RULES', value: JSON.stringify(plan.egress.rules) },
      { name: 'MCP_LOK_EGRESS_PORT', value: String(EGRESS_PROXY_PORT) },
    ],
    ports: [{ name: 'proxy', containerPort: EGRESS_PROXY_PORT, protocol: 'TCP' }],
    readinessProbe: { tcpSocket: { port: 'proxy' }, periodSeconds: 5 },
    resources: { limits: { ...EGRESS_PROXY_LIMITS }, requests: { memory: '32Mi', cpu: '50m' } },
    securityContext: containerSecurity(),
    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
  };
  return deployment(plan, plan.egressName, 'egress', podSpec([container], [memoryDir('tmp', TMP_SIZE_BYTES)], false));
}

/** Returns the egress proxy's Service, which the server reaches by its cluster IP. */
export function buildEgressService(plan: ExportPlan): IService | undefined {
  if (!plan.egress) return undefined;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(plan, plan.egressName, 'egress'),
    spec: {
      type: 'ClusterIP',
      selector: selector(plan, 'egress'),
      ports: [{ name: 'proxy', port: EGRESS_PROXY_PORT, targetPort: 'proxy', protocol: 'TCP' }],
    },
  };
}

/**
 * Returns the egress proxy's NetworkPolicy: connections in only from its server; out, the
 * cluster's DNS (the proxy resolves names itself) and the allowed ports on public addresses,
 * plus any address `allow_host` names by IP.
 */
export function buildEgressPolicy(plan: ExportPlan): INetworkPolicy | undefined {
  const { egress } = plan;
  if (!egress) return undefined;
  const ports: INetworkPolicyPort[] = egress.ports ? egress.ports.map((port) => ({ protocol: 'TCP', port })) : [{ protocol: 'TCP' }];
  const rules: INetworkPolicyEgressRule[] = [
    { to: [CLUSTER_DNS], ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] },
    { to: [{ ipBlock: { cidr: '0.0.0.0/0', except: REFUSED_IPV4 } }, { ipBlock: { ...PUBLIC_IPV6, except: [...PUBLIC_IPV6.except] } }], ports },
  ];
  if (egress.addresses.length > 0) {
    rules.push({ to: egress.addresses.map((ip) => ({ ipBlock: { cidr: ip.includes(':') ? `${ip}/128` : `${ip}/32` } })), ports });
  }
  return networkPolicy(plan, plan.egressName, 'egress', [{ from: [{ podSelector: { matchLabels: selector(plan, 'server') } }], ports: [{ protocol: 'TCP', port: EGRESS_PROXY_PORT }] }], rules);
}

/**
 * Returns every object of an export, policies first (a pod never runs unconfined) and the egress
 * Service before the server's Deployment (its pods get the Service's address in a variable).
 */
export function buildManifests(plan: ExportPlan): KubeObject[] {
  const all: Array<KubeObject | undefined> = [
    buildServerPolicy(plan),
    buildEgressPolicy(plan),
    buildEgressService(plan),
    buildEgressDeployment(plan),
    buildServerService(plan),
    buildServerDeployment(plan),
  ];
  return all.filter((o): o is KubeObject => o !== undefined);
}
