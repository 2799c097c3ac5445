import {
  FIXED_ENV, HOME_SIZE_BYTES, PODMAN_NPROC, SANDBOX_HOME, TMP_SIZE_BYTES, type SandboxUser,
} from './hardening.js';

export interface MountPlan {
  type: 'volume' | 'bind';
  /** A volume's name, or a host path; an empty name is an anonymous volume, gone with its container. */
  source: string;
  target: string;
  readOnly: boolean;
  /** A volume: never fill an empty one with what the image has at `target`. */
  noCopy?: boolean;
}

/** The server's persistent home: an engine volume made for it (prepare/home.ts). */
export interface HomeVolume {
  volume: string;
  /**
   * Nothing written there can be executed. Under Docker that is how the volume itself mounts
   * (an overlay with `noexec`); Podman takes `noexec` as an option of the container's mount.
   */
  noexec: boolean;
}

/** Everything the builder needs to describe one sandbox container. */
export interface SandboxPlan {
  name: string;
  /** Never root; 1000:1000 unless given (see chooseSandboxUser). */
  user?: SandboxUser | undefined;
  image: string;
  /** The command; undefined with `useImageCommand` runs the image's own. */
  cmd: string[] | undefined;
  /**
   * For a server image: keep its entrypoint, command, PATH and working directory. Our own
   * sandbox image's entrypoint is never used: the command runs as given.
   */
  useImageCommand?: boolean;
  /** Variables the user named, already resolved to values. */
  env: Readonly<Record<string, string>>;
  mounts: MountPlan[];
  /** A persistent home in place of the in-memory one (undefined: `--ephemeral`, helpers). */
  home?: HomeVolume | undefined;
  /** Where `home` is mounted: the home directory unless given (prepare/home.ts mounts a new one elsewhere first). */
  homeTarget?: string | undefined;
  /**
   * Containers whose volumes this one also mounts (`ID:ro` for read-only): the server reaches
   * the egress sidecar's socket through the sidecar's anonymous volume.
   */
  volumesFrom?: string[] | undefined;
  memoryBytes: number;
  cpus: number;
  pids: number;
  nofile: number;
  /** The engine is Podman, whose options differ in two places (see below). */
  podman?: boolean | undefined;
  /**
   * `none` unless a profile grants outbound access (install uses the registry);
   * `container:ID` joins a sandbox's own namespace (the ingress sidecar: loopback only).
   */
  network: 'none' | 'bridge' | `container:${string}`;
  labels: Readonly<Record<string, string>>;
  /** Keep stdin open for an attached client. */
  interactive: boolean;
  workdir?: string;
  /** Remove the container as soon as it exits. */
  autoRemove: boolean;
}

/** The Engine API body for `POST /containers/create` (the subset mcp-lok sets). */
export interface ContainerCreateBody {
  Image: string;
  Cmd?: string[];
  Entrypoint?: string[];
  Env: string[];
  User: string;
  WorkingDir?: string;
  Labels: Record<string, string>;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Tty: false;
  NetworkDisabled: boolean;
  ExposedPorts: Record<string, never>;
  HostConfig: {
    Init: true;
    ReadonlyRootfs: true;
    CapDrop: ['ALL'];
    CapAdd: [];
    SecurityOpt: string[];
    Privileged: false;
    Memory: number;
    MemorySwap: number;
    NanoCpus: number;
    PidsLimit: number;
    Ulimits: Array<{ Name: string; Soft: number; Hard: number }>;
    Tmpfs: Record<string, string>;
    Mounts: Array<{ Type: 'volume' | 'bind'; Source: string; Target: string; ReadOnly: boolean; BindOptions?: { NonRecursive: boolean }; VolumeOptions?: { NoCopy: boolean } }>;
    /** Podman only: a volume mounted with options its Mounts cannot carry (`noexec`). */
    Binds?: string[];
    VolumesFrom?: string[];
    NetworkMode: string;
    PortBindings: Record<string, never>;
    PublishAllPorts: false;
    AutoRemove: boolean;
    LogConfig: { Type: string; Config: Record<string, string> };
    IpcMode: 'private';
    RestartPolicy: { Name: 'no' };
  };
}

/**
 * Returns `NAME=value` pairs: the fixed set first, then the user's names (which win); an
 * image's own PATH is kept when `keepImagePath`.
 */
export function buildEnvList(userEnv: Readonly<Record<string, string>>, keepImagePath = false): string[] {
  const fixed: Record<string, string> = { ...FIXED_ENV };
  if (keepImagePath) delete fixed.PATH;
  const merged: Record<string, string> = { ...fixed, ...userEnv };
  return Object.entries(merged).map(([name, value]) => `${name}=${value}`);
}

/**
 * Returns the container create body for a plan. Every sandbox, whatever started it, is built
 * here, so each hardening guarantee is proven once and holds everywhere.
 */
export function buildContainerSpec(plan: SandboxPlan): ContainerCreateBody {
  const tmpfsOptions = 'rw,noexec,nosuid,nodev';
  const user = plan.user ?? { uid: 1000, gid: 1000 };
  if (user.uid === 0 || user.gid === 0) throw new Error('the sandbox never runs as root');
  const home = homeMounts(plan);
  return {
    Image: plan.image,
    // Our sandbox image's entrypoint is never used: the command runs as given.
    ...(plan.useImageCommand ? {} : { Entrypoint: [] }),
    ...(plan.cmd ? { Cmd: plan.cmd } : {}),
    Env: buildEnvList(plan.env, plan.useImageCommand),
    // Numeric, never root: a user name could resolve to root in the image's /etc/passwd.
    User: `${user.uid}:${user.gid}`,
    ...(plan.useImageCommand && !plan.workdir ? {} : { WorkingDir: plan.workdir ?? SANDBOX_HOME }),
    Labels: { ...plan.labels },
    AttachStdin: plan.interactive,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: plan.interactive,
    StdinOnce: plan.interactive,
    Tty: false,
    NetworkDisabled: plan.network === 'none',
    ExposedPorts: {},
    HostConfig: {
      // A real PID 1 reaps zombies and forwards signals to the server.
      Init: true,
      // Code from npm cannot persist or tamper with the image's files.
      ReadonlyRootfs: true,
      // No capabilities and no setuid escalation: root-only kernel paths stay closed.
      CapDrop: ['ALL'],
      CapAdd: [],
      SecurityOpt: ['no-new-privileges:true'],
      Privileged: false,
      Memory: plan.memoryBytes,
      // Swap equal to memory means no swap beyond the limit.
      MemorySwap: plan.memoryBytes,
      NanoCpus: Math.round(plan.cpus * 1e9),
      // Stops fork bombs.
      PidsLimit: plan.pids,
      Ulimits: [
        { Name: 'nofile', Soft: plan.nofile, Hard: plan.nofile },
        ...(plan.podman ? [{ Name: 'nproc', Soft: PODMAN_NPROC, Hard: PODMAN_NPROC }] : []),
      ],
      Tmpfs: {
        '/tmp': `${tmpfsOptions},size=${TMP_SIZE_BYTES},mode=1777`,
        // Owned by the sandbox user: Docker takes uid=/gid=, Podman refuses them and has `U`.
        ...(home.inMemory ? { [SANDBOX_HOME]: `${tmpfsOptions},size=${HOME_SIZE_BYTES},${plan.podman ? 'U' : `uid=${user.uid},gid=${user.gid}`},mode=0700` } : {}),
      },
      // Bind grants leave out whatever is mounted below them, so a read-only grant cannot
      // expose a writable mount inside it (recursive read-only needs API 1.44).
      Mounts: [...home.mounts, ...plan.mounts].map((m) => ({
        Type: m.type, Source: m.source, Target: m.target, ReadOnly: m.readOnly,
        ...(m.type === 'bind' ? { BindOptions: { NonRecursive: true } } : {}),
        ...(m.noCopy ? { VolumeOptions: { NoCopy: true } } : {}),
      })),
      ...(home.binds.length > 0 ? { Binds: home.binds } : {}),
      ...(plan.volumesFrom && plan.volumesFrom.length > 0 ? { VolumesFrom: [...plan.volumesFrom] } : {}),
      NetworkMode: plan.network,
      PortBindings: {},
      PublishAllPorts: false,
      AutoRemove: plan.autoRemove,
      // MCP traffic can carry secrets: the engine does not keep a copy of it on disk.
      LogConfig: { Type: 'none', Config: {} },
      IpcMode: 'private',
      RestartPolicy: { Name: 'no' },
    },
  };
}

/**
 * Returns how the plan's home is mounted: in memory (no home volume, or one mounted elsewhere),
 * or its volume at the home directory. The volume is never filled from the image (what the
 * image has there would outlive an image update), and under Podman it is mounted `noexec`,
 * `nosuid` and `nodev` as an option of the container's mount, which Docker does not take.
 */
function homeMounts(plan: SandboxPlan): { inMemory: boolean; mounts: MountPlan[]; binds: string[] } {
  const target = plan.homeTarget ?? SANDBOX_HOME;
  const inMemory = !plan.home || target !== SANDBOX_HOME;
  if (!plan.home) return { inMemory, mounts: [], binds: [] };
  if (plan.podman) return { inMemory, mounts: [], binds: [`${plan.home.volume}:${target}:rw,${plan.home.noexec ? 'noexec,' : ''}nosuid,nodev,nocopy`] };
  return { inMemory, mounts: [{ type: 'volume', source: plan.home.volume, target, readOnly: false, noCopy: true }], binds: [] };
}
