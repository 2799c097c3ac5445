import { randomBytes } from 'node:crypto';
import { accessSync, constants, readFileSync, realpathSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Context } from './context.js';
import { createFifos, removeFifos, wrapWithFifos } from '../stdio/fifo.js';
import { egressForwarderPrefix, wrapWithEgressForwarder } from '../egress/forwarder.js';
import { EGRESS_PROXY_ENV, openEgress, startSandboxEgress, type EgressAccess } from '../egress/wiring.js';
import { startLoopbackSidecar } from '../egress/loopback.js';
import type { Sidecar } from '../egress/sidecar.js';
import { runContainer, type RunIo } from '../stdio/run-container.js';
import { chooseStdioChannel } from '../stdio/select.js';
import { ensureImagePresent, ensureSandboxImage, ownImageContext } from '../prepare/images.js';
import { LokError, EXIT } from '../errors.js';
import { buildContainerSpec, type MountPlan } from '../sandbox/build-spec.js';
import { buildPinCheck } from '../sandbox/mount-pin.js';
import { pinNestedMounts } from '../prepare/mount-pins.js';
import { DEFAULT_NOFILE, FIFO_MOUNT, FIXED_ENV, PACKAGES_DIR, TREE_NODE_OPTIONS } from '../sandbox/hardening.js';
import { buildLabels } from '../sandbox/labels.js';
import { buildGrantContext, denyRulesOf, resolveGrantMounts } from '../prepare/grants.js';
import type { ServerRequest } from '../request/server-request.js';
import { currentOwner } from '../state/owner.js';
import { chooseBin, normalizeBinField } from '../prepare/choose-bin.js';
import { ensureInstalled, findPinnedTree } from '../prepare/install.js';
import { ensureHome } from '../prepare/home.js';
import { readOnlyWriteNotice, watchReadOnlyWrites } from './write-hints.js';
import { readNpmSettings } from '../prepare/npm-config.js';
import { watchForUpdates, type PinnedStart } from './update-check.js';
import { findGrantViolation } from '../sandbox/grant-policy.js';
import { findPathArguments, NO_GRANTS, planServer, refuseUncheckableMounts, type EngineFacts, type HostFacts, type PlannedServer, type ToolPinPlan } from './plan.js';
import { mayConcernTools, mayHoldToolsList, ToolsWatch } from '../tools-pin/watch.js';
import { createInputFilter, createOutputFilter, createToolsTap } from '../tools-pin/streams.js';
import type { MessageHooks } from '../http/reverse-proxy/messages.js';
import { PassThrough, type Readable } from 'node:stream';
import type { LegacyBackend, LegacyHandlers, ModernSink } from '../era/gateway.js';
import { isModernMessage } from '../era/translate.js';
import { formatJsonRpcError } from '../http/json-rpc.js';
import { splitLines } from '../lines.js';
import { readClientInput, type ClientInput } from '../stdio/client-input.js';
import { OutputFlow } from '../stdio/output-flow.js';
import { holdTree, type HeldTree } from '../state/tree-leases.js';

/** A CA bundle larger than this is not one (the system's whole bundle is some 200 KiB). */
const MAX_CA_BUNDLE_BYTES = 16 * 1024 * 1024;

/**
 * Returns the real path of a CA bundle to mount into the sandbox, or undefined (a bad
 * `--ca-cert` throws). It must be PEM certificates and hold no private key: the file is
 * mounted where a networked server reads it, and the path can come from a client config's
 * `env` (NODE_EXTRA_CA_CERTS, npm_config_cafile, MCP_LOK_CA_CERT), which could otherwise name
 * `~/.ssh/id_ed25519` and hand it to the server whatever the grant policy refuses.
 */
function readableCaFile(path: string | undefined, origin: string): string | undefined {
  if (!path) return undefined;
  try {
    const real = realpathSync(path);
    accessSync(real, constants.R_OK);
    const st = statSync(real);
    // Mounted into the sandbox: a socket there would be one the server could connect to.
    if (!st.isFile() || st.size > MAX_CA_BUNDLE_BYTES) throw new Error('not a CA bundle');
    const text = readFileSync(real, 'latin1');
    if (!text.includes('-----BEGIN CERTIFICATE-----') || /PRIVATE KEY-----/.test(text)) throw new Error('not a CA bundle');
    return real;
  } catch {
    if (origin === '--ca-cert') {
      throw new LokError('INVALID_INPUT', `Cannot use ${path} given by --ca-cert as a CA bundle: it must be a readable file of PEM certificates, with no private key.`, { exitCode: EXIT.usage, hint: 'Pass a readable PEM file of CA certificates.' });
    }
    return undefined;
  }
}

/** Finds the engine (once per process) and says what it is: on this machine's kernel or not. */
export async function gatherEngineFacts(ctx: Context, explicit: string | undefined): Promise<EngineFacts> {
  const endpoint = await ctx.engine(explicit);
  return { endpoint, local: chooseStdioChannel(endpoint, ctx.env, ctx.home, ctx.platform) === 'fifo' };
}

/** What the planner needs from the machine that no engine answer changes: read while the engine answers. */
export interface MachineFacts {
  npm: HostFacts['npm'];
  caFile: string | undefined;
  caIsNpmCafile: boolean;
  /** Arguments that name an existing host path, resolved. */
  existing: Array<{ path: string; real: string; folder: boolean }>;
}

/** Reads npm's settings, the CA bundle and the host paths among the arguments (a bad `--ca-cert` throws). */
export function readMachineFacts(ctx: Context, req: ServerRequest): MachineFacts {
  const { lok } = req;
  const npm = readNpmSettings(ctx.env, ctx.home, process.execPath);
  // npm's own cafile replaces npm's trusted roots, as on the host; the others add to them.
  const npmCa = lok.caCert ? undefined : readableCaFile(npm.cafile, 'npm cafile');
  const caFile = lok.caCert ? readableCaFile(lok.caCert, '--ca-cert') : npmCa ?? readableCaFile(ctx.env.NODE_EXTRA_CA_CERTS, 'NODE_EXTRA_CA_CERTS');
  const existing = findPathArguments(req.args).flatMap((path) => {
    try { return [{ path, real: realpathSync(path), folder: statSync(path).isDirectory() }]; } catch { return []; }
  });
  return { npm, caFile, caIsNpmCafile: npmCa !== undefined, existing };
}

/**
 * Reads what the planner needs from the machine: the user's ids, npm's settings, the CA bundle
 * and, when the profile grants files, the grants resolved against the filesystem.
 */
export function gatherHostFacts(ctx: Context, req: ServerRequest, engine: EngineFacts, machine: MachineFacts = readMachineFacts(ctx, req)): HostFacts {
  const { profile } = req.profile;
  const { npm, caFile, caIsNpmCafile, existing } = machine;
  // Most servers get no host files: their starts skip the machine's grant facts altogether.
  const hasGrants = profile.read.length + profile.write.length > 0;
  const context = hasGrants || existing.length > 0 ? buildGrantContext({ env: ctx.env, home: ctx.home, paths: ctx.paths, platform: ctx.platform, endpoint: engine.endpoint }) : undefined;
  const rules = context && existing.length > 0 ? denyRulesOf(context) : [];
  return {
    uid: process.getuid?.(), gid: process.getgid?.(), npm, caFile, caIsNpmCafile,
    grants: context && hasGrants ? { context, first: resolveGrantMounts(profile, context) } : undefined,
    random: randomBytes(3).toString('hex'),
    hostPaths: existing.map(({ path, real, folder }) => ({
      path, real, kind: folder ? 'folder' : 'file', refused: findGrantViolation(real, rules, { caseInsensitive: context?.caseInsensitive ?? false }),
    })),
  };
}

/** The server's code on the engine: its image and command, and what its containers mount for it. */
export interface Prepared {
  image: string;
  cmd: string[] | undefined;
  /** Variables of the code itself (the package's bins on PATH), under the plan's. */
  env: Record<string, string>;
  mounts: MountPlan[];
  packages: string[];
  what: string;
  /** The pin the tree comes from, for the look for newer versions; undefined when floating or from an image. */
  pinned?: PinnedStart | undefined;
  /** The package tree it runs (undefined for an image): what a server that starts containers later holds (state/tree-leases.ts). */
  tree?: HeldTree | undefined;
}

/** A plan whose code is on the engine, its mounts and variables complete: what every container of the server is launched from. */
export interface ServerPlan extends PlannedServer {
  prepared: Prepared;
  /** mcp-lok's sandbox image, for its helpers (the egress and loopback sidecars); undefined when none is needed. */
  helperImage: string | undefined;
}

/** A tree installed in a package volume, as a start runs it. */
export interface TreeToRun {
  volume: string;
  dir: string;
  packages: Array<{ name: string; version: string; bin: unknown }>;
  /** The pin it comes from; undefined for a floating tree or `update`'s candidate. */
  pinKey?: string | undefined;
}

/**
 * Installs (or finds) the packages, or takes the tree given (`update`'s candidate, installed
 * but not pinned), and returns how to start its bin.
 */
async function installPackages(ctx: Context, plan: PlannedServer, step: Extract<PlannedServer['prepare'], { kind: 'install' }>, args: string[], given: TreeToRun | undefined): Promise<Prepared> {
  // A warm start asks the engine for the image and the pinned tree at once.
  const imageReady = ensureSandboxImage(plan.endpoint, { log: ctx.log });
  imageReady.catch(() => {});
  const found = given ?? await findPinnedTree(ctx, plan.endpoint, step.install);
  const image = await imageReady;
  const install = { ...step.install, image };
  const record = found ?? await ensureInstalled(ctx, plan.endpoint, install);
  const command = plan.source.kind === 'npx' ? plan.source.command : undefined;
  const bin = chooseBin(record.packages.map((p) => ({ name: p.name, bin: normalizeBinField(p.name, p.bin) })), command);
  const tree = `${PACKAGES_DIR}/${record.dir}`;
  return {
    image,
    cmd: [`${tree}/node_modules/.bin/${bin.binName}`, ...args],
    // As npx does: the package's own bins first. Nothing loaded from the home (TREE_NODE_OPTIONS).
    env: { PATH: `${tree}/node_modules/.bin:${FIXED_ENV.PATH}`, NODE_OPTIONS: TREE_NODE_OPTIONS },
    mounts: [{ type: 'volume', source: record.volume, target: PACKAGES_DIR, readOnly: true }],
    packages: record.packages.map((p) => `${p.name}@${p.version}`),
    what: `${bin.pkg} bin ${bin.binName}`,
    pinned: record.pinKey === undefined ? undefined : { key: record.pinKey, packages: record.packages, install },
    tree: { volume: record.volume, dir: record.dir },
  };
}

/** Makes sure the image is there (pulling it, progress on stderr) and runs its own command. */
async function pullImage(ctx: Context, plan: PlannedServer, step: Extract<PlannedServer['prepare'], { kind: 'image' }>, args: string[]): Promise<Prepared> {
  await ensureImagePresent(plan.endpoint, step.image, ctx.log, { allowPull: step.allowPull });
  return { image: step.image, cmd: args.length > 0 ? args : undefined, env: {}, mounts: [], packages: [], what: `image ${step.image}` };
}

/**
 * Puts the plan's code on the engine: installs its packages (or runs `tree`, already installed)
 * or pulls its image, and its helpers' image.
 */
export async function prepareServer(ctx: Context, plan: PlannedServer, args: string[], tree?: TreeToRun): Promise<ServerPlan> {
  const step = plan.prepare;
  const prepared = step.kind === 'install' ? await installPackages(ctx, plan, step, args, tree) : await pullImage(ctx, plan, step, args);
  const helperImage = step.kind === 'install' ? prepared.image : plan.needsHelperImage ? await ensureSandboxImage(plan.endpoint, { log: ctx.log }) : undefined;
  // The code's own mounts and variables (the package tree, its bins on PATH) under the plan's;
  // the user's NODE_OPTIONS goes after the tree's own.
  const env = { ...prepared.env, ...plan.env };
  if (prepared.env.NODE_OPTIONS !== undefined && plan.env.NODE_OPTIONS !== undefined) env.NODE_OPTIONS = `${prepared.env.NODE_OPTIONS} ${plan.env.NODE_OPTIONS}`;
  return { ...plan, mounts: [...prepared.mounts, ...plan.mounts], env, prepared, helperImage };
}

/** Gathers the facts a request is planned from and plans it (pure): nothing is made yet. */
export async function planRequest(ctx: Context, req: ServerRequest): Promise<PlannedServer> {
  const engineReady = gatherEngineFacts(ctx, req.lok.engine);
  engineReady.catch(() => {});
  // Read while the engine answers its ping (a few milliseconds of a start): what needs no engine.
  const machine = readMachineFacts(ctx, req);
  if (req.source.kind === 'npx') ownImageContext();
  const engine = await engineReady;
  return planServer(req, engine, gatherHostFacts(ctx, req, engine, machine));
}

/**
 * Plans a server and puts its code on the engine, saying on stderr how the profile relaxes the
 * sandbox. Bad input fails in the planner, before anything exists.
 */
export async function startServerPlan(ctx: Context, req: ServerRequest): Promise<ServerPlan> {
  const plan = await planRequest(ctx, req);
  const ready = await prepareServer(ctx, plan, req.args);
  for (const line of plan.notices) ctx.log(line);
  return ready;
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
  /** A ToolsWatch checks this container's tools against the plan's pin: its labels name the pin. */
  watched?: boolean;
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
  // Made on first use, and looked for before every container (a session's, a restart's): it may have been removed meanwhile.
  const home = plan.home ? ensureHome(ctx, plan.endpoint, plan.home, plan.helperImage ?? prepared.image) : undefined;
  home?.catch(() => {});
  const tap = options.io.tapStdout !== undefined && options.io.fds !== undefined;
  const fifos = plan.fifo ? await createFifos(join(ctx.paths.state, 'run'), `${name}.${randomBytes(4).toString('hex')}`, { tap }) : undefined;
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
      home: await home,
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
        toolPin: plan.toolPin && options.watched ? { id: plan.toolPin.target.id, mode: plan.toolPin.mode } : undefined,
        pin: prepared.pinned?.key,
      }),
      // With named pipes the engine has no stdin to hold open.
      interactive: !fifos && options.io.stdin !== undefined,
      autoRemove: true,
    });
    ctx.debug(`starting ${name}: ${prepared.what}, ${fifos ? 'fifo' : 'attach'} bridge${egress?.volumesFrom ? ', egress sidecar' : ''}${loopback ? ', loopback sidecar' : ''}`);
    return await runContainer(plan.endpoint, name, body, options.io, {
      channel: fifos ? { kind: 'fifo', fifos } : { kind: 'attach' },
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
  // The client's first line says its MCP era; it is read while the server is prepared, so it costs no time.
  const input = readClientInput(ctx.stdioFds ? { fd: ctx.stdioFds.stdin, rest: () => ctx.stdin } : { stream: ctx.stdin });
  const plan = await startServerPlan(ctx, req);
  const first = await Promise.race([input.first, new Promise<'late'>((resolve) => setTimeout(resolve, FIRST_LINE_WAIT_MS, 'late').unref())]);
  if (first !== 'late' && first !== undefined && isModernFirstLine(first)) return runModernStdio(ctx, plan, input.stream());
  return runLegacyStdio(ctx, plan, input);
}

/** How long after its server is ready a client may stay silent before it is served as a legacy client. */
const FIRST_LINE_WAIT_MS = 2000;

function isModernFirstLine(line: Buffer): boolean {
  try {
    return isModernMessage(JSON.parse(line.toString('utf8')));
  } catch {
    return false;
  }
}

/**
 * Serves a legacy client (2025 era, or anything that is not a modern first message) as
 * before: the client's bytes relayed to one sandbox, after the bytes read to decide.
 */
async function runLegacyStdio(ctx: Context, plan: ServerPlan, read: ClientInput): Promise<number> {
  const stdout = ctx.stdout;
  const watch = plan.toolPin ? createToolsWatch(ctx, plan.toolPin) : undefined;
  // Enforcing needs both directions in this process; observing reads a copy of the output only.
  // The named-pipe relay's cat then reads the client's descriptor after the bytes read here.
  const handed = plan.fifo && watch?.mode !== 'enforce' && ctx.stdioFds ? read.handOver() : undefined;
  const direct = handed !== undefined ? ctx.stdioFds : undefined;
  // Else this process relays stdin itself, from what the read began (never ctx.stdin: a second reader of the descriptor).
  const clientInput = (): Readable => read.stream();
  const write = (chunk: Buffer): void => { stdout.write(chunk); };
  // Only stderr is watched, for a write refused inside the package: stdout's bytes never pass through it.
  const onStderr = watchReadOnlyWrites((chunk) => { ctx.stderr.write(chunk); }, (path) => { ctx.log(readOnlyWriteNotice(path, plan.lok.ephemeral)); });
  let io: RunIo;
  if (watch?.mode === 'enforce') {
    const output = createOutputFilter(watch, write, ctx.log);
    const input = createInputFilter(watch, output.reply, ctx.log);
    // A failing stdin ends the server's input, as an unfiltered one does.
    clientInput().once('error', () => input.end()).pipe(input);
    io = { stdin: input, onStdout: output, onStderr };
  } else {
    const tap = watch ? createToolsTap(watch, ctx.log) : undefined;
    const prefix = handed !== undefined && handed.length > 0 ? { stdinPrefix: handed } : {};
    io = direct
      ? { fds: direct, ...prefix, onStdout: write, ...(tap ? { tapStdout: tap } : {}), onStderr }
      : { stdin: clientInput(), onStdout: tap ? (chunk) => { write(chunk); tap(chunk); } : write, onStderr };
  }
  // Once the server runs, and only then, a look for a newer version of its pin (when one is due).
  const updates = watchForUpdates(ctx, plan.endpoint, plan.prepared.pinned);
  try {
    return await launchSandbox(ctx, plan, {
      containerName: plan.name, role: 'run', transport: 'stdio', io, handleSignals: true, watched: watch !== undefined,
      onStarted: () => updates.started(),
    });
  } finally {
    await updates.stop();
    await watch?.settled();
    await ctx.swept();
  }
}

/** How long requests in flight may take to finish once a modern client's input has ended. */
const MODERN_STOP_GRACE_MS = 10_000;
/** Sandboxes at once for a modern stdio client (one request in flight each). */
const MODERN_STDIO_SANDBOXES = 4;

/**
 * Serves a modern (2026-07-28) client on stdio from the legacy server: the era gateway runs
 * the `initialize` handshake itself in sandboxes of its own, one request in flight each.
 * Returns 0 once the client's input has ended and every sandbox is gone.
 */
async function runModernStdio(ctx: Context, plan: ServerPlan, stdin: Readable): Promise<number> {
  ctx.debug(`${plan.name}: the client speaks MCP 2026-07-28; serving it from the legacy server through the era gateway`);
  // Loaded only for a modern client: a legacy client's start path does not pay for it.
  const { EraGateway } = await import('../era/gateway.js');
  // Its sandboxes come and go (an idle one stops): the tree stays held while the client is served.
  const release = holdPreparedTree(ctx, plan);
  const updates = watchForUpdates(ctx, plan.endpoint, plan.prepared.pinned);
  let started = false;
  const gateway = new EraGateway({
    open: (handlers, info) => openLegacySandbox(ctx, plan, handlers, {
      containerName: `${plan.name}-${info.id}`, role: 'session', transport: 'stdio', what: `its sandbox ${info.id}`,
      onStarted: () => { if (!started) { started = true; updates.started(); } },
    }),
    maxPerKey: MODERN_STDIO_SANDBOXES, maxSandboxes: MODERN_STDIO_SANDBOXES,
    log: (line) => ctx.debug(`era gateway: ${line}`),
  });
  const out = (line: string): boolean => ctx.stdout.write(`${line}\n`);
  const sink: ModernSink = {
    notify: (line, resume) => {
      if (out(line)) return true;
      ctx.stdout.once('drain', resume);
      return false;
    },
    answer: (line) => { out(line); },
  };
  const onLine = (text: string): void => {
    let msg: { id?: unknown; method?: unknown; params?: { requestId?: unknown } };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      out(formatJsonRpcError(-32700, 'Parse error: Invalid JSON'));
      return;
    }
    // Not a request, or a request with an id nobody could be answered under: the client hears so instead of waiting.
    const invalid = typeof msg !== 'object' || msg === null || Array.isArray(msg) ||
      (typeof msg.method === 'string' && 'id' in msg && typeof msg.id !== 'string' && typeof msg.id !== 'number');
    if (invalid) {
      out(formatJsonRpcError(-32600, 'Invalid Request: a JSON-RPC request object with a string or number id, or a notification'));
      return;
    }
    if (typeof msg.method !== 'string') return;
    if (typeof msg.id === 'string' || typeof msg.id === 'number') {
      gateway.request(msg as { id: string | number; method: string }, 'stdio', sink);
    } else if (msg.method === 'notifications/cancelled' && (typeof msg.params?.requestId === 'string' || typeof msg.params?.requestId === 'number')) {
      gateway.cancelled(msg.params.requestId);
    }
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  let stop!: (why: 'signal' | 'end') => void;
  const stopped = new Promise<'signal' | 'end'>((resolve) => { stop = resolve; });
  const onSignal = (): void => stop('signal');
  for (const signal of signals) process.once(signal, onSignal);
  stdin.on('data', splitLines(onLine));
  stdin.once('end', () => stop('end'));
  stdin.once('error', () => stop('end'));
  try {
    // A client that closes its input after its requests still gets their answers (within a grace); a signal stops at once.
    if (await stopped === 'end') {
      for (let waited = 0; gateway.inFlight > 0 && waited < MODERN_STOP_GRACE_MS; waited += 50) await new Promise((r) => setTimeout(r, 50));
    }
    await gateway.close();
    return 0;
  } finally {
    for (const signal of signals) process.off(signal, onSignal);
    release();
    await updates.stop();
    await ctx.swept();
  }
}

/**
 * Holds the plan's package tree for a server whose containers come and go (state/tree-leases.ts);
 * returns what lets it go. A failure to write the lease is said in --debug only: it costs at
 * most a tree removed by a rollback meanwhile, not the start.
 */
export function holdPreparedTree(ctx: Context, plan: ServerPlan): () => void {
  const tree = plan.prepared.tree;
  if (!tree) return () => {};
  try {
    const release = holdTree(ctx.paths.state, tree);
    return () => { try { release(); } catch { /* removed with the process's state anyway */ } };
  } catch (error) {
    ctx.debug(`could not hold the tree ${tree.dir}: ${(error as Error).message}`);
    return () => {};
  }
}

/** Options of one legacy server's sandbox opened for the bridge or the era gateway. */
export interface LegacySandboxOptions {
  containerName: string;
  role: 'session';
  transport: 'stdio' | 'sse' | 'streamable-http';
  /** Names it in the one line logged when its server overflows a line ("this session (ID)"). */
  what: string;
  onStarted?: () => void;
}

const MIB = 1024 * 1024;

/**
 * Starts one sandbox of a plan with its stdio as lines: each line the server sends goes to
 * `handlers` (through the plan's tool watch), and the returned backend writes lines to it.
 * Resolves once it runs; a server that exits first rejects.
 */
export async function openLegacySandbox(ctx: Context, plan: ServerPlan, handlers: LegacyHandlers, options: LegacySandboxOptions): Promise<LegacyBackend> {
  const stdin = new PassThrough();
  const stop = new AbortController();
  const flow = new OutputFlow();
  let overflowed = false;
  // Each sandbox's tools are checked against the server's one pin.
  const watch = plan.toolPin ? createToolsWatch(ctx, plan.toolPin) : undefined;
  const onStdout = splitLines((line) => {
    if (overflowed) return;
    const out = watch ? watch.serverLine(line) : line;
    if (out !== undefined && !handlers.onMessage(out)) flow.pause();
  }, {
    // A server that never ends its line would grow this process without limit: that sandbox ends.
    onOverflow: (max) => {
      if (overflowed) return;
      overflowed = true;
      const what = `the server sent a message over ${max / MIB} MiB without a newline`;
      ctx.log(`mcp-lok: ${plan.name}: ${what}; ending ${options.what}.`);
      handlers.onEnd(what);
      stop.abort();
    },
  });
  let started!: () => void;
  const running = new Promise<void>((resolve) => { started = resolve; });
  const exited = launchSandbox(ctx, plan, {
    containerName: options.containerName, role: options.role, transport: options.transport,
    io: { stdin, onStdout, onStderr: (chunk) => { ctx.stderr.write(chunk); }, flow },
    handleSignals: false, signal: stop.signal, onStarted: () => { started(); options.onStarted?.(); }, announceEgress: false, watched: watch !== undefined,
  });
  const ended = exited.then((code) => `code ${code}`, (error: unknown) => (error as Error).message);
  void ended.then((reason) => handlers.onEnd(`the server exited: ${reason}`));
  // A create refused outright (a grant that changed since the start) keeps its own message.
  await Promise.race([running, exited.then((code) => { throw new LokError('SERVER_EXITED', `The server exited (code ${code}) before starting.`, { exitCode: EXIT.failure }); })]);
  return {
    send: (line) => {
      const refused = watch?.clientLine(line);
      if (!refused) { stdin.write(`${line}\n`); return; }
      for (const reply of refused.reply) handlers.onMessage(reply);
      if (refused.forward !== undefined) stdin.write(`${refused.forward}\n`);
    },
    resume: () => flow.resume(),
    // Reading again lets the output stream reach its end and close.
    close: async () => { stdin.end(); stop.abort(); flow.resume(); await exited.catch(() => {}); await watch?.settled(); },
  };
}

/** Returns the watch of a server's tools (tools-pin/): its pin under mcp-lok's state, what it says on stderr. */
export function createToolsWatch(ctx: Context, pin: ToolPinPlan): ToolsWatch {
  return new ToolsWatch({ stateDir: ctx.paths.state, locksDir: ctx.paths.locks, target: pin.target, mode: pin.mode, log: ctx.log, now: ctx.now, quiet: pin.quiet });
}

/**
 * Returns a watch as message hooks: the same checks
 * as on stdio lines, on the JSON-RPC messages of HTTP bodies.
 */
export function toolsMessageHooks(watch: ToolsWatch): MessageHooks {
  return {
    rewrites: watch.mode === 'enforce',
    serverMayMatter: mayHoldToolsList,
    fromServer: (message) => watch.serverMessage(message),
    clientMayMatter: mayConcernTools,
    fromClient: (message) => watch.clientMessage(message),
  };
}
