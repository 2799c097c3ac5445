import { randomBytes } from 'node:crypto';
import { accessSync, constants, realpathSync } from 'node:fs';
import type { Context } from '../context.js';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { createFifos, FIFO_MOUNT, removeFifos, wrapWithFifos } from '../bridge/fifo.js';
import { runContainer } from '../bridge/run-container.js';
import { chooseBridgeKind } from '../bridge/select.js';
import { discoverEngine } from '../engine/discover.js';
import type { EngineEndpoint } from '../engine/endpoint.js';
import { ensureSandboxImage } from '../engine/image.js';
import { sweepOrphans } from '../engine/sweep.js';
import { LokError, EXIT } from '../errors.js';
import { buildContainerSpec, type MountPlan } from '../sandbox/build-spec.js';
import { CA_BUNDLE_PATH, chooseSandboxUser, DEFAULT_NOFILE, FIXED_ENV, PACKAGES_DIR } from '../sandbox/hardening.js';
import { buildLabels } from '../sandbox/labels.js';
import { decideNetwork } from '../sandbox/profile.js';
import { loadProfile, resolveGrantMounts } from '../services/profiles.js';
import { currentOwner } from '../state/owner.js';
import { chooseBin, normalizeBinField } from './choose-bin.js';
import { ensureInstalled } from './install.js';
import { readNpmSettings } from './npm-config.js';
import type { EnvEntry, LokOptions } from './parse-args.js';
import type { PackageSpec } from './package-spec.js';

export interface ShimRun {
  lok: LokOptions;
  yes: boolean | undefined;
  quiet: boolean;
  packages: PackageSpec[];
  command: string | undefined;
  args: string[];
}

/** Returns the variables the user named: `-e NAME` copies from our environment, unset ones are skipped. */
export function resolveUserEnv(entries: EnvEntry[], env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of entries) {
    const value = entry.value ?? env[entry.name];
    if (value !== undefined) out[entry.name] = value;
  }
  return out;
}

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
    return real;
  } catch {
    if (origin === '--ca-cert') {
      throw new LokError('INVALID_INPUT', `Cannot read the CA bundle ${path} given by --ca-cert.`, { exitCode: EXIT.usage, hint: 'Pass a readable PEM file.' });
    }
    return undefined;
  }
}

/**
 * Runs one package's server in a sandbox with the client's stdio, returning its exit code.
 * Nothing but the server's bytes reaches ctx.stdout.
 */
export async function runShim(ctx: Context, run: ShimRun): Promise<number> {
  const { lok } = run;
  // Bad input fails before anything is created: the profile first, its grants once the engine is known.
  const loaded = loadProfile(lok.profile, { configDir: ctx.paths.config, cwd: process.cwd() });
  const net = decideNetwork(loaded.profile, loaded.name);
  const user = chooseSandboxUser(process.getuid?.(), process.getgid?.());
  const npm = readNpmSettings(ctx.env, ctx.home, process.execPath);
  // npm's own cafile replaces npm's trusted roots, as on the host; the others add to them.
  const npmCa = lok.caCert ? undefined : readableCaFile(npm.cafile, 'npm cafile');
  const caFile = lok.caCert ? readableCaFile(lok.caCert, '--ca-cert') : npmCa ?? readableCaFile(ctx.env.NODE_EXTRA_CA_CERTS, 'NODE_EXTRA_CA_CERTS');
  const endpoint: EngineEndpoint = await discoverEngine({ env: ctx.env, home: ctx.home, platform: process.platform, explicit: lok.engine });
  ctx.debug(`engine: ${endpoint.kind === 'unix' ? endpoint.socketPath : `${endpoint.host}:${endpoint.port}`} (${endpoint.source})`);
  const grants = resolveGrantMounts(loaded.profile, {
    home: ctx.home,
    engineSocket: endpoint.kind === 'unix' ? endpoint.socketPath : undefined,
    lokDirs: [ctx.paths.config, ctx.paths.cache, ctx.paths.state],
    uid: user.uid,
    gid: user.gid,
  });
  const sweep = sweepOrphans(endpoint, join(ctx.paths.state, 'run'), ctx.now()).then(
    (names) => { for (const n of names) ctx.debug(`removed leftover ${n}`); },
    (error: unknown) => ctx.debug(`orphan sweep failed: ${String(error)}`),
  );
  const image = await ensureSandboxImage(endpoint, { log: ctx.log });
  const record = await ensureInstalled(ctx, endpoint, {
    packages: run.packages,
    registry: lok.registry ?? npm.registry,
    caFile,
    caIsNpmCafile: npmCa !== undefined,
    allowInstall: run.yes !== false,
    refreshAfterMs: lok.refreshAfterMs,
    image,
    quiet: run.quiet,
  });
  const bin = chooseBin(record.packages.map((p) => ({ name: p.name, bin: normalizeBinField(p.name, p.bin) })), run.command);
  const tree = `${PACKAGES_DIR}/${record.dir}`;
  const name = lok.name ?? defaultContainerName(run.packages[0]?.name ?? 'server', randomBytes(3).toString('hex'));
  if (net.relaxation) ctx.log(`mcp-lok: ${net.relaxation}`);
  for (const m of grants) ctx.log(`mcp-lok: profile ${loaded.name}: ${m.readOnly ? 'read-only' : 'read-write'} ${m.source}${m.target === m.source ? '' : ` at ${m.target}`}`);
  const env: Record<string, string> = {
    // As npx does: the package's own bins first.
    PATH: `${tree}/node_modules/.bin:${FIXED_ENV.PATH}`,
  };
  const mounts: MountPlan[] = [{ type: 'volume', source: record.volume, target: PACKAGES_DIR, readOnly: true }, ...grants];
  if (caFile && net.network !== 'none') {
    mounts.push({ type: 'bind', source: caFile, target: CA_BUNDLE_PATH, readOnly: true });
    env.NODE_EXTRA_CA_CERTS = CA_BUNDLE_PATH;
  }
  Object.assign(env, resolveUserEnv(lok.env, ctx.env));
  const bridgeKind = chooseBridgeKind(endpoint, ctx.env, ctx.home, process.platform);
  const fifos = bridgeKind === 'fifo' ? await createFifos(join(ctx.paths.state, 'run'), `${name}.${randomBytes(4).toString('hex')}`) : undefined;
  if (fifos) mounts.push({ type: 'bind', source: fifos.dir, target: FIFO_MOUNT, readOnly: true });
  const cmd = [`${tree}/node_modules/.bin/${bin.binName}`, ...run.args];
  const body = buildContainerSpec({
    name,
    user,
    image,
    cmd: fifos ? wrapWithFifos(cmd) : cmd,
    env,
    mounts,
    memoryBytes: lok.memoryBytes,
    // The engine refuses more CPUs than the machine has (a 1-CPU laptop VM, say).
    cpus: Math.min(lok.cpus, availableParallelism()),
    pids: lok.pids,
    nofile: DEFAULT_NOFILE,
    podman: endpoint.podman,
    network: net.network,
    labels: buildLabels({
      name, role: 'run', launcher: 'npx', transport: 'stdio', profile: loaded.name,
      packages: record.packages.map((p) => `${p.name}@${p.version}`), image, owner: currentOwner(),
    }),
    // With named pipes the engine has no stdin to hold open.
    interactive: !fifos,
    autoRemove: true,
  });
  ctx.debug(`starting ${name}: ${bin.pkg} bin ${bin.binName}, ${bridgeKind} bridge`);
  const stdout = ctx.stdout;
  try {
    const direct = fifos && ctx.stdioFds;
    return await runContainer(endpoint, name, body, {
      ...(direct ? { fds: direct } : { stdin: ctx.stdin }),
      onStdout: (chunk) => { stdout.write(chunk); },
      onStderr: (chunk) => { ctx.stderr.write(chunk); },
    }, { bridge: fifos ? { kind: 'fifo', fifos } : { kind: 'attach' }, reaper: true, handleSignals: true, cleanupDir: fifos?.dir });
  } finally {
    if (fifos) await removeFifos(fifos).catch(() => {});
    await sweep;
  }
}
