/** The sandbox's fixed facts and default limits; README "Security model" documents each. */

export interface SandboxUser {
  uid: number;
  gid: number;
}

/**
 * Returns the user a server runs as: the invoking user's own uid:gid, so what it writes in a
 * write grant belongs to them, or 1000:1000 when that is root (never root in the sandbox).
 */
export function chooseSandboxUser(hostUid: number | undefined, hostGid: number | undefined): SandboxUser {
  if (hostUid === undefined || hostGid === undefined || hostUid === 0 || hostGid === 0) return { uid: 1000, gid: 1000 };
  return { uid: hostUid, gid: hostGid };
}
export const SANDBOX_HOME = '/home/node';
/**
 * Where a new home volume is mounted to be made the sandbox user's: a path the image does not
 * have, so Podman gives a new volume to the container's user (Docker gets the owner from an
 * archive instead; see prepare/home.ts).
 */
export const HOME_INIT_DIR = '/opt/mcp-lok/home-init';
/** Where installed package trees are mounted read-only in run containers. */
export const PACKAGES_DIR = '/opt/mcp-lok/pkgs';
/** npm's cache during install; an engine volume owned by mcp-lok, never the host's ~/.npm. */
export const NPM_CACHE_DIR = '/opt/mcp-lok/npm-cache';
/** Where a custom CA bundle is mounted read-only. */
export const CA_BUNDLE_PATH = '/opt/mcp-lok/ca-certificates.pem';

/**
 * 1 GiB, no swap beyond it. Node sizes its heap from the cgroup's limit: at 512 MiB its young
 * generation is so small that garbage collection cost a server 15-30% of its throughput.
 */
export const DEFAULT_MEMORY_BYTES = 1024 * 1024 * 1024;
/**
 * Two CPUs: a hard quota of one throttles Node's own helper threads (GC, libuv) and halved
 * a server's throughput in `npm run bench`; two still keeps a runaway server off the rest.
 */
export const DEFAULT_CPUS = 2;
export const DEFAULT_PIDS = 256;
/** Open files; also stops a server from exhausting the host's descriptors. */
export const DEFAULT_NOFILE = 4096;
/**
 * A per-user process limit, set only under Podman, which otherwise asks the kernel for more
 * than it may grant and cannot start the container. Docker leaves it alone: the count spans
 * every process of the same host uid, so a low value would break busy hosts.
 */
export const PODMAN_NPROC = 4096;
/** /tmp (and the home directory with --ephemeral) live in memory, capped, and cannot hold executables. */
export const TMP_SIZE_BYTES = 64 * 1024 * 1024;
export const HOME_SIZE_BYTES = 64 * 1024 * 1024;
/** Seconds the engine waits after SIGTERM before SIGKILL when mcp-lok stops a server and nobody chose another. */
export const STOP_GRACE_S = 3;

/** The environment every sandbox gets besides what the user names. */
export const FIXED_ENV: Readonly<Record<string, string>> = {
  HOME: SANDBOX_HOME,
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  TMPDIR: '/tmp',
  NO_UPDATE_NOTIFIER: '1',
  npm_config_update_notifier: 'false',
  npm_config_fund: 'false',
  npm_config_audit: 'false',
  // No NODE_OPTIONS: a V8 heap flag such as --max-semi-space-size (which buys throughput in a
  // 1 GiB cgroup) changes V8's flag hash, so Node compiles its built-in modules without their
  // code cache and every start is 15-20 ms slower (`npm run bench`; README "Performance").
};

/**
 * NODE_OPTIONS of a server run from an installed package tree. Node's `require` looks in
 * $HOME/.node_modules and $HOME/.node_libraries for what the tree lacks (an optional module
 * such as `bufferutil`), and the home is the server's to write and kept across versions: a bad
 * version could leave code there that the pinned version it is rolled back to would load. A
 * Node option, not a V8 flag: the built-ins' code cache is still used.
 */
export const TREE_NODE_OPTIONS = '--no-global-search-paths';

/** Where a sandbox's runtime folder is mounted (read-only): its named pipes, the egress proxy's socket. */
export const FIFO_MOUNT = '/run/mcp-lok';
