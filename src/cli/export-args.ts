import { usageError } from '../errors.js';
import { showInput } from '../request/input-errors.js';
import { flagColumnWidth, renderFlagHelp, resolveLokOptions, SHIM_OPTIONS, type FlagDef, type FlagHelp, type LokOptions, type RawLokValues } from '../request/options.js';
import { parseServerSource } from '../request/source.js';
import type { IngressPeer, SecretEnv, VolumeMapping } from '../export/plan.js';
import { isEnvName, isNamespace, isObjectName, isSecretKey, parseLabelPairs } from '../export/names.js';
import { RUN_FLAGS, walkLeadingOptions } from './run-args.js';
import type { KubernetesExportInput } from '../app/export.js';

const HINT = 'Run `mcp-lok export kubernetes --help`.';
export const EXPORT_TARGETS = ['kubernetes'] as const;

type OwnKey = 'image' | 'egressImage' | 'volume' | 'secret' | 'namespace' | 'allowFrom' | 'port' | 'json' | 'help';

/** export's own flags: the table drives parsing and help. */
export const EXPORT_FLAGS: Readonly<Record<OwnKey, FlagHelp & { flags: readonly string[] }>> = {
  image: { flags: ['--image'], value: 'REF', description: 'The server\'s image, for an npx:// server: made by `mcp-lok image build --push REF npx://PKG@VER`.' },
  egressImage: { flags: ['--egress-image'], value: 'REF', description: 'The egress proxy\'s image, needed when the profile allows outbound hosts: made by `mcp-lok image build --push REF --egress-proxy`.' },
  volume: { flags: ['--volume'], value: 'GRANT=PVC|GRANT=configmap:NAME', repeatable: true, description: 'The volume standing for one of the profile\'s grants (GRANT: its path); every grant needs one.' },
  secret: { flags: ['--secret'], value: 'NAME=SECRET/KEY', repeatable: true, description: 'Give the server the variable NAME from a key of a Secret (a secretKeyRef; no value is printed).' },
  namespace: { flags: ['-n', '--namespace'], value: 'NS', description: 'Put the objects in this namespace (default: none named, so kubectl\'s -n decides).' },
  allowFrom: { flags: ['--allow-from'], value: 'namespace|pods:K=V|namespaces:K=V', repeatable: true, default: 'namespace', description: 'Who may connect to the server: any pod of its namespace, pods with these labels in it, or pods of namespaces with these labels.' },
  port: { flags: ['--port'], value: 'PORT', description: 'The Service\'s port (default: the pod\'s port, --target-port).' },
  json: { flags: ['--json'], description: 'Print a JSON List instead of YAML documents.' },
  help: { flags: ['-h', '--help'], description: 'Show this help.' },
};

/** The sandbox options export takes from start's: the rest have no meaning in a cluster. */
const SHARED_LOK: ReadonlyArray<keyof LokOptions> = ['profile', 'env', 'name', 'memoryBytes', 'cpus', 'debug'];
const SHARED_RUN = ['transport', 'targetPort'] as const;

/** Why each other option of start is refused, in a few words. */
const REFUSED: Readonly<Record<string, string>> = {
  pids: 'Kubernetes sets the process limit per node (the kubelet\'s podPidsLimit), not per pod',
  ephemeral: 'the pod\'s home is always in memory (an emptyDir); map a grant to a volume to keep files',
  caCert: 'put extra CA certificates in the server\'s image',
  registry: 'packages are installed when the image is built (`mcp-lok image build`), not in the cluster',
  refreshAfterMs: 'the image holds one pinned tree; build a new image to update it',
  updateCheckMs: 'the image holds one pinned tree; `mcp-lok update` then `mcp-lok image build` updates it',
  pinTools: 'tool pinning runs in mcp-lok\'s proxy on a machine; the cluster\'s Service has none',
  engine: 'export talks to no engine',
  host: 'the Service is reached inside the cluster; use --allow-from to choose who may connect',
  auth: 'restrict clients with --allow-from (NetworkPolicy), or put an authenticating ingress in front',
};

/** What `mcp-lok export` was asked to do: the app's export input, the target and the output form. */
export type ExportInvocation =
  | { kind: 'help' }
  | (KubernetesExportInput & { kind: 'export'; target: 'kubernetes'; json: boolean });

function parsePort(flag: string, text: string): number {
  const port = Number(text);
  if (!/^\d{1,5}$/.test(text) || port < 1 || port > 65535) throw usageError(`Expected \`${flag}\` to be a port from 1 to 65535, got ${showInput(text)}.`, HINT);
  return port;
}

function parseImage(flag: string, text: string): string {
  const parsed = (() => { try { return parseServerSource(text); } catch { return undefined; } })();
  if (parsed?.kind !== 'image') throw usageError(`Expected \`${flag}\` to be an image reference such as \`ghcr.io/org/server:1.0\`, got ${showInput(text)}.`, HINT);
  return text;
}

/** Returns a `--volume GRANT=PVC|GRANT=configmap:NAME` value. */
export function parseVolume(text: string): VolumeMapping {
  const eq = text.lastIndexOf('=');
  const grant = eq <= 0 ? '' : text.slice(0, eq);
  const target = text.slice(eq + 1);
  const configMap = /^configmap:(.*)$/.exec(target);
  const name = configMap ? configMap[1] ?? '' : target;
  if (!grant.startsWith('/') && !grant.startsWith('~') || !isObjectName(name)) {
    throw usageError(`Expected \`--volume\` to be GRANT=PVC or GRANT=configmap:NAME with GRANT a granted path such as /data and a Kubernetes name, got ${showInput(text)}.`, HINT);
  }
  return { grant: grant.replace(/(.)\/+$/, '$1'), kind: configMap ? 'configmap' : 'pvc', name };
}

/** Returns a `--secret NAME=SECRET/KEY` value. */
export function parseSecret(text: string): SecretEnv {
  const match = /^([^=]+)=([^/]+)\/(.+)$/.exec(text);
  const [, env = '', secret = '', key = ''] = match ?? [];
  if (!match || !isEnvName(env) || !isObjectName(secret) || !isSecretKey(key)) {
    throw usageError(`Expected \`--secret\` to be NAME=SECRET/KEY such as GITHUB_TOKEN=github/token (a variable name, a Secret's name, a key in it), got ${showInput(text.replace(/=.*$/, '=…'))}.`, HINT);
  }
  return { env, secret, key };
}

/** Returns an `--allow-from` value. */
export function parseAllowFrom(text: string): IngressPeer {
  if (text === 'namespace') return { kind: 'namespace' };
  const match = /^(pods|namespaces):(.+)$/.exec(text);
  const labels = match?.[2] === undefined ? undefined : parseLabelPairs(match[2]);
  if (!match || !labels) throw usageError(`Expected \`--allow-from\` to be namespace, pods:KEY=VALUE[,KEY=VALUE] or namespaces:KEY=VALUE[,...], got ${showInput(text)}.`, HINT);
  return { kind: match[1] === 'pods' ? 'pods' : 'namespaces', labels };
}

function findShared(flag: string): { kind: 'lok'; key: keyof LokOptions; def: FlagDef } | { kind: 'run'; key: string; value: boolean } | { kind: 'refused'; reason: string } | undefined {
  for (const [key, def] of Object.entries(SHIM_OPTIONS) as Array<[keyof LokOptions, FlagDef]>) {
    if (def.group !== 'mcp-lok' || def.shimOnly || !def.flags.includes(flag)) continue;
    return SHARED_LOK.includes(key) ? { kind: 'lok', key, def } : { kind: 'refused', reason: REFUSED[key] ?? 'it has no meaning in a cluster' };
  }
  for (const [key, def] of Object.entries(RUN_FLAGS)) {
    if (!def.flags.includes(flag)) continue;
    if ((SHARED_RUN as readonly string[]).includes(key)) return { kind: 'run', key, value: def.value !== undefined };
    return { kind: 'refused', reason: REFUSED[key] ?? 'it has no meaning in a cluster' };
  }
  return undefined;
}

/**
 * Returns the invocation of `mcp-lok export kubernetes [options] NAME|SOURCE [--] [ARGS...]`:
 * options first, as for start; everything after the source goes to the server.
 */
export function parseExportArgs(argv: string[], env: Readonly<Record<string, string | undefined>>): ExportInvocation {
  const [target, ...rest] = argv;
  if (target === undefined || target === '-h' || target === '--help') return { kind: 'help' };
  if (!(EXPORT_TARGETS as readonly string[]).includes(target)) throw usageError(`Expected what to export for: \`kubernetes\`, got ${showInput(target)}.`, 'Run `mcp-lok export kubernetes --help`.');
  const raw: RawLokValues = {};
  const sandboxFlags: string[] = [];
  const out = {
    image: undefined as string | undefined, egressImage: undefined as string | undefined, namespace: undefined as string | undefined,
    servicePort: undefined as number | undefined, targetPort: undefined as number | undefined,
    transport: undefined as 'sse' | 'streamable-http' | undefined, json: false,
    volumes: [] as VolumeMapping[], secrets: [] as SecretEnv[], allowFrom: [] as IngressPeer[],
  };
  const walked = walkLeadingOptions(rest, HINT, ({ flag, inline, value }) => {
    const own = (Object.entries(EXPORT_FLAGS) as Array<[OwnKey, FlagHelp & { flags: readonly string[] }]>).find(([, def]) => def.flags.includes(flag));
    if (own) {
      const [key, def] = own;
      if (!def.value && inline !== undefined) throw usageError(`\`${flag}\` takes no value.`, HINT);
      switch (key) {
        case 'help': return { kind: 'help' } as const;
        case 'json': out.json = true; break;
        case 'image': out.image = parseImage(flag, value()); break;
        case 'egressImage': out.egressImage = parseImage(flag, value()); break;
        case 'volume': out.volumes.push(parseVolume(value())); break;
        case 'secret': out.secrets.push(parseSecret(value())); break;
        case 'allowFrom': out.allowFrom.push(parseAllowFrom(value())); break;
        case 'port': out.servicePort = parsePort(flag, value()); break;
        case 'namespace': {
          const ns = value();
          if (!isNamespace(ns)) throw usageError(`Expected \`${flag}\` to be a namespace name (lower-case letters, digits and inner "-", at most 63), got ${showInput(ns)}.`, HINT);
          out.namespace = ns;
          break;
        }
      }
      return undefined;
    }
    const shared = findShared(flag);
    if (!shared) throw usageError(`Unknown option ${showInput(flag)}; options go before the image or npx:// package.`, HINT);
    if (shared.kind === 'refused') throw usageError(`\`${flag}\` has no meaning in a Kubernetes export: ${shared.reason}.`, HINT);
    if (shared.kind === 'lok') {
      if (shared.key !== 'debug' && shared.key !== 'env') sandboxFlags.push(flag);
      (raw[shared.key] ??= []).push(shared.def.value ? value() : inline ?? 'true');
      return undefined;
    }
    sandboxFlags.push(flag);
    if (shared.key === 'targetPort') out.targetPort = parsePort(flag, value());
    else {
      const t = value();
      if (t === 'stdio') throw usageError('A server in a cluster is reached over HTTP: `--transport stdio` has no client there.', 'Use `--transport streamable-http` (the default) or `sse`; a stdio server is served over HTTP by mcp-lok\'s bridge in its pod.');
      if (t !== 'sse' && t !== 'streamable-http') throw usageError(`Expected \`--transport\` to be streamable-http or sse, got ${showInput(t)}.`, HINT);
      out.transport = t;
    }
    return undefined;
  });
  if ('result' in walked) return walked.result;
  const lok = resolveLokOptions(raw, env);
  const [first, ...after] = rest.slice(walked.operands);
  if (first === undefined) throw usageError('Missing the server to export: a background server\'s name, an image reference or npx://package.', HINT);
  const args = after[0] === '--' ? after.slice(1) : after;
  return { kind: 'export', target: 'kubernetes', sourceText: first, args, lok, sandboxFlags, ...out };
}

/** Returns `mcp-lok export --help`, rendered from the flag tables. */
export function renderExportHelp(): string {
  const own = Object.values(EXPORT_FLAGS).filter((d) => d.flags[0] !== '-h');
  const lok = SHARED_LOK.filter((k) => k !== 'debug').map((k): FlagHelp => (k === 'name'
    ? { ...SHIM_OPTIONS.name, description: 'Name of the objects: lower-case letters, digits and inner "-" (default: from the package or image).' }
    : SHIM_OPTIONS[k]));
  const run: FlagHelp[] = [
    { ...RUN_FLAGS.transport, value: 'streamable-http|sse', default: 'streamable-http' },
    { ...RUN_FLAGS.targetPort, description: 'Port the server listens on in its pod (given to it as PORT and MCP_PORT, or to the bridge of an npx:// server).', default: '8080' },
  ];
  const all = [...own, ...run, ...lok, EXPORT_FLAGS.help];
  const width = flagColumnWidth(all);
  return [
    'Print Kubernetes manifests for a sandboxed server, from the same options as `start`.',
    '',
    'Usage:',
    '  mcp-lok export kubernetes [options] IMAGE|npx://PACKAGE[@VERSION] [--] [ARGS...]',
    '  mcp-lok export kubernetes [options] NAME      (a background server, as it was started)',
    '',
    'It prints YAML on stdout (--json: a JSON List) and creates nothing: pipe it to `kubectl apply -f -`.',
    'The server runs under the restricted Pod Security Standard; its NetworkPolicy denies all egress,',
    'or, when its profile allows outbound hosts, allows only its egress proxy, whose own policy',
    'allows only the listed ports. See "Kubernetes" in mcp-lok\'s README.',
    '',
    'Options:',
    ...own.flatMap((d) => renderFlagHelp(d, width)),
    ...run.flatMap((d) => renderFlagHelp(d, width)),
    '',
    'Options shared with start (each also read from the variable shown; a flag wins over its variable):',
    ...lok.flatMap((d) => renderFlagHelp(d, width)),
    '  -e NAME=VALUE only: a value is never copied from this environment into a manifest (use --secret).',
    '',
    'Other:',
    ...renderFlagHelp(EXPORT_FLAGS.help, width),
    '',
    'Examples:',
    '  mcp-lok export kubernetes --name memory --image registry.example.com/mcp/memory:1 npx://@modelcontextprotocol/server-memory@2025.9.25',
    '  mcp-lok export kubernetes --profile ./github.json --image ghcr.io/org/github-mcp:1 --egress-image ghcr.io/org/mcp-lok-egress:1 \\',
    '    --secret GITHUB_TOKEN=github/token npx://@modelcontextprotocol/server-github@2025.4.8 | kubectl apply -n mcp -f -',
    '',
  ].join('\n');
}
