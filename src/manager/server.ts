// `mcp-lok` with no command: an MCP server whose tools manage mcp-lok's sandboxes. It calls
// the same services as the CLI commands, and only ever touches containers labelled as
// mcp-lok's (every lookup goes through those labels and exact names).
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';
import type { ManagerContext } from '../cli/manager-context.js';
import { readVersion } from '../cli/version.js';
import { LokError } from '../errors.js';
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
});

/** Returns the management server with its tools registered. */
export function createManagementServer(ctx: ManagerContext): McpServer {
  const server = new McpServer({ name: 'mcp-lok', version: readVersion() });

  server.registerTool('list_servers', {
    title: 'List sandboxed servers',
    description: 'Lists the MCP servers mcp-lok runs in sandboxes (running ones, or all with `all`), with their state, transport, profile and package or image.',
    inputSchema: { all: z.boolean().optional().describe('Include stopped servers and install containers.') },
    outputSchema: { servers: z.array(serverShape) },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  }, async ({ all }) => guard(async () => ok({ servers: await listServers(await ctx.engine(), ctx.paths.state, { all: all ?? false }) })));

  server.registerTool('stop_server', {
    title: 'Stop a sandboxed server',
    description: 'Stops one of mcp-lok\'s servers (SIGTERM, then SIGKILL after the grace period). A server started by mcp-lok-npx or `run` is removed when it stops.',
    inputSchema: { name: NAME, graceSeconds: z.number().int().min(0).max(3600).optional().describe('Seconds between SIGTERM and SIGKILL (default 3).') },
    outputSchema: { name: z.string(), wasRunning: z.boolean() },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  }, async ({ name, graceSeconds }) => guard(async () => ok({ name, wasRunning: await stopServer(await ctx.engine(), ctx.paths.state, name, graceSeconds ?? 3) })));

  server.registerTool('remove_server', {
    title: 'Remove a sandboxed server',
    description: 'Removes one of mcp-lok\'s servers; a running one only with `force`.',
    inputSchema: { name: NAME, force: z.boolean().optional().describe('Stop the server first if it is running.') },
    outputSchema: { name: z.string(), removed: z.boolean() },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  }, async ({ name, force }) => guard(async () => {
    await removeServer(await ctx.engine(), ctx.paths.state, name, force ?? false);
    return ok({ name, removed: true });
  }));

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
