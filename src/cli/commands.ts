import type { ParseArgsConfig } from 'node:util';
import type { Context } from '../app/context.js';
import { STOP_GRACE_S } from '../sandbox/hardening.js';

/** One option of a manager command: its parseArgs shape and its help line. */
export interface OptionSpec {
  type: 'boolean' | 'string';
  short?: string;
  value?: string;
  description: string;
}

/** One manager command: the table drives parsing, `--help`, and the lazy-loaded action. */
export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  positionals: { min: number; max: number; names: string[] };
  options: Record<string, OptionSpec>;
  examples: string[];
  /** Runs with arguments parsed from the table, or `raw`: it parses its own (docker-like). */
  run: { parsed: (ctx: Context, args: ParsedCommand) => Promise<number> }
    | { raw: (ctx: Context, argv: string[]) => Promise<number> };
}

export interface ParsedCommand {
  positionals: string[];
  values: Record<string, string | boolean | undefined>;
}

const json: OptionSpec = { type: 'boolean', description: 'Print JSON for scripts instead of a table.' };
/** The client names `--client` takes (kept here: the table must not load the wrap code). */
const CLIENT_LIST = 'claude-desktop, claude-code, cursor, vscode, windsurf, cline, gemini, codex, zed';

/** The manager's commands, in the order `mcp-lok help` lists them. */
export const COMMANDS: CommandSpec[] = [
  {
    name: 'run',
    summary: 'Run a server in the foreground, over stdio or HTTP (Ctrl-C stops and removes it)',
    usage: 'mcp-lok run [options] IMAGE|npx://PACKAGE[@VERSION] [--] [ARGS...]',
    positionals: { min: 1, max: Infinity, names: ['SOURCE'] },
    options: {},
    examples: [
      'mcp-lok run npx://@modelcontextprotocol/server-memory',
      'mcp-lok run --transport sse --name my-mcp-server --port 8080 my-mcp-server-image:latest -- my-mcp-server-args',
      'mcp-lok run --name fs --profile ./fs.json npx://@modelcontextprotocol/server-filesystem -- /data',
    ],
    run: { raw: async (ctx, argv) => (await import('./commands/run.js')).runRun(ctx, argv) },
  },
  {
    name: 'start',
    summary: 'Start a server in the background over HTTP and print its URL (or start a stopped one again)',
    usage: 'mcp-lok start [options] IMAGE|npx://PACKAGE[@VERSION] [--] [ARGS...] | mcp-lok start NAME',
    positionals: { min: 1, max: Infinity, names: ['SOURCE'] },
    options: {},
    examples: [
      'mcp-lok start --name memory --port 8082 npx://@modelcontextprotocol/server-memory',
      'mcp-lok start --transport streamable-http --name everything --port 8081 npx://@modelcontextprotocol/server-everything -- streamableHttp',
      'mcp-lok start memory',
    ],
    run: { raw: async (ctx, argv) => (await import('./commands/start.js')).runStart(ctx, argv) },
  },
  {
    name: 'export',
    summary: 'Print Kubernetes manifests for a server (restricted pod, NetworkPolicies from its profile); creates nothing',
    usage: 'mcp-lok export kubernetes [options] IMAGE|npx://PACKAGE[@VERSION] [--] [ARGS...] | mcp-lok export kubernetes [options] NAME',
    positionals: { min: 1, max: Infinity, names: ['TARGET', 'SOURCE'] },
    options: {},
    examples: [
      'mcp-lok export kubernetes --image registry.example.com/mcp/memory:1 npx://@modelcontextprotocol/server-memory@2025.9.25 | kubectl apply -f -',
      'mcp-lok export kubernetes --json memory',
    ],
    run: { raw: async (ctx, argv) => (await import('./commands/export.js')).runExport(ctx, argv) },
  },
  {
    name: 'list',
    summary: 'List mcp-lok\'s sandboxed servers, their pinned versions and tool manifests\' state',
    usage: 'mcp-lok list [--all] [--wide] [--json]',
    positionals: { min: 0, max: 0, names: [] },
    options: {
      all: { type: 'boolean', short: 'a', description: 'Include stopped servers and install containers.' },
      wide: { type: 'boolean', short: 'w', description: 'Also show who started each server and its profile\'s name.' },
      json: { type: 'boolean', description: 'Print JSON for scripts instead of a table (with the package pin\'s integrity and the tools\' counts).' },
    },
    examples: ['mcp-lok list', 'mcp-lok list --wide', 'mcp-lok list --all --json'],
    run: { parsed: async (ctx, args) => (await import('./commands/list.js')).runList(ctx, args) },
  },
  {
    name: 'stop',
    summary: 'Stop a server (it is removed if it was started by mcp-lok-npx)',
    usage: 'mcp-lok stop [--time SECONDS] NAME [NAME...]',
    positionals: { min: 1, max: Infinity, names: ['NAME'] },
    options: { time: { type: 'string', short: 't', value: 'SECONDS', description: `Seconds to wait after SIGTERM before SIGKILL (default ${STOP_GRACE_S}).` } },
    examples: ['mcp-lok stop memory'],
    run: { parsed: async (ctx, args) => (await import('./commands/stop-rm.js')).runStop(ctx, args) },
  },
  {
    name: 'rm',
    summary: 'Remove a stopped server (-f: stop it first; --home: its home volume too)',
    usage: 'mcp-lok rm [-f] [--home] NAME [NAME...]',
    positionals: { min: 1, max: Infinity, names: ['NAME'] },
    options: {
      force: { type: 'boolean', short: 'f', description: 'Stop the server first if it is running.' },
      home: { type: 'boolean', description: 'Also remove its home volume (its files go with it), even when the server is gone.' },
    },
    examples: ['mcp-lok rm memory', 'mcp-lok rm -f memory', 'mcp-lok rm --home memory'],
    run: { parsed: async (ctx, args) => (await import('./commands/stop-rm.js')).runRm(ctx, args) },
  },
  {
    name: 'logs',
    summary: 'Show a background server\'s output and its supervisor\'s log, or any server\'s egress log',
    usage: 'mcp-lok logs [-f] NAME | mcp-lok logs NAME --egress [--json] | mcp-lok logs NAME|PACKAGE|IMAGE --tools [--json]',
    positionals: { min: 1, max: 1, names: ['NAME'] },
    options: {
      follow: { type: 'boolean', short: 'f', description: 'Keep printing new lines as they come (Ctrl-C ends).' },
      egress: { type: 'boolean', description: 'Show the outbound log (time, host, port, address, verdict, bytes).' },
      tools: { type: 'boolean', description: 'Show the tool-pin log: when the tools were pinned, changes seen (with diffs), approvals.' },
      json,
    },
    examples: ['mcp-lok logs everything -f', 'mcp-lok logs my-server --egress', 'mcp-lok logs @modelcontextprotocol/server-memory --tools'],
    run: { parsed: async (ctx, args) => (await import('./commands/logs.js')).runLogs(ctx, args) },
  },
  {
    name: 'approve',
    summary: 'Review the new, changed or removed tools of a server since its tools were pinned, and accept exactly those',
    usage: 'mcp-lok approve [--yes] [--json] NAME|PACKAGE|IMAGE',
    positionals: { min: 1, max: 1, names: ['SERVER'] },
    options: {
      yes: { type: 'boolean', short: 'y', description: 'Approve the changes it prints without asking (needed when there is no terminal to ask).' },
      json,
    },
    examples: ['mcp-lok approve @modelcontextprotocol/server-memory', 'mcp-lok approve memory', 'mcp-lok approve ghcr.io/org/server'],
    run: { parsed: async (ctx, args) => (await import('./commands/approve.js')).runApprove(ctx, args) },
  },
  {
    name: 'image',
    summary: 'Show, build (ahead of a client\'s first start) or remove the sandbox image, package cache and servers\' home volumes; build and push images for a cluster',
    usage: 'mcp-lok image [show|build|rm [--homes] [VOLUME...]] [--json] | mcp-lok image build --push REF|--tag REF npx://PACKAGE[@VERSION]|--egress-proxy',
    positionals: { min: 0, max: Infinity, names: ['ACTION', 'VOLUME'] },
    options: {
      homes: { type: 'boolean', description: 'With rm: remove the servers\' home volumes too (their files go with them).' },
      push: { type: 'string', value: 'REF', description: 'With build: build an image for a cluster (a package\'s server, or --egress-proxy), tag it REF and push it with your docker credentials.' },
      tag: { type: 'string', value: 'REF', description: 'With build: as --push, but only build and tag REF on this engine.' },
      'egress-proxy': { type: 'boolean', description: 'With build --push/--tag: the egress proxy image instead of a package\'s.' },
      json,
    },
    examples: [
      'mcp-lok image', 'mcp-lok image build', 'mcp-lok image rm', 'mcp-lok image rm mcp-lok-home-memory-0123456789ab', 'mcp-lok image rm --homes',
      'mcp-lok image build --push registry.example.com/team/memory:1 npx://@modelcontextprotocol/server-memory@2025.9.25',
      'mcp-lok image build --push registry.example.com/team/mcp-lok-egress:1 --egress-proxy',
    ],
    run: { parsed: async (ctx, args) => (await import('./commands/image.js')).runImage(ctx, args) },
  },
  {
    name: 'update',
    summary: 'Show newer versions of pinned packages; review what changes and pin one, or roll it back',
    usage: 'mcp-lok update [NAME|PACKAGE] [--yes] [--json] | mcp-lok update --rollback NAME|PACKAGE [--json]',
    positionals: { min: 0, max: 1, names: ['NAME|PACKAGE'] },
    options: {
      yes: { type: 'boolean', short: 'y', description: 'Pin the new version without asking (needed when there is no terminal to ask).' },
      rollback: { type: 'boolean', description: 'Go back to the version pinned before the last update.' },
      json,
    },
    examples: ['mcp-lok update', 'mcp-lok update @modelcontextprotocol/server-memory', 'mcp-lok update memory --yes', 'mcp-lok update --rollback memory'],
    run: {
      parsed: async (ctx, args) => {
        const [{ runUpdate }, { describeToolChanges }] = await Promise.all([import('./commands/update.js'), import('../app/update-tools.js')]);
        return runUpdate(ctx, args, args.positionals[0] === undefined ? undefined : describeToolChanges(ctx, args.positionals[0]));
      },
    },
  },
  {
    name: 'profile',
    summary: 'List permission profiles, show what one allows, or check a profile file',
    usage: 'mcp-lok profile [list | show NAME|FILE | check FILE] [--json]',
    positionals: { min: 0, max: 2, names: ['ACTION', 'PROFILE'] },
    options: { json },
    examples: ['mcp-lok profile list', 'mcp-lok profile show network', 'mcp-lok profile check ./my-profile.json'],
    run: { parsed: async (ctx, args) => (await import('./commands/profile.js')).runProfile(ctx, args) },
  },
  {
    name: 'wrap',
    summary: 'Rewrite your MCP clients\' npx servers to run sandboxed through mcp-lok-npx (--list shows them)',
    usage: 'mcp-lok wrap [--client NAME[,NAME]] [--project DIR] [--dry-run] [--yes] [--no-install] [--json] [SERVER...] | mcp-lok wrap --list [--json]',
    positionals: { min: 0, max: Infinity, names: ['SERVER'] },
    options: {
      list: { type: 'boolean', short: 'l', description: 'Show each client\'s servers and whether they run sandboxed; change nothing.' },
      client: { type: 'string', short: 'c', value: 'NAME', description: `Only these clients (comma-separated): ${CLIENT_LIST}.` },
      project: { type: 'string', value: 'DIR', description: 'The project whose own configs (.mcp.json, .cursor/, .vscode/...) count too (default: this folder).' },
      'dry-run': { type: 'boolean', short: 'n', description: 'Show what would change, as a diff, and write nothing.' },
      yes: { type: 'boolean', short: 'y', description: 'Write without asking (needed when there is no terminal to ask).' },
      'no-install': { type: 'boolean', description: 'Do not install the wrapped packages ahead (a client\'s first start then installs).' },
      json,
    },
    examples: ['mcp-lok wrap --list', 'mcp-lok wrap --dry-run', 'mcp-lok wrap', 'mcp-lok wrap --client claude-code,cursor --yes', 'mcp-lok wrap memory'],
    run: { parsed: async (ctx, args) => (await import('./commands/wrap.js')).runWrap(ctx, args) },
  },
  {
    name: 'unwrap',
    summary: 'Put servers wrapped by `mcp-lok wrap` back as they were',
    usage: 'mcp-lok unwrap [--client NAME[,NAME]] [--project DIR] [--dry-run] [--yes] [--json] [SERVER...]',
    positionals: { min: 0, max: Infinity, names: ['SERVER'] },
    options: {
      client: { type: 'string', short: 'c', value: 'NAME', description: 'Only these clients (comma-separated), as for wrap.' },
      project: { type: 'string', value: 'DIR', description: 'The project whose own configs count too (default: this folder).' },
      'dry-run': { type: 'boolean', short: 'n', description: 'Show what would change, as a diff, and write nothing.' },
      yes: { type: 'boolean', short: 'y', description: 'Write without asking (needed when there is no terminal to ask).' },
      json,
    },
    examples: ['mcp-lok unwrap --dry-run', 'mcp-lok unwrap --yes', 'mcp-lok unwrap --client cursor memory'],
    run: { parsed: async (ctx, args) => (await import('./commands/wrap.js')).runUnwrap(ctx, args) },
  },
  {
    name: 'doctor',
    summary: 'Check that mcp-lok can run servers here: engine, image, sandbox, mcp-lok-npx, clients',
    usage: 'mcp-lok doctor [--json]',
    positionals: { min: 0, max: 0, names: [] },
    options: { json },
    examples: ['mcp-lok doctor', 'mcp-lok doctor --json'],
    run: { parsed: async (ctx, args) => (await import('./commands/doctor.js')).runDoctor(ctx, args) },
  },
  {
    name: 'version',
    summary: 'Show mcp-lok\'s version',
    usage: 'mcp-lok version [--json]',
    positionals: { min: 0, max: 0, names: [] },
    options: { json },
    examples: ['mcp-lok version --json'],
    run: { parsed: async (ctx, args) => (await import('./commands/version.js')).runVersion(ctx, args) },
  },
  {
    name: 'help',
    summary: 'Show help for mcp-lok or one of its commands',
    usage: 'mcp-lok help [COMMAND]',
    positionals: { min: 0, max: 1, names: ['COMMAND'] },
    options: {},
    examples: ['mcp-lok help list'],
    run: { parsed: async (ctx, args) => (await import('./help.js')).runHelp(ctx, args) },
  },
];

/** Returns parseArgs options for a command, `--help` and `--debug` included. */
export function toParseArgsOptions(spec: CommandSpec): NonNullable<ParseArgsConfig['options']> {
  const options: NonNullable<ParseArgsConfig['options']> = {
    help: { type: 'boolean', short: 'h' },
    debug: { type: 'boolean' },
  };
  for (const [name, o] of Object.entries(spec.options)) options[name] = o.short ? { type: o.type, short: o.short } : { type: o.type };
  return options;
}

/** Returns the command called `name`, if any. */
export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}
