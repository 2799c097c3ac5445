import { LokError } from '../errors.js';
import { DEFAULT_CPUS, DEFAULT_MEMORY_BYTES, DEFAULT_PIDS } from '../sandbox/hardening.js';
import { invalidInput, showInput } from './input-errors.js';
import {
  parseBoolean, parseClientEnvMode, parseContainerName, parseCpus, parseDuration, parseEngineAddress, parseEnvEntry, parseHttpUrl,
  parseMemory, parsePids, parsePinToolsMode, parseText, type EnvEntry, type PinToolsMode,
} from './option-values.js';

export type { EnvEntry, PinToolsMode } from './option-values.js';

/** mcp-lok's own settings for one shim run, after flags, environment and defaults are merged. */
export interface LokOptions {
  profile: string;
  env: EnvEntry[];
  /** Pass the variables the client's config added for this server (mcp-lok-npx only; see request/client-env.ts). */
  clientEnv: boolean;
  name: string | undefined;
  /** The home is in memory (gone when the server stops) instead of a volume kept for the server. */
  ephemeral: boolean;
  memoryBytes: number;
  cpus: number;
  pids: number;
  caCert: string | undefined;
  registry: string | undefined;
  /**
   * Set only when the user chose to float: a tag or range is resolved again once its cached
   * resolution is this old. Undefined (the default): the first install is pinned (app/pins).
   */
  refreshAfterMs: number | undefined;
  /** How often a pinned package's registry is asked for a newer matching version (Infinity: never). */
  updateCheckMs: number;
  /** How the server's tools are held to their pin (undefined in records of older versions: observe). */
  pinTools?: PinToolsMode;
  engine: string | undefined;
  debug: boolean;
}

/** A flag as the parser and the help see it; `value` names its argument, absent for on/off flags. */
export interface FlagDef {
  group: 'mcp-lok' | 'npx' | 'general';
  flags: readonly string[];
  value?: string;
  /** Each use adds one item; for mcp-lok options the variable holds a comma-separated list. */
  repeatable?: true;
  /** Only mcp-lok-npx takes it: `run` and `start` neither accept nor list it. */
  shimOnly?: true;
  description: string;
}

/** An mcp-lok option: also read from `env`, parsed by `parse`, described as `expects` in errors. */
export interface LokOptionDef<T> extends FlagDef {
  group: 'mcp-lok';
  env: string;
  default?: string;
  expects: string;
  parse: (raw: string) => T | undefined;
  /** What of a bad value may be printed (values of `-e` can be secrets). */
  shown?: (raw: string) => string;
}

export type NpxKey = 'yes' | 'no' | 'package' | 'quiet' | 'loglevel' | 'cacheMode' | 'help' | 'version';
export type OptionKey = keyof LokOptions | NpxKey;
type LokDefs = { [K in keyof LokOptions]-?: LokOptionDef<LokOptions[K] extends Array<infer E> ? E : NonNullable<LokOptions[K]>> };

/** How often a pinned package is checked for a newer version unless the user says otherwise (the table's default). */
export const DEFAULT_UPDATE_CHECK_MS = 24 * 3_600_000;

/** The one option table: it drives parsing (npx-args.ts) and `--help`, in this order. */
export const SHIM_OPTIONS: LokDefs & Record<NpxKey, FlagDef> = {
  profile: {
    group: 'mcp-lok', flags: ['--profile', '--permission-profile'], value: 'NAME|PATH', env: 'MCP_LOK_PROFILE', default: 'stdio',
    expects: 'a profile name such as `stdio` or a path to a profile file', parse: parseText,
    description: 'Permission profile: stdio (alias none: no network, no files), network, a file or a name.',
  },
  env: {
    group: 'mcp-lok', flags: ['-e', '--env'], value: 'NAME[=VALUE]', env: 'MCP_LOK_ENV', repeatable: true,
    expects: 'a variable name such as `API_KEY` or `API_KEY=value`', parse: parseEnvEntry, shown: (raw) => raw.replace(/=[\s\S]*$/, '=…'),
    description: 'Give the server a variable; NAME alone copies it from this environment.',
  },
  clientEnv: {
    group: 'mcp-lok', flags: ['--client-env'], value: 'auto|off', env: 'MCP_LOK_CLIENT_ENV', default: 'auto', shimOnly: true,
    expects: '`auto` or `off`', parse: parseClientEnvMode,
    description: 'auto: pass the variables the client config sets (not the inherited); off: only -e.',
  },
  name: {
    group: 'mcp-lok', flags: ['--name'], value: 'NAME', env: 'MCP_LOK_NAME',
    expects: 'a container name such as `my-server` (letters, digits, `_`, `.`, `-`; at most 63)', parse: parseContainerName,
    description: 'Container name (default: derived from the package or image).',
  },
  ephemeral: {
    group: 'mcp-lok', flags: ['--ephemeral'], env: 'MCP_LOK_EPHEMERAL',
    expects: '`1`, `true`, `0` or `false`', parse: parseBoolean,
    description: 'Keep the home in memory, gone when the server stops, not in a volume kept for it.',
  },
  memoryBytes: {
    group: 'mcp-lok', flags: ['--memory'], value: 'SIZE', env: 'MCP_LOK_MEMORY', default: DEFAULT_MEMORY_BYTES % 2 ** 30 === 0 ? `${DEFAULT_MEMORY_BYTES / 2 ** 30}g` : `${DEFAULT_MEMORY_BYTES / 2 ** 20}m`,
    expects: 'a size such as `512m` (at least `6m`)', parse: parseMemory,
    description: 'Memory limit, such as 256m or 1.5g; no swap beyond it.',
  },
  cpus: {
    group: 'mcp-lok', flags: ['--cpus'], value: 'N', env: 'MCP_LOK_CPUS', default: String(DEFAULT_CPUS),
    expects: 'a number of CPUs from `0.01` to `64` such as `1.5`', parse: parseCpus,
    description: 'CPU limit, such as 0.5 or 2.',
  },
  pids: {
    group: 'mcp-lok', flags: ['--pids'], value: 'N', env: 'MCP_LOK_PIDS', default: String(DEFAULT_PIDS),
    expects: 'a whole number from `16` to `32768`', parse: parsePids,
    description: 'Process limit (stops fork bombs).',
  },
  caCert: {
    group: 'mcp-lok', flags: ['--ca-cert'], value: 'PATH', env: 'MCP_LOK_CA_CERT',
    expects: 'a path to a PEM file', parse: parseText,
    description: 'Extra CA certificates (PEM) to trust, for a TLS-inspecting proxy.',
  },
  registry: {
    group: 'mcp-lok', flags: ['--registry'], value: 'URL', env: 'MCP_LOK_REGISTRY',
    expects: 'an http(s) URL such as `https://registry.npmjs.org/`', parse: parseHttpUrl,
    description: 'npm registry to install from (default: from your npm configuration).',
  },
  refreshAfterMs: {
    group: 'mcp-lok', flags: ['--refresh-after'], value: 'DURATION', env: 'MCP_LOK_REFRESH_AFTER',
    expects: 'a duration such as `30s`, `15m`, `12h`, `7d`, `0` or `never`', parse: parseDuration,
    description: 'Unpinned: re-resolve a tag or range once its resolution is this old (default: pinned).',
  },
  updateCheckMs: {
    group: 'mcp-lok', flags: ['--update-check'], value: 'DURATION|never', env: 'MCP_LOK_UPDATE_CHECK', default: '24h',
    expects: 'a duration such as `30s`, `15m`, `12h`, `7d`, `0` or `never`', parse: parseDuration,
    description: 'How often to look for a version newer than the pinned one (after the server starts).',
  },
  pinTools: {
    group: 'mcp-lok', flags: ['--pin-tools'], value: 'observe|enforce|off', env: 'MCP_LOK_PIN_TOOLS', default: 'observe',
    expects: '`observe`, `enforce` or `off`', parse: parsePinToolsMode,
    description: 'Tools pinned on first use: observe reports changes, enforce hides them until approved.',
  },
  engine: {
    group: 'mcp-lok', flags: ['--engine'], value: 'URL', env: 'MCP_LOK_ENGINE',
    expects: 'an engine address such as `unix:///var/run/docker.sock`, `/path/to/docker.sock` or `tcp://host:2375`', parse: parseEngineAddress,
    description: 'Container engine socket (default: DOCKER_HOST, the docker context, then well-known sockets).',
  },
  debug: {
    group: 'mcp-lok', flags: ['--debug'], env: 'MCP_LOK_DEBUG',
    expects: '`1`, `true`, `0` or `false`', parse: parseBoolean,
    description: 'Log what mcp-lok does on stderr, and print stacks on errors.',
  },
  yes: { group: 'npx', flags: ['-y', '--yes'], description: 'Install the package if needed (the default: mcp-lok never prompts).' },
  no: { group: 'npx', flags: ['--no', '--no-install'], description: 'Never install: run only a package installed before.' },
  package: { group: 'npx', flags: ['-p', '--package'], value: 'PKG', repeatable: true, description: 'Package to install; the first argument after the options is then the bin to run.' },
  quiet: { group: 'npx', flags: ['-q', '--quiet', '--silent'], description: 'Print no install progress on stderr.' },
  loglevel: { group: 'npx', flags: ['--loglevel'], value: 'LEVEL', description: 'Accepted for compatibility; ignored.' },
  cacheMode: { group: 'npx', flags: ['--prefer-offline', '--prefer-online', '--offline'], description: 'Accepted for compatibility; ignored (see --refresh-after and mcp-lok update).' },
  help: { group: 'general', flags: ['-h', '--help'], description: 'Show this help.' },
  version: { group: 'general', flags: ['-v', '--version'], description: 'Print the mcp-lok version.' },
};

const BY_FLAG = new Map<string, OptionKey>(
  (Object.entries(SHIM_OPTIONS) as Array<[OptionKey, FlagDef]>).flatMap(([key, def]) => def.flags.map((flag) => [flag, key] as const)),
);

/** Returns the table entry for a flag such as `-e` or `--memory`, or undefined when there is none. */
export function findOption(flag: string): { key: OptionKey; def: FlagDef } | undefined {
  const key = BY_FLAG.get(flag);
  return key === undefined ? undefined : { key, def: SHIM_OPTIONS[key] };
}

/** Raw values of mcp-lok options from the command line, in the order given. */
export type RawLokValues = Partial<Record<keyof LokOptions, string[]>>;

function parseOrThrow<T>(def: LokOptionDef<T>, raw: string, where: string): T {
  const value = def.parse(raw);
  if (value === undefined) throw invalidInput(`Expected ${where} to be ${def.expects}, got ${showInput(def.shown?.(raw) ?? raw)}.`);
  return value;
}

function longFlag(def: FlagDef): string {
  return `\`${def.flags.find((f) => f.startsWith('--')) ?? def.flags[0] ?? ''}\``;
}

function readScalar<T>(def: LokOptionDef<T>, cli: string[] | undefined, env: Readonly<Record<string, string | undefined>>): T | undefined {
  const fromCli = cli?.at(-1);
  if (fromCli !== undefined) return parseOrThrow(def, fromCli, longFlag(def));
  const fromEnv = env[def.env];
  if (fromEnv !== undefined && fromEnv.trim() !== '') return parseOrThrow(def, fromEnv, def.env);
  return def.default === undefined ? undefined : parseOrThrow(def, def.default, 'the default');
}

function readRequired<T>(def: LokOptionDef<T>, cli: string[] | undefined, env: Readonly<Record<string, string | undefined>>): T {
  const value = readScalar(def, cli, env);
  if (value === undefined) throw new LokError('INTERNAL', `The option ${longFlag(def)} has no default.`);
  return value;
}

function readEnvEntries(cli: string[] | undefined, env: Readonly<Record<string, string | undefined>>): EnvEntry[] {
  const def = SHIM_OPTIONS.env;
  const fromEnv = (env[def.env] ?? '').split(',').map((item) => item.trim()).filter((item) => item !== '');
  const entries = new Map<string, EnvEntry>();
  // Flags add to the variable's list, and win for a name both give.
  for (const entry of fromEnv.map((raw) => parseOrThrow(def, raw, def.env))) entries.set(entry.name, entry);
  for (const entry of (cli ?? []).map((raw) => parseOrThrow(def, raw, longFlag(def)))) entries.set(entry.name, entry);
  return [...entries.values()];
}

/** Returns mcp-lok's options: command-line values win over MCP_LOK_* variables, which win over defaults. */
export function resolveLokOptions(cli: RawLokValues, env: Readonly<Record<string, string | undefined>>): LokOptions {
  const o = SHIM_OPTIONS;
  return {
    profile: readRequired(o.profile, cli.profile, env),
    env: readEnvEntries(cli.env, env),
    clientEnv: readRequired(o.clientEnv, cli.clientEnv, env),
    name: readScalar(o.name, cli.name, env),
    ephemeral: readScalar(o.ephemeral, cli.ephemeral, env) ?? false,
    memoryBytes: readRequired(o.memoryBytes, cli.memoryBytes, env),
    cpus: readRequired(o.cpus, cli.cpus, env),
    pids: readRequired(o.pids, cli.pids, env),
    caCert: readScalar(o.caCert, cli.caCert, env),
    registry: readScalar(o.registry, cli.registry, env),
    refreshAfterMs: readScalar(o.refreshAfterMs, cli.refreshAfterMs, env),
    updateCheckMs: readRequired(o.updateCheckMs, cli.updateCheckMs, env),
    pinTools: readRequired(o.pinTools, cli.pinTools, env),
    engine: readScalar(o.engine, cli.engine, env),
    debug: readScalar(o.debug, cli.debug, env) ?? false,
  };
}

const GROUP_TITLES: ReadonlyArray<readonly [FlagDef['group'], string]> = [
  ['mcp-lok', 'mcp-lok options (each also read from the variable shown; a flag wins over its variable):'],
  ['npx', 'npx options:'],
  ['general', 'Other:'],
];

/** What a help line shows of a flag: its spellings and value, what it does, its variable and default. */
export interface FlagHelp {
  flags: readonly string[];
  value?: string | undefined;
  repeatable?: true | undefined;
  description: string;
  env?: string | undefined;
  default?: string | undefined;
}

/** Returns the width of the flag column for `defs` (at most 24, so descriptions line up). */
export function flagColumnWidth(defs: readonly FlagHelp[]): number {
  return Math.min(24, Math.max(...defs.map((d) => flagLabel(d).length))) + 2;
}

function flagLabel(d: FlagHelp): string {
  return `${d.flags.join(', ')}${d.value ? ` ${d.value}` : ''}`;
}

/** Returns one flag's help lines: its flags (alone on a line when wider than `width`), description, variable and default. */
export function renderFlagHelp(d: FlagHelp, width: number): string[] {
  const head = `  ${flagLabel(d).padEnd(width)}`;
  const text = `${d.description}${d.repeatable ? ' Repeatable.' : ''}`;
  const first = head.length > width + 2 ? [head.trimEnd(), `${' '.repeat(width + 2)}${text}`] : [`${head}${text}`];
  const facts = [
    ...(d.env ? [`env ${d.env}${d.repeatable ? ', comma-separated' : ''}`] : []),
    ...(d.default !== undefined ? [`default ${d.default}`] : []),
  ];
  return facts.length > 0 ? [...first, `${' '.repeat(width + 2)}[${facts.join(', ')}]`] : first;
}

/** Returns the `mcp-lok-npx --help` text, rendered from the option table. */
export function renderShimHelp(): string {
  const defs = Object.values(SHIM_OPTIONS) as Array<FlagDef & Partial<LokOptionDef<unknown>>>;
  const width = flagColumnWidth(defs);
  return [
    'Usage: mcp-lok-npx [mcp-lok options] [npx options] <package>[@version] [args...]',
    '',
    'Runs an MCP server from npm in a locked-down container, speaking MCP over stdio: a drop-in for npx.',
    'Options go before the package; everything after the package is passed to the server.',
    'Packages come from the npm registry; local paths, git, tarball URLs and aliases are not supported yet.',
    ...GROUP_TITLES.flatMap(([group, title]) => ['', title, ...defs.filter((d) => d.group === group).flatMap((d) => renderFlagHelp(d, width))]),
    '',
    'Examples:',
    '  mcp-lok-npx --memory 1g -e GITHUB_TOKEN -y @modelcontextprotocol/server-github',
    '  Claude Desktop (claude_desktop_config.json), "npx" becomes "mcp-lok-npx":',
    '    "memory": { "command": "mcp-lok-npx", "args": ["-y", "@modelcontextprotocol/server-memory"] }',
    '',
  ].join('\n');
}
