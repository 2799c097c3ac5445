import { createHash } from 'node:crypto';
import { escapeControlLine } from '../control-chars.js';
import type { EngineEndpoint } from '../engine/endpoint.js';
import { parseImageRef } from '../engine/images.js';
import { LokError, EXIT } from '../errors.js';
import type { GrantContext, ResolvedGrants } from '../prepare/grants.js';
import type { HomePlan } from '../prepare/home.js';
import type { InstallRequest } from '../prepare/install.js';
import type { NpmSettings } from '../prepare/npm-config.js';
import { chooseNpmProxy } from '../prepare/npm-config.js';
import type { LokOptions } from '../request/options.js';
import type { ServerRequest, ServerSource } from '../request/server-request.js';
import type { MountPlan } from '../sandbox/build-spec.js';
import { CA_BUNDLE_PATH, chooseSandboxUser, type SandboxUser } from '../sandbox/hardening.js';
import { LABEL } from '../sandbox/labels.js';
import { findNestedUnderWrite } from '../sandbox/mount-pin.js';
import { imageShortName, slugName } from '../sandbox/names.js';
import { decideNetwork, type NetworkDecision } from '../sandbox/profile.js';
import { describeProfile, type Profile } from '../sandbox/profile-validate.js';
import { besideCodeFix } from './write-hints.js';
import { toolPinTarget, type ToolPinTarget } from '../tools-pin/identity.js';
import type { PinMode } from '../tools-pin/pin.js';
import type { PinToolsMode } from '../request/option-values.js';

/** What the engine is, as far as a plan cares. */
export interface EngineFacts {
  endpoint: EngineEndpoint;
  /** The engine shares this machine's kernel: sockets and named pipes can be mounted. */
  local: boolean;
}

/** What the machine says, read by `gatherFacts`: the planner itself reads nothing. */
export interface HostFacts {
  /** The invoking user's ids (undefined where the platform has none). */
  uid: number | undefined;
  gid: number | undefined;
  npm: NpmSettings;
  /** The CA bundle the sandbox trusts (a readable file), and whether it is npm's own cafile. */
  caFile: string | undefined;
  caIsNpmCafile: boolean;
  /** The profile's grants resolved against the filesystem; undefined when it grants nothing. */
  grants: { context: GrantContext; first: ResolvedGrants } | undefined;
  /** Random hex for the default container name. */
  random: string;
  /** The server's arguments that are absolute paths existing on this machine (see findPathArguments). */
  hostPaths: HostPathArgument[];
}

/** A server argument naming a path that exists on this machine: what the server will look for in its sandbox. */
export interface HostPathArgument {
  /** The path as the argument gives it. */
  path: string;
  /** It resolved through its links. */
  real: string;
  kind: 'folder' | 'file';
  /** Why no profile may grant it (grant-policy's words), when none may. */
  refused: string | undefined;
}

/** How the server's code gets onto the engine: an install into a package volume, or an image. */
export type PrepareStep =
  | { kind: 'install'; install: Omit<InstallRequest, 'image'> }
  | { kind: 'image'; image: string; allowPull: boolean };

/** Everything decided about a server before anything exists: the pure planner's result. */
export interface PlannedServer {
  endpoint: EngineEndpoint;
  name: string;
  profileName: string;
  /** What the profile allows beyond the default sandbox, in words (the `allows` label). */
  allows: string[];
  user: SandboxUser;
  net: NetworkDecision;
  /** Sockets can be mounted: the engine shares this machine's kernel (else the egress proxy runs in a sidecar). */
  local: boolean;
  /** The server's stdio goes through named pipes (our image has the shell that wires them). */
  fifo: boolean;
  prepare: PrepareStep;
  /** mcp-lok's sandbox image is needed for helpers (sidecars, making a home) even though the server runs from an image. */
  needsHelperImage: boolean;
  /** The home volume; undefined with `--ephemeral` (an in-memory home). */
  home: HomePlan | undefined;
  /** Read-only mounts every container of this server gets besides its code (the CA bundle); grants are apart. */
  mounts: MountPlan[];
  /** Variables every container gets, over those of its code (PATH): the CA's, then the user's. */
  env: Record<string, string>;
  /**
   * The profile's grants as first resolved. They are resolved and checked again before every
   * container is created (sessions, restarts), since a server can swap a granted path for a
   * link or a program can leave a socket there while it runs.
   */
  grants: { profile: Profile; context: GrantContext | undefined; first: ResolvedGrants };
  /** Lines for stderr: how the profile relaxes the sandbox, and each grant. */
  notices: string[];
  source: ServerSource;
  lok: LokOptions;
  launcher: ServerRequest['launcher'];
  /** The pin its tools are checked against, and how strictly; undefined with `--pin-tools off`. */
  toolPin: ToolPinPlan | undefined;
}

/** How a server's tools are held to their pin. */
export interface ToolPinPlan {
  target: ToolPinTarget;
  mode: PinMode;
  /** Say nothing on the first pin (`-q`). */
  quiet: boolean;
}

/** Returns a container name for a package: readable, unique, valid for the engine. */
export function defaultContainerName(pkg: string, random: string): string {
  return `mcp-lok-${slugName(pkg, 40)}-${random}`;
}

export const NO_GRANTS: ResolvedGrants = { mounts: [], resolved: {}, notes: [] };

/** Returns the name a server's containers are named after, from where it comes from. */
export function nameHint(source: ServerSource): string {
  if (source.kind === 'npx') return source.packages[0]?.name ?? 'server';
  return imageShortName(source.image) || 'server';
}

/** Returns an image reference without its tag or digest: `ghcr.io/org/app:1` gives `ghcr.io/org/app`. */
export function imageRepository(ref: string): string {
  return parseImageRef(ref.replace(/@.*$/, '')).repository;
}

/**
 * Returns the pin a server's tools are checked against: named by the name the user gave it,
 * else by its packages (and bin) or image repository, as its home is (planHome), and apart
 * for servers an agent started.
 */
export function planToolPin(source: ServerSource, name: string | undefined, scope?: 'agent'): ToolPinTarget {
  return source.kind === 'npx'
    ? toolPinTarget({ name, packages: source.packages.map((p) => p.name), command: source.command, scope })
    : toolPinTarget({ name, image: imageRepository(source.image), scope });
}

/** Returns how strictly tools are pinned: the option's mode, made stricter by the profile's `pin_tools`; undefined for off. */
export function choosePinMode(option: PinToolsMode | undefined, profile: Profile): PinMode | undefined {
  if (profile.pinTools === 'enforce' || option === 'enforce') return 'enforce';
  if (profile.pinTools === 'observe') return 'observe';
  return option === 'off' ? undefined : 'observe';
}

/**
 * Returns the home volume of a server: named after its packages (not their versions, so an
 * upgrade keeps its data) or image repository (not its tag), its `--name` when it has one, and
 * the sandbox user, whose files it holds. The hash keeps a home from ever being shared
 * between packages, names or users whose readable parts look alike.
 */
export function planHome(source: ServerSource, name: string | undefined, user: SandboxUser, announce = true, scope?: 'agent'): HomePlan {
  const packages = source.kind === 'npx' ? source.packages.map((p) => p.name).sort() : undefined;
  const command = source.kind === 'npx' ? source.command : undefined;
  const image = source.kind === 'image' ? imageRepository(source.image) : undefined;
  const key = createHash('sha256').update(JSON.stringify({ packages, command, image, name, uid: user.uid, gid: user.gid, scope })).digest('hex').slice(0, 12);
  const base = packages?.join(' ') ?? image ?? '';
  const labels: Record<string, string> = {
    [LABEL.managed]: 'true',
    [LABEL.kind]: 'home',
    [packages ? LABEL.package : LABEL.image]: base,
    [LABEL.homeUser]: `${user.uid}:${user.gid}`,
  };
  if (name !== undefined) labels[LABEL.name] = name;
  if (scope) labels[LABEL.homeScope] = scope;
  return {
    volume: `mcp-lok-home-${slugName(name ?? packages?.join('-') ?? nameHint(source), 30)}-${key}`,
    labels, user, announce,
    owner: `${base}${command ? ` (bin ${command})` : ''}${name !== undefined ? ` (--name ${name})` : ''}${scope ? ' (started by an agent)' : ''}`,
  };
}

/**
 * Returns the plan of a server from its request, the engine and what the machine says: the
 * profile's network and grants, the user, the names, the mounts and variables, and how its code
 * gets there. Pure: it reads nothing and starts nothing; bad combinations throw here.
 */
export function planServer(req: ServerRequest, engine: EngineFacts, host: HostFacts): PlannedServer {
  const { lok, source } = req;
  const loaded = req.profile;
  // Named pipes need a shell in the image: ours has one; an arbitrary image may not.
  const fifo = engine.local && source.kind === 'npx';
  const net = decideNetwork(loaded.profile, loaded.name);
  const grants = host.grants?.first ?? NO_GRANTS;
  // Refused now, before an image is pulled; the launch checks again for each container.
  if (engine.local && findNestedUnderWrite(grants.mounts).length > 0) refuseUncheckableMounts({ source, profileName: loaded.name });
  const registry = lok.registry ?? host.npm.registry;
  const prepare: PrepareStep = source.kind === 'npx'
    ? {
      kind: 'install',
      install: {
        packages: source.packages,
        registry,
        caFile: host.caFile,
        caIsNpmCafile: host.caIsNpmCafile,
        // A proxy of the user's own (a corporate one) is the way out: ours goes through it.
        upstreamProxy: chooseNpmProxy(host.npm, registry),
        proxyInSidecar: !engine.local,
        allowInstall: source.allowInstall,
        refreshAfterMs: lok.refreshAfterMs,
        updateCheckMs: lok.updateCheckMs,
        quiet: req.quiet,
        // A background server's supervisor has its own signal handling; the reaper covers it.
        handleSignals: req.launcher !== 'start',
      },
    }
    : { kind: 'image', image: source.image, allowPull: source.allowPull };
  const notices: string[] = [...(req.notices ?? [])];
  if (net.relaxation) notices.push(`mcp-lok: ${net.relaxation}`);
  for (const m of grants.mounts) notices.push(`mcp-lok: profile ${loaded.name}: ${m.readOnly ? 'read-only' : 'read-write'} ${m.source}${m.target === m.source ? '' : ` at ${m.target}`}`);
  for (const note of grants.notes) notices.push(`mcp-lok: profile ${loaded.name}: ${note}`);
  notices.push(...explainHostPaths(host.hostPaths, grants.mounts, loaded));
  const env: Record<string, string> = {};
  const mounts: MountPlan[] = [];
  if (host.caFile && net.egress) {
    mounts.push({ type: 'bind', source: host.caFile, target: CA_BUNDLE_PATH, readOnly: true });
    env.NODE_EXTRA_CA_CERTS = CA_BUNDLE_PATH;
  }
  Object.assign(env, req.env);
  const user = chooseSandboxUser(host.uid, host.gid);
  const beside = besideCodeFix(source.kind === 'npx' ? source.packages.map((p) => p.name) : [], env, lok.ephemeral);
  if (beside?.env) env[beside.env.name] = beside.env.value;
  if (beside) notices.push(beside.notice);
  const pinMode = choosePinMode(lok.pinTools, loaded.profile);
  return {
    endpoint: engine.endpoint,
    name: lok.name ?? defaultContainerName(nameHint(source), host.random),
    profileName: loaded.name,
    allows: describeProfile(loaded.profile).filter((line) => line !== 'files: none' && line !== 'network: none'),
    user,
    net, local: engine.local, fifo, prepare,
    // The home volume is made by a short container of mcp-lok's own image.
    needsHelperImage: source.kind === 'image' && (net.egress !== undefined || !lok.ephemeral),
    home: lok.ephemeral ? undefined : planHome(source, lok.name, user, !req.quiet, req.homeScope),
    mounts, env, notices, source, lok, launcher: req.launcher,
    grants: { profile: loaded.profile, context: host.grants?.context, first: grants },
    toolPin: pinMode ? { target: planToolPin(source, lok.name, req.homeScope), mode: pinMode, quiet: req.quiet } : undefined,
  };
}

/**
 * Refuses a server from an image whose grants put a mount inside a write grant (a `.git` kept
 * read-only, a grant inside another) where the engine shares this machine's kernel: such a
 * mount is checked from inside the container by the sandbox image's shell, and an image may
 * have none, so a server holding the write grant could swap it for a link to any host folder.
 */
export function refuseUncheckableMounts(plan: { source: ServerSource; profileName: string }): void {
  if (plan.source.kind !== 'image') return;
  throw new LokError('PROFILE_INVALID', `Profile ${plan.profileName}: a server from an image cannot have a mount inside a write grant (a .git folder kept read-only, or a grant inside another): mcp-lok cannot check it in the image before the server runs, and the server could swap it for a link to any host folder.`, {
    exitCode: EXIT.usage, hint: 'Run the server from its npm package (npx://), grant the folder read-only, or set "git_writable": true in the profile.',
  });
}

/**
 * Returns the absolute paths among a server's arguments, alone (`/home/me/project`) or as an
 * option's value (`--root=/home/me/project`). Relative paths are the server's own business:
 * mcp-lok never resolves them against its working folder (a desktop client's is `/`).
 */
export function findPathArguments(args: readonly string[]): string[] {
  const paths: string[] = [];
  for (const arg of args) {
    const value = /^--?[A-Za-z][\w-]*=(\/.*)$/.exec(arg)?.[1] ?? arg;
    if (value.startsWith('/') && !value.startsWith('//') && !value.includes('\0')) paths.push(value);
  }
  return paths;
}

function isAtOrInside(path: string, folder: string): boolean {
  return path === folder || path.startsWith(folder.endsWith('/') ? folder : `${folder}/`);
}

/**
 * Returns one stderr line for each server argument that names a path of this machine the
 * sandbox does not have, saying what to change: the profile entry that grants it, the path
 * it is granted at inside, or why no profile may grant it. Without it the server fails with
 * its own "no such directory", which does not say that mcp-lok is why.
 */
export function explainHostPaths(paths: readonly HostPathArgument[], mounts: readonly MountPlan[], profile: { name: string; source: string }): string[] {
  const lines: string[] = [];
  for (const arg of paths) {
    const shown = JSON.stringify(arg.path);
    if (mounts.some((m) => isAtOrInside(arg.path, m.target))) continue;
    const mapped = mounts.find((m) => m.type === 'bind' && isAtOrInside(arg.real, m.source));
    if (mapped) {
      const inside = `${mapped.target}${arg.real.slice(mapped.source.length)}`;
      lines.push(`mcp-lok: the server's argument ${shown} is granted by profile ${profile.name} at ${JSON.stringify(inside)} inside the sandbox; pass that path to the server instead.`);
    } else if (arg.refused !== undefined) {
      lines.push(`mcp-lok: the server's argument ${shown} is a host ${arg.kind} that no profile may grant (${arg.refused}), so the server cannot see it; use a ${arg.kind} a profile may grant (see "Permission profiles" in mcp-lok's README).`);
    } else if (profile.source.startsWith('built-in')) {
      lines.push(`mcp-lok: the server's argument ${shown} is a host ${arg.kind} that profile ${profile.name} does not grant, so the server cannot see it; to grant it, save {"write": [${shown}]} ("read" for read-only) in a profile file and pass --profile FILE before the package.`);
    } else {
      lines.push(`mcp-lok: the server's argument ${shown} is a host ${arg.kind} that profile ${profile.name} does not grant, so the server cannot see it; to grant it, add ${shown} to "write" ("read" for read-only) in ${JSON.stringify(profile.source)}.`);
    }
  }
  // JSON quoting leaves DEL and the C1 controls (U+009B opens an escape sequence too) as they are.
  return lines.map(escapeControlLine);
}
