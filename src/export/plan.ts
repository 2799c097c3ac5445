// What `mcp-lok export kubernetes` decides before any manifest is built, pure: the names, the
// images, the variables and Secret references, the grants' volumes, the limits and the egress.
// Every refusal is one line here, before anything is printed.
import type { LoadedProfile } from '../request/profiles.js';
import type { ServerSource } from '../request/server-request.js';
import { FIXED_ENV, SANDBOX_HOME } from '../sandbox/hardening.js';
import { describeProfile, profileToJson, type PathGrant } from '../sandbox/profile-validate.js';
import { exportError, serviceHostVariable } from './names.js';

/** The port mcp-lok's egress proxy image listens on (MCP_LOK_EGRESS_PORT's default). */
export const EGRESS_PROXY_PORT = 3128;
/** Where a server listens in its pod unless `--target-port` says otherwise (as on a machine). */
export const DEFAULT_POD_PORT = 8080;
/** The egress proxy's own limits: it relays bytes, it holds no state. */
export const EGRESS_PROXY_LIMITS = { memory: '128Mi', cpu: '500m' } as const;

/** A variable from a Secret: `--secret NAME=SECRET/KEY`. */
export interface SecretEnv {
  env: string;
  secret: string;
  key: string;
}

/** What a profile grant becomes: `--volume GRANT=PVC` or `--volume GRANT=configmap:NAME`. */
export interface VolumeMapping {
  /** The grant as the user named it: its path in the sandbox or its host path as the profile writes it. */
  grant: string;
  kind: 'pvc' | 'configmap';
  name: string;
}

/** Who may open connections to the server: `--allow-from`. */
export type IngressPeer =
  | { kind: 'namespace' }
  | { kind: 'pods'; labels: Record<string, string> }
  | { kind: 'namespaces'; labels: Record<string, string> };

/** The typed request of an export: what the front end parsed, the profile read and validated. */
export interface ExportRequest {
  source: ServerSource;
  sourceText: string;
  args: string[];
  transport: 'sse' | 'streamable-http';
  profile: LoadedProfile;
  /** The objects' name, checked (names.ts chooseKubeName). */
  name: string;
  namespace: string | undefined;
  memoryBytes: number;
  cpus: number;
  /** `-e NAME=VALUE`: literal values the user typed (never copied from the environment). */
  env: Array<{ name: string; value: string }>;
  secrets: SecretEnv[];
  volumes: VolumeMapping[];
  /** The server's image (`--image`); an image source is its own image. */
  image: string | undefined;
  egressImage: string | undefined;
  /** The Service's port (`--port`); the pod's port is `targetPort`. */
  servicePort: number | undefined;
  targetPort: number | undefined;
  allowFrom: IngressPeer[];
  /** The exporting user's home: `~/x` grants are mounted where they would be on this machine. */
  homeDir: string;
}

/** A grant with the volume that stands for it in the pod. */
export interface PlannedVolume {
  /** The volume's name in the pod spec. */
  volume: string;
  mountPath: string;
  readOnly: boolean;
  kind: 'pvc' | 'configmap';
  claimOrMap: string;
}

/** The egress proxy of a server whose profile allows outbound hosts. */
export interface PlannedEgress {
  image: string;
  /** MCP_LOK_EGRESS_RULES: the profile's `network.outbound`, as profiles write it. */
  rules: Record<string, unknown>;
  /** TCP ports the proxy may reach; undefined for any (insecure_allow_all). */
  ports: number[] | undefined;
  /** allow_host entries that are IP addresses: reached even inside private ranges. */
  addresses: string[];
}

/** Everything the manifests are built from. */
export interface ExportPlan {
  name: string;
  egressName: string;
  namespace: string | undefined;
  transport: 'sse' | 'streamable-http';
  image: string;
  args: string[];
  podPort: number;
  servicePort: number;
  env: Array<{ name: string; value: string } | { name: string; secret: string; key: string } | { name: string; field: 'metadata.namespace' }>;
  volumes: PlannedVolume[];
  limits: { memory: string; cpu: string };
  requests: { memory: string; cpu: string };
  egress: PlannedEgress | undefined;
  allowFrom: IngressPeer[];
  /** On every object: mcp-lok=true and the server's name. */
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** Returns a memory size as a Kubernetes quantity: `1Gi`, `512Mi`, or bytes. */
export function formatMemory(bytes: number): string {
  if (bytes % 2 ** 30 === 0) return `${bytes / 2 ** 30}Gi`;
  if (bytes % 2 ** 20 === 0) return `${bytes / 2 ** 20}Mi`;
  if (bytes % 2 ** 10 === 0) return `${bytes / 2 ** 10}Ki`;
  return String(Math.round(bytes));
}

/** Returns a CPU count as a Kubernetes quantity: `2`, `500m`. */
export function formatCpus(cpus: number): string {
  const milli = Math.max(1, Math.round(cpus * 1000));
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}

/** A server asks for less than its limits, so one cluster can hold many mostly idle servers. */
const REQUEST_CAP = { memoryBytes: 256 * 2 ** 20, milliCpu: 100 };

function expandHome(path: string, homeDir: string): string {
  return path === '~' ? homeDir : path.startsWith('~/') ? `${homeDir.replace(/\/+$/, '')}${path.slice(1)}` : path;
}

/** Returns the grants as volumes, or throws the one line naming a grant without a mapping (or a mapping without a grant). */
export function planVolumes(profile: LoadedProfile, mappings: readonly VolumeMapping[], homeDir: string): PlannedVolume[] {
  const grants: Array<{ grant: PathGrant; readOnly: boolean }> = [
    ...profile.profile.read.map((grant) => ({ grant, readOnly: true })),
    ...profile.profile.write.map((grant) => ({ grant, readOnly: false })),
  ];
  const matches = (g: PathGrant, text: string): boolean => [g.container, g.host, expandHome(g.container, homeDir), expandHome(g.host, homeDir)].includes(text);
  for (const m of mappings) {
    if (!grants.some(({ grant }) => matches(grant, m.grant))) {
      const known = grants.map(({ grant }) => grant.container).join(', ') || 'none';
      throw exportError(`\`--volume ${m.grant}=...\` names no grant of profile ${profile.name} (its grants: ${known}).`, 'Give each grant\'s path as the profile writes it.');
    }
  }
  return grants.map(({ grant, readOnly }, index) => {
    const found = mappings.filter((m) => matches(grant, m.grant));
    const how = readOnly ? 'read-only' : 'read-write';
    if (found.length === 0) {
      throw exportError(`Profile ${profile.name} grants ${grant.container} (${how}), and a cluster has no host folders: map it to a volume with \`--volume ${grant.container}=PVC\`${readOnly ? ` or \`--volume ${grant.container}=configmap:NAME\`` : ''}.`, 'Each grant needs a mapping; none is dropped.');
    }
    if (found.length > 1) throw exportError(`Grant ${grant.container} is mapped ${found.length} times; give one \`--volume\` for it.`);
    const m = found[0] as VolumeMapping;
    if (m.kind === 'configmap' && !readOnly) {
      throw exportError(`Profile ${profile.name} grants ${grant.container} read-write, and a ConfigMap is read-only: map it to a PersistentVolumeClaim with \`--volume ${grant.container}=PVC\`.`);
    }
    return { volume: `grant-${index}`, mountPath: expandHome(grant.container, homeDir), readOnly, kind: m.kind, claimOrMap: m.name };
  });
}

/** Returns the egress proxy a profile needs, undefined when it allows no outbound host. */
export function planEgress(profile: LoadedProfile, image: string | undefined): PlannedEgress | undefined {
  const { outbound } = profile.profile;
  if (!outbound.insecureAllowAll && outbound.hosts.length === 0) {
    if (image !== undefined) throw exportError(`\`--egress-image\` has nothing to run: profile ${profile.name} allows no outbound host, so the server gets no network at all.`, 'Leave --egress-image out, or choose a profile with network.outbound.allow_host.');
    return undefined;
  }
  if (image === undefined) {
    throw exportError(`Profile ${profile.name} allows outbound hosts, which go through mcp-lok's egress proxy: build and push its image with \`mcp-lok image build --push REF --egress-proxy\`, then pass \`--egress-image REF\`.`);
  }
  const network = profileToJson(profile.profile).network as { outbound: Record<string, unknown> };
  return {
    image,
    rules: network.outbound,
    ports: outbound.insecureAllowAll ? undefined : [...outbound.ports],
    addresses: outbound.hosts.filter((h) => /^[0-9.]+$/.test(h) || h.includes(':')),
  };
}

function proxyEnv(egressName: string): Record<string, string> {
  // Set by Kubernetes from the egress Service (made first): the server needs no DNS to find it.
  const url = `http://$(${serviceHostVariable(egressName)}):${EGRESS_PROXY_PORT}`;
  return {
    HTTP_PROXY: url, HTTPS_PROXY: url, http_proxy: url, https_proxy: url,
    NODE_USE_ENV_PROXY: '1', npm_config_proxy: url, npm_config_https_proxy: url,
    NO_PROXY: 'localhost,127.0.0.1,::1', no_proxy: 'localhost,127.0.0.1,::1',
  };
}

/**
 * Returns the plan of an export, or throws one line: an npx:// server without `--image`, an
 * allowlist without `--egress-image`, a grant without a volume, a variable set twice or one
 * mcp-lok sets itself.
 */
export function planExport(req: ExportRequest): ExportPlan {
  let image: string;
  if (req.source.kind === 'npx') {
    if (req.image === undefined) {
      throw exportError(`An npx:// server runs from an image with its package installed: build and push it with \`mcp-lok image build --push REF ${req.sourceText}\`, then pass \`--image REF\`.`);
    }
    image = req.image;
  } else {
    if (req.image !== undefined) throw exportError(`\`--image\` is for npx:// servers; this server is the image ${req.source.image}.`, 'Leave --image out.');
    image = req.source.image;
  }
  const egressName = `${req.name}-egress`;
  const egress = planEgress(req.profile, req.egressImage);
  const volumes = planVolumes(req.profile, req.volumes, req.homeDir);
  const podPort = req.targetPort ?? DEFAULT_POD_PORT;

  const own: Record<string, string> = {};
  for (const [k, v] of Object.entries(FIXED_ENV)) if (k !== 'PATH') own[k] = v;
  // The pod's bridge answers only the names it is given (Host/Origin): its Service's, in short
  // and in full through the namespace it learns from the downward API.
  const fixed: Record<string, string> = req.source.kind === 'npx'
    ? { MCP_LOK_POD_TRANSPORT: req.transport, MCP_LOK_POD_PORT: String(podPort), MCP_LOK_POD_ALLOWED_HOSTS: req.name }
    : { PORT: String(podPort), MCP_PORT: String(podPort) };
  const fields: Array<{ name: string; field: 'metadata.namespace' }> = req.source.kind === 'npx' ? [{ name: 'MCP_LOK_POD_NAMESPACE', field: 'metadata.namespace' }] : [];
  const reserved = { ...fixed, ...(egress ? proxyEnv(egressName) : {}) };
  // Shown in a refusal: what mcp-lok sets each of its variables to.
  const shownReserved: Record<string, string> = { ...reserved, ...Object.fromEntries(fields.map((f) => [f.name, `the pod's ${f.field}`])) };
  const seen = new Set<string>();
  for (const name of [...req.env.map((e) => e.name), ...req.secrets.map((s) => s.env)]) {
    if (Object.hasOwn(shownReserved, name)) throw exportError(`The variable ${name} is set by mcp-lok in this pod (${name}=${shownReserved[name]}); choose another name.`);
    if (seen.has(name)) throw exportError(`The variable ${name} is given twice (by -e and --secret, or twice by one); give it once.`);
    seen.add(name);
  }
  // The user's variables win over the fixed set, as on a machine; mcp-lok's own come last.
  const literal: Record<string, string> = { ...own };
  for (const e of req.env) literal[e.name] = e.value;
  const env: ExportPlan['env'] = [
    ...Object.entries({ ...literal, ...reserved }).filter(([name]) => !req.secrets.some((s) => s.env === name)).map(([name, value]) => ({ name, value })),
    ...fields,
    ...req.secrets.map((s) => ({ name: s.env, secret: s.secret, key: s.key })),
  ];
  const milli = Math.max(1, Math.round(req.cpus * 1000));
  const summary = describeProfile(req.profile.profile).join('; ');
  return {
    name: req.name, egressName, namespace: req.namespace, transport: req.transport,
    image, args: [...req.args], podPort, servicePort: req.servicePort ?? podPort,
    env, volumes,
    limits: { memory: formatMemory(req.memoryBytes), cpu: formatCpus(req.cpus) },
    requests: { memory: formatMemory(Math.min(req.memoryBytes, REQUEST_CAP.memoryBytes)), cpu: formatCpus(Math.min(milli, REQUEST_CAP.milliCpu) / 1000) },
    egress,
    allowFrom: req.allowFrom.length > 0 ? req.allowFrom : [{ kind: 'namespace' }],
    labels: { 'mcp-lok': 'true', 'mcp-lok-name': req.name },
    annotations: {
      'mcp-lok-source': req.sourceText,
      'mcp-lok-profile': req.profile.name,
      'mcp-lok-profile-summary': summary,
      'mcp-lok-transport': req.transport,
    },
  };
}

/** Where the sandbox's home is in the pod (a memory-backed emptyDir, as `--ephemeral` on a machine). */
export const POD_HOME = SANDBOX_HOME;
