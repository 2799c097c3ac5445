// `mcp-lok` with no command: an MCP server whose tools manage mcp-lok's sandboxes. It calls
// the same services as the CLI commands, and only ever touches containers labelled as
// mcp-lok's (every lookup goes through those labels and exact names).
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';
import type { ManagerContext } from '../cli/manager-context.js';
import { readVersion } from '../cli/version.js';
import { readFileSync } from 'node:fs';
import { startBackground, type Started } from '../cli/commands/start.js';
import { EXIT, LokError, usageError } from '../errors.js';
import { isLoopbackHost } from '../proxy/host-check.js';
import { logFiles } from '../state/log-rotation.js';
import { readRecord, serverLogPath } from '../state/records.js';
import { describeProfile } from '../sandbox/profile-validate.js';
import { readEgressLog } from '../services/egress.js';
import { listProfiles, loadProfile } from '../services/profiles.js';
import { listServers, removeServer, stopServer } from '../services/servers.js';

type ToolResult = { content: Array<{ type: 'text'; text: string }>; structuredContent?: Record<string, unknown>; isError?: boolean };

/** Returns a tool result: the JSON as text for every client, structured for those that read it. */
function ok(data: Record<string, unknown>): ToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(data, null, 2) }], structuredContent: data };
}

/** Runs a tool body; mcp-lok's own errors become tool errors whose text says what to fix. */
async function guard(body: () => Promise<ToolResult>): Promise<ToolResult> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof LokError) return { content: [{ type: 'text', text: error.hint ? `${error.message} ${error.hint}` : error.message }], isError: true };
    throw error;
  }
}

const NAME = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, 'a server name: letters, digits, _ . -, at most 63').describe('The server\'s name, as `list_servers` shows it.');

const serverShape = z.object({
  name: z.string(), id: z.string(), state: z.string(), status: z.string(), launcher: z.string(), transport: z.string(),
  url: z.string().nullable(), profile: z.string(), allows: z.array(z.string()), package: z.string().nullable(), image: z.string(), createdAt: z.string(),
  mode: z.enum(['proxy', 'bridge']).nullable().optional(), sessions: z.number().optional(), restarts: z.number().optional(), hint: z.string().optional(),
});

function startedResult(started: Started | 'help', relaxations: string[]): ToolResult {
  if (started === 'help') throw usageError('Give the server to start.');
  return ok({ name: started.name, url: started.url, mode: started.mode, alreadyRunning: started.already, relaxations });
}

/** Returns the last `count` lines of a background server's log; NOT_FOUND for other servers. */
function readServerLog(stateDir: string, name: string, count: number): string[] {
  if (!readRecord(stateDir, name)) {
    throw new LokError('NOT_FOUND', `"${name}" is not a background server; only servers from start_server keep a log.`, { exitCode: EXIT.failure, hint: 'Use list_servers to see them.' });
  }
  let text = '';
  try { text = logFiles(serverLogPath(stateDir, name)).map((file) => readFileSync(file, 'utf8')).join(''); } catch { /* no output yet */ }
  return text.split('\n').filter((line) => line !== '').slice(-count);
}

interface RelaxationInput {
  profile?: string | undefined;
  host?: string | undefined;
  allowNetwork?: boolean | undefined;
  allowWrites?: boolean | undefined;
  allowRemoteClients?: boolean | undefined;
}

/**
 * Refuses a start that would widen the sandbox unless the call says so explicitly, and then,
 * where the client can ask its user, asks: an agent cannot quietly give a server the network,
 * write access to host files, or clients from other machines. Returns the relaxations in words.
 */
async function confirmRelaxations(server: McpServer, ctx: ManagerContext, input: RelaxationInput): Promise<string[]> {
  const loaded = loadProfile(input.profile ?? 'stdio', { configDir: ctx.paths.config, cwd: process.cwd() });
  const needs: Array<{ flag: keyof RelaxationInput; what: string }> = [];
  if (loaded.profile.outbound.insecureAllowAll) needs.push({ flag: 'allowNetwork', what: `profile ${loaded.name} lets the server reach any host on any port` });
  if (loaded.profile.write.length > 0) needs.push({ flag: 'allowWrites', what: `profile ${loaded.name} lets the server write ${loaded.profile.write.map((g) => g.host).join(', ')}` });
  if (input.host !== undefined && !isLoopbackHost(input.host)) needs.push({ flag: 'allowRemoteClients', what: `listening on ${input.host} lets other machines use the server` });
  const missing = needs.filter((n) => input[n.flag] !== true);
  if (missing.length > 0) {
    throw new LokError('INVALID_INPUT', `Refused: ${missing.map((n) => n.what).join('; ')}.`, {
      exitCode: EXIT.usage, hint: `Set ${missing.map((n) => `\`${n.flag}: true\``).join(' and ')} if the user wants that, or use the default profile (stdio).`,
    });
  }
  const relaxations = describeProfile(loaded.profile).filter((line) => line !== 'files: none' && line !== 'network: none');
  if (needs.length > 0 && server.server.getClientCapabilities()?.elicitation) {
    const answer = await server.server.elicitInput({
      message: `An agent asks mcp-lok to start a server with a wider sandbox: ${needs.map((n) => n.what).join('; ')}. Allow it?`,
      requestedSchema: { type: 'object', properties: { allow: { type: 'boolean', title: 'Allow', description: 'Start the server with these permissions.' } }, required: ['allow'] },
    });
    if (answer.action !== 'accept' || answer.content?.allow !== true) {
      throw new LokError('INVALID_INPUT', 'Refused: the user did not allow the wider sandbox.', { exitCode: EXIT.usage, hint: 'Start it with the default profile (stdio) instead.' });
    }
  }
  return relaxations;
}

/** Returns the management server with its tools registered. */
export function createManagementServer(ctx: ManagerContext): McpServer {
  const server = new McpServer({ name: 'mcp-lok', version: readVersion() });

  server.registerTool('list_servers', {
    title: 'List sandboxed servers',
    description: 'Lists the MCP servers mcp-lok runs in sandboxes: background servers (running, or stopped with how to start them again) and, running or all with `all`, those started by mcp-lok-npx or `run`; with state, transport, URL, profile and package or image.',
    inputSchema: { all: z.boolean().optional().describe('Include stopped servers and install containers.') },
    outputSchema: { servers: z.array(serverShape) },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  }, async ({ all }) => guard(async () => ok({ servers: await listServers(await ctx.engine(), ctx.paths.state, { all: all ?? false }) })));

  server.registerTool('stop_server', {
    title: 'Stop a sandboxed server',
    description: 'Stops one of mcp-lok\'s servers (SIGTERM, then SIGKILL after the grace period). A background server stays listed as stopped until removed; one started by mcp-lok-npx or `run` is removed when it stops.',
    inputSchema: { name: NAME, graceSeconds: z.number().int().min(0).max(3600).optional().describe('Seconds between SIGTERM and SIGKILL (default 3).') },
    outputSchema: { name: z.string(), wasRunning: z.boolean() },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  }, async ({ name, graceSeconds }) => guard(async () => ok({ name, wasRunning: await stopServer(await ctx.engine(), ctx.paths.state, name, graceSeconds ?? 3) })));

  server.registerTool('remove_server', {
    title: 'Remove a sandboxed server',
    description: 'Removes one of mcp-lok\'s servers (a background server\'s record and log, or a container); a running one only with `force`.',
    inputSchema: { name: NAME, force: z.boolean().optional().describe('Stop the server first if it is running.') },
    outputSchema: { name: z.string(), removed: z.boolean() },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  }, async ({ name, force }) => guard(async () => {
    await removeServer(await ctx.engine(), ctx.paths.state, name, force ?? false);
    return ok({ name, removed: true });
  }));

  server.registerTool('start_server', {
    title: 'Start a sandboxed server in the background',
    description: 'Starts an MCP server from an image or an npm package (npx://name[@version]) in a locked-down sandbox under a supervisor, served over streamable HTTP or SSE on this machine\'s loopback, and returns its URL. With only `name`, starts a stopped server again. Profiles that widen the sandbox (any host, write access to host files) and listening beyond loopback need the matching allow flag and, where the client can ask, the user\'s confirmation.',
    inputSchema: {
      source: z.string().min(1).max(512).optional().describe('An image reference (ghcr.io/org/server:1.0) or npx://package[@version]. Omit to start the stopped server `name` again.'),
      args: z.array(z.string().max(4096)).max(64).optional().describe('Arguments for the server.'),
      transport: z.enum(['streamable-http', 'sse']).optional().describe('How clients reach it (default streamable-http).'),
      name: NAME.optional().describe('The server\'s name (default: from the package or image).'),
      port: z.number().int().min(1).max(65535).optional().describe('Host port (default: a free one).'),
      targetPort: z.number().int().min(1).max(65535).optional().describe('The port the server listens on in its sandbox, if it speaks HTTP itself (default 8080, given to it as PORT).'),
      profile: z.string().min(1).max(4096).optional().describe('Permission profile: stdio (default: no network, no host files), network, a name or a file.'),
      env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().max(32_768)).optional().describe('Variables for the server.'),
      host: z.string().max(64).optional().describe('Address to listen on (default 127.0.0.1).'),
      allowNetwork: z.boolean().optional().describe('Required for a profile that lets the server reach any host (insecure_allow_all, the `network` profile).'),
      allowWrites: z.boolean().optional().describe('Required for a profile that grants write access to host files.'),
      allowRemoteClients: z.boolean().optional().describe('Required to listen on an address other machines can reach.'),
    },
    outputSchema: { name: z.string(), url: z.string(), mode: z.enum(['proxy', 'bridge']), alreadyRunning: z.boolean(), relaxations: z.array(z.string()) },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  }, async (input) => guard(async () => {
    if (!input.source) {
      if (!input.name) throw usageError('Give `source` (an image or npx://package) to start a server, or `name` to start a stopped one again.');
      return startedResult(await startBackground(ctx, [input.name]), []);
    }
    const relaxations = await confirmRelaxations(server, ctx, input);
    const argv = [
      '--transport', input.transport ?? 'streamable-http',
      ...(input.name ? ['--name', input.name] : []),
      ...(input.port ? ['--port', String(input.port)] : []),
      ...(input.targetPort ? ['--target-port', String(input.targetPort)] : []),
      ...(input.host ? ['--host', input.host] : []),
      ...(input.profile ? ['--profile', input.profile] : []),
      ...Object.entries(input.env ?? {}).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
      input.source, '--', ...(input.args ?? []),
    ];
    return startedResult(await startBackground(ctx, argv), relaxations);
  }));

  server.registerTool('get_server_log', {
    title: 'Read a background server\'s log',
    description: 'Returns the last lines of a background server\'s log: its own output (stderr, and stdout for servers that listen themselves) and its supervisor\'s lines (starts, restarts, stops).',
    inputSchema: { name: NAME, lines: z.number().int().min(1).max(10_000).optional().describe('How many of the last lines (default 200).') },
    outputSchema: { name: z.string(), lines: z.array(z.string()) },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  }, async ({ name, lines }) => guard(async () => ok({ name, lines: readServerLog(ctx.paths.state, name, lines ?? 200) })));

  server.registerTool('get_egress_log', {
    title: 'Read a server\'s egress log',
    description: 'Returns every outbound connection a server with an outbound allowlist attempted: time, host, port, resolved address, whether the profile allowed it, and bytes.',
    inputSchema: { name: NAME, limit: z.number().int().min(1).max(10_000).optional().describe('Only the last N entries (default 200).') },
    outputSchema: { name: z.string(), entries: z.array(z.record(z.string(), z.unknown())) },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  }, async ({ name, limit }) => guard(async () => ok({ name, entries: readEgressLog(ctx.paths.state, name).slice(-(limit ?? 200)) })));

  server.registerTool('list_profiles', {
    title: 'List permission profiles',
    description: 'Lists the built-in permission profiles and the user\'s own.',
    inputSchema: {},
    outputSchema: { profiles: z.array(z.object({ name: z.string(), source: z.string() })) },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  }, async () => guard(async () => ok({ profiles: listProfiles(ctx.paths.config) })));

  server.registerTool('show_profile', {
    title: 'Show what a permission profile allows',
    description: 'Validates a profile (built-in name, the user\'s own name, or a file path) and says, in words, which files and hosts it allows.',
    inputSchema: { profile: z.string().min(1).max(4096).describe('A built-in name (stdio, none, network), a name in the user\'s config folder, or a file path.') },
    outputSchema: { name: z.string(), source: z.string(), allows: z.array(z.string()) },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  }, async ({ profile }) => guard(async () => {
    const loaded = loadProfile(profile, { configDir: ctx.paths.config, cwd: process.cwd() });
    return ok({ name: loaded.name, source: loaded.source, allows: describeProfile(loaded.profile) });
  }));

  return server;
}

/** Serves the management tools over stdio until the client goes away. */
export async function serveManagement(ctx: ManagerContext): Promise<void> {
  if (process.stdin.isTTY) {
    ctx.stderr.write('mcp-lok: this is an MCP server (stdio) that manages sandboxes; add it to a client, or run `mcp-lok help` for the commands.\n');
  }
  const server = createManagementServer(ctx);
  await server.connect(new StdioServerTransport());
}
