/** Every label key mcp-lok writes, in one place. Selection is by label, then by exact name. */
export const LABEL = {
  managed: 'mcp-lok',
  name: 'mcp-lok-name',
  role: 'mcp-lok-role',
  launcher: 'mcp-lok-launcher',
  transport: 'mcp-lok-transport',
  profile: 'mcp-lok-profile',
  /** What the profile lets the server do beyond the default sandbox, in words. */
  allows: 'mcp-lok-allows',
  package: 'mcp-lok-package',
  image: 'mcp-lok-image',
  ownerPid: 'mcp-lok-owner-pid',
  ownerStart: 'mcp-lok-owner-start',
  ownerHost: 'mcp-lok-owner-host',
  kind: 'mcp-lok-kind',
  /** A home volume: the sandbox user it belongs to (`uid:gid`). */
  homeUser: 'mcp-lok-home-user',
  /** A home volume: `true` when nothing written there can be executed. */
  homeNoexec: 'mcp-lok-home-noexec',
  /** A home volume of a server an agent started (`agent`): never one of the user's own. */
  homeScope: 'mcp-lok-home-scope',
  /** The store behind a noexec home volume: the home it belongs to. */
  homeOf: 'mcp-lok-home-of',
  /** The pin the server's tools are checked against (its id under the state folder's tool-pins/). */
  toolPin: 'mcp-lok-tool-pin',
  /** How: `observe` or `enforce`. */
  toolPinMode: 'mcp-lok-tool-pin-mode',
  /** The package pin whose tree the server runs (its key under the state folder's pins/), for `list`. */
  pin: 'mcp-lok-pin',
  /** An image for a cluster (`image build --push`): `package` or `egress-proxy`. Its `mcp-lok` label is `cluster-image`, so `image rm` leaves it alone. */
  clusterImage: 'mcp-lok-cluster-image',
  /** A package image: its packages as JSON, `[{ name, version, integrity }]`, exactly as pinned. */
  packages: 'mcp-lok-packages',
  /** A package image: its tree's directory, a hash of the lockfile it carries. */
  tree: 'mcp-lok-tree',
  /** The mcp-lok version whose in-pod code the image carries. */
  version: 'mcp-lok-version',
} as const;

/** The process that owns a container: when it is gone, the container must go too. */
export interface Owner {
  pid: number;
  /** Start time of the process (clock ticks since boot), so a reused pid is not mistaken for it. */
  startTicks: string;
  host: string;
}

export interface LabelInput {
  name: string;
  role: 'run' | 'session' | 'ingress' | 'egress' | 'loopback' | 'install' | 'init';
  launcher: 'npx' | 'run' | 'start';
  transport: 'stdio' | 'sse' | 'streamable-http';
  profile: string;
  /** The profile's relaxations in words; empty for the default sandbox. */
  allows?: string[];
  packages: string[];
  image: string;
  owner: Owner | undefined;
  /** The tool pin a server's own container is checked against, and how. */
  toolPin?: { id: string; mode: string } | undefined;
  /** The key of the package pin its tree comes from; undefined when floating or from an image. */
  pin?: string | undefined;
}

/** Returns the labels for a container; values are plain strings as the engine stores them. */
export function buildLabels(input: LabelInput): Record<string, string> {
  const labels: Record<string, string> = {
    [LABEL.managed]: 'true',
    [LABEL.name]: input.name,
    [LABEL.role]: input.role,
    [LABEL.launcher]: input.launcher,
    [LABEL.transport]: input.transport,
    [LABEL.profile]: input.profile,
    [LABEL.image]: input.image,
  };
  if (input.packages.length > 0) labels[LABEL.package] = input.packages.join(' ');
  if (input.allows && input.allows.length > 0) labels[LABEL.allows] = input.allows.join('; ').slice(0, 2000);
  if (input.pin) labels[LABEL.pin] = input.pin;
  if (input.toolPin) {
    labels[LABEL.toolPin] = input.toolPin.id;
    labels[LABEL.toolPinMode] = input.toolPin.mode;
  }
  if (input.owner) {
    labels[LABEL.ownerPid] = String(input.owner.pid);
    labels[LABEL.ownerStart] = input.owner.startTicks;
    labels[LABEL.ownerHost] = input.owner.host;
  }
  return labels;
}

/** Returns the owner recorded in labels, or undefined when the container has none. */
export function readOwner(labels: Readonly<Record<string, string>>): Owner | undefined {
  const pid = Number(labels[LABEL.ownerPid]);
  const host = labels[LABEL.ownerHost];
  if (!Number.isInteger(pid) || pid <= 0 || !host) return undefined;
  return { pid, startTicks: labels[LABEL.ownerStart] ?? '', host };
}
