import { randomBytes } from 'node:crypto';
import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import type { Context } from './context.js';
import { availableParallelism } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { createFifos, removeFifos, wrapWithFifos } from '../stdio/fifo.js';
import { egressForwarderPrefix, wrapWithEgressForwarder } from '../egress/forwarder.js';
import { EGRESS_PROXY_ENV, openEgress, startSandboxEgress, type EgressAccess } from '../egress/wiring.js';
import { startLoopbackSidecar } from '../egress/loopback.js';
import type { Sidecar } from '../egress/sidecar.js';
import { runContainer, type RunIo } from '../stdio/run-container.js';
import { chooseBridgeKind } from '../stdio/select.js';
import { discoverEngine } from '../engine/discover.js';
import type { EngineEndpoint } from '../engine/endpoint.js';
import { ensureImagePresent, ensureSandboxImage } from '../prepare/images.js';
import { sweepOrphans } from '../engine/sweep.js';
import { LokError, EXIT } from '../errors.js';
import { buildContainerSpec, type MountPlan } from '../sandbox/build-spec.js';
import { buildPinCheck, findNestedUnderWrite } from '../sandbox/mount-pin.js';
import { pinNestedMounts } from '../prepare/mount-pins.js';
import { CA_BUNDLE_PATH, chooseSandboxUser, DEFAULT_NOFILE, FIFO_MOUNT, FIXED_ENV, PACKAGES_DIR } from '../sandbox/hardening.js';
import { buildLabels } from '../sandbox/labels.js';
import { decideNetwork } from '../sandbox/profile.js';
import { describeProfile, type Profile } from '../sandbox/profile-validate.js';
import { buildGrantContext, resolveGrantMounts, type GrantContext, type ResolvedGrants } from '../prepare/grants.js';
import type { ServerRequest, ServerSource } from '../request/server-request.js';
import { currentOwner } from '../state/owner.js';
import { chooseBin, normalizeBinField } from '../prepare/choose-bin.js';
import { ensureInstalled } from '../prepare/install.js';
import { chooseNpmProxy, readNpmSettings } from '../prepare/npm-config.js';
import type { EnvEntry, LokOptions } from '../shim/parse-args.js';
import type { PackageSpec } from '../request/package-spec.js';

/** Returns a container name for a package: readable, unique, valid for the engine. */
export function defaultContainerName(pkg: string, random: string): string {
  const slug = pkg.replace(/^@/, '').replace(/[^a-zA-Z0-9_.-]+/g, '-').replace(/^[-_.]+/, '').slice(0, 40);
  return `mcp-lok-${slug || 'server'}-${random}`;
}

function readableCaFile(path: string | undefined, origin: string): string | undefined {
  if (!path) return undefined;
  try {
    const real = realpathSync(path);
    accessSync(real, constants.R_OK);
    // Mounted into the sandbox: a socket there would be one the server could connect to.
    if (!statSync(real).isFile()) throw new Error('not a file');
    return real;
  } catch {
    if (origin === '--ca-cert') {
      throw new LokError('INVALID_INPUT', `Cannot read the CA bundle ${path} given by --ca-cert.`, { exitCode: EXIT.usage, hint: 'Pass a readable PEM file.' });
    }
    return undefined;
  }
}

interface Prepared {
  image: string;
  cmd: string[] | undefined;
  env: Record<string, string>;
  mounts: MountPlan[];
  packages: string[];
  what: string;
  nameHint: string;
}

/** Installs (or finds) the packages and returns how to start their bin from the tree. */
async function prepareNpx(ctx: Context, endpoint: EngineEndpoint, req: ServerRequest, source: Extract<ServerSource, { kind: 'npx' }>, ca: CaChoice): Promise<Prepared> {
  const { lok } = req;
  const image = await ensureSandboxImage(endpoint, { log: ctx.log });
  const record = await ensureInstalled(ctx, endpoint, {
    packages: source.packages,
    registry: lok.registry ?? ca.npm.registry,
    caFile: ca.file,
    caIsNpmCafile: ca.isNpmCafile,
    upstreamProxy: ca.upstreamProxy,
    proxyInSidecar: ca.proxyInSidecar,
    allowInstall: source.allowInstall,
    refreshAfterMs: lok.refreshAfterMs,
    image,
    quiet: req.quiet,
    // A background server's supervisor has its own signal handling; the reaper covers it.
    handleSignals: req.launcher !== 'start',
  });
  const bin = chooseBin(record.packages.map((p) => ({ name: p.name, bin: normalizeBinField(p.name, p.bin) })), source.command);
  const tree = `${PACKAGES_DIR}/${record.dir}`;
  return {
    image,
    cmd: [`${tree}/node_modules/.bin/${bin.binName}`, ...req.args],
    // As npx does: the package's own bins first.
    env: { PATH: `${tree}/node_modules/.bin:${FIXED_ENV.PATH}` },
    mounts: [{ type: 'volume', source: record.volume, target: PACKAGES_DIR, readOnly: true }],
    packages: record.packages.map((p) => `${p.name}@${p.version}`),
    what: `${bin.pkg} bin ${bin.binName}`,
    nameHint: source.packages[0]?.name ?? 'server',
  };
}

/** Makes sure the image is there (pulling it, progress on stderr) and runs its own command. */
async function prepareImage(ctx: Context, endpoint: EngineEndpoint, req: ServerRequest, source: Extract<ServerSource, { kind: 'image' }>): Promise<Prepared> {
  await ensureImagePresent(endpoint, source.image, ctx.log, { allowPull: source.allowPull });
  return {
    image: source.image,
    cmd: req.args.length > 0 ? req.args : undefined,
    env: {},
    mounts: [],
    packages: [],
    what: `image ${source.image}`,
    nameHint: (source.image.replace(/@.*$/, '').split('/').pop() ?? '').replace(/:.*$/, '') || 'server',
  };
}

interface CaChoice {
  npm: ReturnType<typeof readNpmSettings>;
  file: string | undefined;
  isNpmCafile: boolean;
  /** The user's own npm proxy URL, which the install's egress proxy goes through. */
  upstreamProxy: string | undefined;
  proxyInSidecar: boolean;
}

const NO_GRANTS: ResolvedGrants = { mounts: [], resolved: {}, notes: [] };

/** Everything decided once per server: validated input, the engine, the installed tree. */
export interface ServerPlan {
  endpoint: EngineEndpoint;
  name: string;
  profileName: string;
  allows: string[];
  user: ReturnType<typeof chooseSandboxUser>;
  net: ReturnType<typeof decideNetwork>;
  /** Sockets can be mounted: the engine shares this machine's kernel (else the egress proxy runs in a sidecar). */
  local: boolean;
  /** The server's stdio goes through named pipes (our image has the shell that wires them). */
  fifo: boolean;
  prepared: Prepared;
  /** mcp-lok's sandbox image, for its helpers (the egress and loopback sidecars); undefined when none is needed. */
  helperImage: string | undefined;
  /** The read-only mounts every container of this server gets (package tree, CA); grants are apart. */
  mounts: MountPlan[];
  /**
   * The profile's grants as first resolved. They are resolved and checked again before every
   * container is created (sessions, restarts), since a server can swap a granted path for a
   * link or a program can leave a socket there while it runs.
   */
  grants: { profile: Profile; context: GrantContext | undefined; first: ResolvedGrants };
  env: Record<string, string>;
  source: ServerSource;
  lok: LokOptions;
  launcher: 'npx' | 'run' | 'start';
  /** The orphan sweep started with the plan; await it before exiting. */
  sweep: Promise<void>;
}

/**
 * Validates a request, finds the engine and installs or pulls what the server needs, saying
 * on stderr how the profile relaxes the sandbox. Bad input fails here, before anything exists.
 */
export async function planServer(ctx: Context, req: ServerRequest): Promise<ServerPlan> {
  const { lok } = req;
  const loaded = req.profile;
  const user = chooseSandboxUser(process.getuid?.(), process.getgid?.());
  const npm = readNpmSettings(ctx.env, ctx.home, process.execPath);
  // npm's own cafile replaces npm's trusted roots, as on the host; the others add to them.
  const npmCa = lok.caCert ? undefined : readableCaFile(npm.cafile, 'npm cafile');
  const caFile = lok.caCert ? readableCaFile(lok.caCert, '--ca-cert') : npmCa ?? readableCaFile(ctx.env.NODE_EXTRA_CA_CERTS, 'NODE_EXTRA_CA_CERTS');
  const endpoint: EngineEndpoint = await discoverEngine({ env: ctx.env, home: ctx.home, platform: process.platform, explicit: lok.engine });
  ctx.debug(`engine: ${endpoint.kind === 'unix' ? endpoint.socketPath : `${endpoint.host}:${endpoint.port}`} (${endpoint.source})`);
  const source = req.source;
  const local = chooseBridgeKind(endpoint, ctx.env, ctx.home, process.platform) === 'fifo';
  // Named pipes need a shell in the image: ours has one; an arbitrary image may not.
  const fifo = local && source.kind === 'npx';
  // The proxy's socket is mounted from here (local) or shared from a sidecar (a VM or TCP
  // engine); an image reaches it through a loopback sidecar that runs the forwarder.
  const net = decideNetwork(loaded.profile, loaded.name);
  const registry = lok.registry ?? npm.registry;
  const upstreamProxy = source.kind === 'npx' ? chooseNpmProxy(npm, registry) : undefined;
  // Most servers get no host files: their starts skip the machine's grant facts altogether.
  const hasGrants = loaded.profile.read.length + loaded.profile.write.length > 0;
  const grantContext = hasGrants ? buildGrantContext({ env: ctx.env, home: ctx.home, paths: ctx.paths, platform: process.platform, endpoint }) : undefined;
  const grants = grantContext ? resolveGrantMounts(loaded.profile, grantContext) : NO_GRANTS;
  // Refused now, before an image is pulled; launchSandbox checks again for each container.
  if (local && findNestedUnderWrite(grants.mounts).length > 0) refuseUncheckableMounts({ source, profileName: loaded.name });
  const sweep = sweepOrphans(endpoint, join(ctx.paths.state, 'run'), ctx.now()).then(
    (names) => { for (const n of names) ctx.debug(`removed leftover ${n}`); },
    (error: unknown) => ctx.debug(`orphan sweep failed: ${String(error)}`),
  );
  const prepared = source.kind === 'npx'
    ? await prepareNpx(ctx, endpoint, req, source, {
      npm, file: caFile, isNpmCafile: npmCa !== undefined,
      // A proxy of the user's own (a corporate one) is the way out: ours goes through it.
      upstreamProxy,
      proxyInSidecar: !local,
    })
    : await prepareImage(ctx, endpoint, req, source);
  const helperImage = source.kind === 'npx' ? prepared.image : net.egress ? await ensureSandboxImage(endpoint, { log: ctx.log }) : undefined;
  const name = lok.name ?? defaultContainerName(prepared.nameHint, randomBytes(3).toString('hex'));
  if (net.relaxation) ctx.log(`mcp-lok: ${net.relaxation}`);
  for (const m of grants.mounts) ctx.log(`mcp-lok: profile ${loaded.name}: ${m.readOnly ? 'read-only' : 'read-write'} ${m.source}${m.target === m.source ? '' : ` at ${m.target}`}`);
  for (const note of grants.notes) ctx.log(`mcp-lok: profile ${loaded.name}: ${note}`);
  const env: Record<string, string> = { ...prepared.env };
  const mounts: MountPlan[] = [...prepared.mounts];
  if (caFile && net.egress) {
    mounts.push({ type: 'bind', source: caFile, target: CA_BUNDLE_PATH, readOnly: true });
    env.NODE_EXTRA_CA_CERTS = CA_BUNDLE_PATH;
  }
  Object.assign(env, req.env);
  return {
    endpoint, name, profileName: loaded.name,
    allows: describeProfile(loaded.profile).filter((line) => line !== 'files: none' && line !== 'network: none'),
    user, net, local, fifo, prepared, helperImage, mounts, env, source, lok, launcher: req.launcher, sweep,
    grants: { profile: loaded.profile, context: grantContext, first: grants },
  };
}

/**
 * Refuses a server from an image whose grants put a mount inside a write grant (a `.git` kept
 * read-only, a grant inside another) where the engine shares this machine's kernel: such a
 * mount is checked from inside the container by the sandbox image's shell, and an image may
 * have none, so a server holding the write grant could swap it for a link to any host folder.
 */
function refuseUncheckableMounts(plan: Pick<ServerPlan, 'source' | 'profileName'>): void {
  if (plan.source.kind !== 'image') return;
  throw new LokError('PROFILE_INVALID', `Profile ${plan.profileName}: a server from an image cannot have a mount inside a write grant (a .git folder kept read-only, or a grant inside another): mcp-lok cannot check it in the image before the server runs, and the server could swap it for a link to any host folder.`, {
    exitCode: EXIT.usage, hint: 'Run the server from its npm package (npx://), grant the folder read-only, or set "git_writable": true in the profile.',
  });
}

/** How one container of a plan is wired. */
export interface LaunchOptions {
  /** The engine's container name (a session's container differs from the server's name). */
  containerName: string;
  role: 'run' | 'session' | 'ingress';
  transport: 'stdio' | 'sse' | 'streamable-http';
  io: RunIo;
  /** Extra variables (PORT for a server that listens itself). */
  env?: Record<string, string>;
  handleSignals: boolean;
  /** Aborting stops the container (SIGTERM, then SIGKILL). */
  signal?: AbortSignal;
  onStarted?: (id: string) => void;
  /** Announce egress refusals on stderr (the shim) or only log them (background servers). */
  announceEgress?: boolean;
  /** Join another sandbox's network namespace (the ingress sidecar's: loopback only) instead of the plan's. */
  joinNetworkOf?: string;
  /** That namespace already forwards 127.0.0.1:EGRESS_FORWARD_PORT to this server's egress proxy. */
  egressInNamespace?: boolean;
}

/**
 * Creates, starts and bridges one container of a plan through the one pure builder, and
 * resolves with its exit code once it is gone, with its pipes and egress proxy.
 */
export async function launchSandbox(ctx: Context, plan: ServerPlan, options: LaunchOptions): Promise<number> {
  const { lok, prepared } = plan;
  const name = options.containerName;
  // Checked again now, right before the create: what was granted must still be what it was.
  const grants = plan.grants.context ? resolveGrantMounts(plan.grants.profile, plan.grants.context, plan.grants.first) : NO_GRANTS;
  const mounts = [...plan.mounts, ...grants.mounts];
  // A mount inside a write grant is checked again from inside the container, before the server runs.
  const pins = plan.local ? pinNestedMounts(mounts) : [];
  if (pins.length > 0) refuseUncheckableMounts(plan);
  const env: Record<string, string> = { ...plan.env, ...options.env };
  const fifos = plan.fifo ? await createFifos(join(ctx.paths.state, 'run'), `${name}.${randomBytes(4).toString('hex')}`) : undefined;
  if (fifos) mounts.push({ type: 'bind', source: fifos.dir, target: FIFO_MOUNT, readOnly: true });
  const record = { server: plan.name, profile: plan.profileName, announce: options.announceEgress ?? true };
  const rules = plan.net.egress;
  // The proxy on a socket beside the pipes (npm package, engine on this machine's kernel).
  let besidePipes: Awaited<ReturnType<typeof startSandboxEgress>> | undefined;
  // Elsewhere: a socket in a private directory, or in an egress sidecar's volume.
  let egress: EgressAccess | undefined;
  // An image (no shell or Node of ours): the forwarder runs in a sidecar whose loopback it joins.
  let loopback: Sidecar | undefined;
  try {
    if (rules && !options.egressInNamespace) {
      if (fifos) {
        besidePipes = await startSandboxEgress(ctx, { ...record, dir: fifos.dir, rules });
      } else {
        egress = await openEgress(ctx, {
          ...record, endpoint: plan.endpoint, local: plan.local, rules, image: plan.helperImage ?? prepared.image,
          containerName: `${name}-egress`, launcher: plan.launcher,
        });
      }
      if (plan.source.kind === 'image' && !options.joinNetworkOf) {
        loopback = await startLoopbackSidecar(ctx, {
          endpoint: plan.endpoint, name: `${name}-lo`, image: plan.helperImage ?? prepared.image, user: plan.user, egress,
          labels: buildLabels({
            name: plan.name, role: 'loopback', launcher: plan.launcher, transport: options.transport, profile: plan.profileName,
            packages: [], image: plan.helperImage ?? prepared.image, owner: currentOwner(),
          }),
          onStderr: (chunk) => { ctx.stderr.write(chunk); },
          // If this process dies, the sidecar's reaper removes the proxy's socket directory too.
          cleanupDir: egress?.dir,
        });
      }
    }
    if (rules) Object.assign(env, EGRESS_PROXY_ENV);
    // An npm package runs the forwarder itself, in our image, on its own loopback.
    const forwarderInside = rules !== undefined && !options.egressInNamespace && plan.source.kind === 'npx';
    if (egress && !loopback) mounts.push(...egress.mounts);
    const server = pins.length > 0 && prepared.cmd ? ['/bin/sh', '-c', `unset PWD OLDPWD SHLVL; ${buildPinCheck(pins)}exec "$@"`, 'mcp-lok', ...prepared.cmd] : prepared.cmd;
    const cmd = fifos && server ? wrapWithFifos(server, { prefix: besidePipes ? egressForwarderPrefix() : '' })
      : forwarderInside && server ? wrapWithEgressForwarder(server) : server;
    const joined = options.joinNetworkOf ?? loopback?.id;
    const body = buildContainerSpec({
      name,
      user: plan.user,
      image: prepared.image,
      cmd,
      useImageCommand: plan.source.kind === 'image',
      env,
      mounts,
      volumesFrom: egress && !loopback ? egress.volumesFrom : undefined,
      memoryBytes: lok.memoryBytes,
      // The engine refuses more CPUs than the machine has (a 1-CPU laptop VM, say).
      cpus: Math.min(lok.cpus, availableParallelism()),
      pids: lok.pids,
      nofile: DEFAULT_NOFILE,
      podman: plan.endpoint.podman,
      network: joined ? `container:${joined}` : plan.net.network,
      labels: buildLabels({
        name: plan.name, role: options.role, launcher: plan.launcher, transport: options.transport, profile: plan.profileName,
        allows: plan.allows, packages: prepared.packages, image: prepared.image, owner: currentOwner(),
      }),
      // With named pipes the engine has no stdin to hold open.
      interactive: !fifos && options.io.stdin !== undefined,
      autoRemove: true,
    });
    ctx.debug(`starting ${name}: ${prepared.what}, ${fifos ? 'fifo' : 'attach'} bridge${egress?.volumesFrom ? ', egress sidecar' : ''}${loopback ? ', loopback sidecar' : ''}`);
    return await runContainer(plan.endpoint, name, body, options.io, {
      bridge: fifos ? { kind: 'fifo', fifos } : { kind: 'attach' },
      reaper: true, handleSignals: options.handleSignals, cleanupDir: fifos?.dir,
      signal: options.signal, onStarted: options.onStarted,
    });
  } finally {
    besidePipes?.close();
    // The server is gone (auto-removed): its sidecars go too, the egress sidecar's volume with it.
    await loopback?.stop();
    await egress?.close();
    if (fifos) await removeFifos(fifos).catch(() => {});
  }
}

/**
 * Runs one server in a sandbox with the client's stdio, returning its exit code. The shim and
 * `mcp-lok run` both come here, and every container goes through the one pure builder.
 * Nothing but the server's bytes reaches ctx.stdout.
 */
export async function runServerStdio(ctx: Context, req: ServerRequest): Promise<number> {
  const plan = await planServer(ctx, req);
  const stdout = ctx.stdout;
  const direct = plan.fifo && ctx.stdioFds;
  try {
    return await launchSandbox(ctx, plan, {
      containerName: plan.name,
      role: 'run',
      transport: 'stdio',
      io: {
        ...(direct ? { fds: direct } : { stdin: ctx.stdin }),
        onStdout: (chunk) => { stdout.write(chunk); },
        onStderr: (chunk) => { ctx.stderr.write(chunk); },
      },
      handleSignals: true,
    });
  } finally {
    await plan.sweep;
  }
}
