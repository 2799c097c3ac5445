// `mcp-lok export kubernetes`: a server's request (from options, or a background server's
// record) turned into manifests. It reads the profile and the record, and creates nothing.
import { buildManifests, type KubeObject } from '../export/manifests.js';
import { chooseKubeName, exportError, isKubeName } from '../export/names.js';
import { planExport, type IngressPeer, type SecretEnv, type VolumeMapping } from '../export/plan.js';
import type { LokOptions } from '../request/options.js';
import { loadProfile, type LoadedProfile } from '../request/profiles.js';
import { checkRecordedSpec } from '../request/recorded-spec.js';
import type { ServerSource } from '../request/server-request.js';
import { parseServerSource } from '../request/source.js';
import { isContainerName } from '../sandbox/names.js';
import { readRecord } from '../state/records.js';
import { defaultServerName } from './background.js';
import type { Context } from './context.js';

/** What the front end parsed for an export. */
export interface KubernetesExportInput {
  /** An image reference, `npx://PACKAGE`, or a background server's name. */
  sourceText: string;
  args: string[];
  transport: 'sse' | 'streamable-http' | undefined;
  targetPort: number | undefined;
  lok: LokOptions;
  /** Sandbox options given besides -e: with any, the positional is a source, never a server's name. */
  sandboxFlags: string[];
  image: string | undefined;
  egressImage: string | undefined;
  volumes: VolumeMapping[];
  secrets: SecretEnv[];
  namespace: string | undefined;
  allowFrom: IngressPeer[];
  servicePort: number | undefined;
}

/** A server as an export sees it: from options or from a record. */
interface ExportedServer {
  source: ServerSource;
  sourceText: string;
  args: string[];
  transport: 'sse' | 'streamable-http';
  targetPort: number | undefined;
  profile: LoadedProfile;
  name: string | undefined;
  memoryBytes: number;
  cpus: number;
  env: Array<{ name: string; value: string }>;
  /** `--pin-tools` as the server was (or would be) started: from MCP_LOK_PIN_TOOLS, or its record. */
  pinTools: LokOptions['pinTools'];
  /** A recorded server's clients had to send a bearer token (`--auth`, or a listener beyond loopback). */
  hadToken?: boolean;
}

/** Returns `-e` entries with their values, refusing one that would copy a value from this environment. */
function literalEnv(input: KubernetesExportInput): Array<{ name: string; value: string }> {
  return input.lok.env.map((entry) => {
    if (entry.value === undefined) {
      throw exportError(`\`-e ${entry.name}\` would copy its value from this environment into the manifest; give it from a Secret with \`--secret ${entry.name}=SECRET/KEY\`, or a value with \`-e ${entry.name}=VALUE\`.`);
    }
    return { name: entry.name, value: entry.value };
  });
}

/** Returns the background server `name` as it was started, or undefined when there is none of that name. */
function readRecordedServer(ctx: Context, input: KubernetesExportInput): ExportedServer | undefined {
  const name = input.sourceText;
  if (input.sandboxFlags.length > 0 || input.args.length > 0 || !isContainerName(name)) return undefined;
  const record = readRecord(ctx.paths.state, name);
  if (!record) return undefined;
  const spec = checkRecordedSpec(record.spec, name);
  const given = new Set([...input.lok.env.map((e) => e.name), ...input.secrets.map((s) => s.env)]);
  const missing = Object.keys(spec.server.env).filter((v) => !given.has(v));
  if (missing.length > 0) {
    throw exportError(`${name} was started with the variable${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, whose values are never printed: give each with \`--secret NAME=SECRET/KEY\` (or \`-e NAME=VALUE\` when it is no secret).`);
  }
  return {
    source: spec.server.source, sourceText: spec.sourceText, args: spec.server.args, transport: spec.transport, targetPort: input.targetPort ?? spec.targetPort,
    profile: spec.server.profile, name: spec.name, memoryBytes: spec.server.lok.memoryBytes, cpus: spec.server.lok.cpus, env: literalEnv(input),
    pinTools: spec.server.lok.pinTools,
    hadToken: spec.token !== undefined,
  };
}

/**
 * Refuses to export a server whose clients had to send a bearer token without one in the
 * cluster: dropping it without a word would let any pod that the NetworkPolicy admits in. An
 * npx:// server's pod checks `--secret MCP_LOK_POD_TOKEN=SECRET/KEY`; a server's own image
 * checks none, so its clients are narrowed by `--allow-from`, which the user then says.
 */
function refuseDroppedToken(server: ExportedServer, input: KubernetesExportInput): void {
  if (!server.hadToken) return;
  if (server.source.kind === 'npx' && !input.secrets.some((s) => s.env === 'MCP_LOK_POD_TOKEN')) {
    throw exportError(`${server.name ?? 'This server'} takes a bearer token on this machine; its pod would take none.`, 'Give it one from a Secret: --secret MCP_LOK_POD_TOKEN=SECRET/KEY (16 characters or more).');
  }
  if (server.source.kind === 'image' && input.allowFrom.length === 0) {
    throw exportError(`${server.name ?? 'This server'} takes a bearer token on this machine; a server's own image checks none in a cluster.`, 'Say which clients may reach it instead: --allow-from pods:KEY=VALUE or namespaces:KEY=VALUE (or put an authenticating ingress in front).');
  }
}

/**
 * Refuses a server whose tools are held to their pin (`--pin-tools enforce`, from its profile,
 * MCP_LOK_PIN_TOOLS or its record): a cluster has no tool pinning, and dropping the user's
 * stricter choice without a word would weaken the server (the flag itself is refused likewise).
 */
function refuseEnforcedPins(server: ExportedServer): void {
  const where = server.profile.profile.pinTools === 'enforce' ? `profile ${server.profile.name}'s "pin_tools"` : server.pinTools === 'enforce' ? 'its --pin-tools (or MCP_LOK_PIN_TOOLS)' : undefined;
  if (where === undefined) return;
  throw exportError(`This server's tools are held to their pins (enforce, from ${where}), which a Kubernetes export cannot carry: tool pinning runs in mcp-lok's proxy on a machine, and the cluster's Service has none.`, 'Keep it on a machine; or, to run it in a cluster unpinned, export it with a profile without "pin_tools" and MCP_LOK_PIN_TOOLS unset.');
}

/**
 * Returns the manifests for a server: a background server's record when the positional names
 * one (and no sandbox option is given), else the source with the options as `start` reads them.
 */
export function exportKubernetes(ctx: Context, input: KubernetesExportInput): KubeObject[] {
  const recorded = readRecordedServer(ctx, input);
  const server: ExportedServer = recorded ?? {
    source: parseServerSource(input.sourceText), sourceText: input.sourceText, args: input.args,
    transport: input.transport ?? 'streamable-http', targetPort: input.targetPort,
    profile: loadProfile(input.lok.profile, { configDir: ctx.paths.config, cwd: ctx.cwd }),
    name: input.lok.name, memoryBytes: input.lok.memoryBytes, cpus: input.lok.cpus, env: literalEnv(input),
    pinTools: input.lok.pinTools,
  };
  refuseEnforcedPins(server);
  refuseDroppedToken(server, input);
  const plan = planExport({
    ...server,
    // A recorded name may hold what Kubernetes refuses (`_`, capitals): then one is made from it.
    name: recorded ? (isKubeName(recorded.name ?? '') ? recorded.name ?? '' : chooseKubeName(undefined, recorded.name ?? 'server')) : chooseKubeName(server.name, defaultServerName(server.sourceText)),
    namespace: input.namespace,
    secrets: input.secrets, volumes: input.volumes,
    image: input.image, egressImage: input.egressImage,
    servicePort: input.servicePort, allowFrom: input.allowFrom,
    homeDir: ctx.home,
  });
  return buildManifests(plan);
}
