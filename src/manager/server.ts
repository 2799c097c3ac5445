// `mcp-lok` with no command: an MCP server whose tools manage mcp-lok's sandboxes. It calls
// the same services as the CLI commands, and only ever touches containers labelled as
// mcp-lok's (every lookup goes through those labels and exact names). It shows pins and never
// changes one: approving a server's changed tools, or a new package version, is the user's
// (`mcp-lok approve`, `mcp-lok update` in a terminal), or an agent could approve its own rug pull.
import { CLIENT_CAPABILITIES_META_KEY, McpServer, inputRequired, inputResponse, type ClientCapabilities, type InputRequiredResult, type ServerContext } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { Context } from '../app/context.js';
import { readVersion } from '../version.js';
import { CONTAINER_NAME } from '../sandbox/names.js';
import { STOP_GRACE_S } from '../sandbox/hardening.js';
import type { Started } from '../app/background.js';
import { EXIT, LokError, usageError } from '../errors.js';
import type { StartServerInput, Widening, WideningQuestion } from './start-request.js';

// The services load on a tool's first call, not at start: clients start this server often.
const background = () => import('../app/background.js');
const logs = () => import('../app/logs.js');
const profiles = () => import('../app/profiles.js');
const servers = () => import('../app/servers.js');
const agentStart = () => import('./start-request.js');

type ToolResult = { content: Array<{ type: 'text'; text: string }>; structuredContent?: Record<string, unknown>; isError?: boolean };

/** Returns a tool result: the JSON as text for every client, structured for those that read it. */
function ok(data: Record<string, unknown>): ToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(data, null, 2) }], structuredContent: data };
}

/** Runs a tool body; mcp-lok's own errors become tool errors whose text says what to fix. */
async function guard(body: () => Promise<ToolResult | InputRequiredResult>): Promise<ToolResult | InputRequiredResult> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof AskUser) return error.result;
    if (error instanceof LokError) return { content: [{ type: 'text', text: error.hint ? `${error.message} ${error.hint}` : error.message }], isError: true };
    throw error;
  }
}

const NAME = z.string().regex(CONTAINER_NAME, 'a server name: letters, digits, _ . -, at most 63').describe('The server\'s name, as `list_servers` shows it.');

const serverShape = z.object({
  name: z.string(), id: z.string(), state: z.string(), status: z.string(), launcher: z.string(), transport: z.string(),
  url: z.string().nullable(), profile: z.string(), allows: z.array(z.string()), package: z.string().nullable(), image: z.string(), createdAt: z.string(),
  mode: z.enum(['proxy', 'bridge']).nullable().optional(), sessions: z.number().optional(), restarts: z.number().optional(), hint: z.string().optional(),
  pinned: z.string().nullable(),
  pin: z.object({
    specs: z.array(z.string()), registry: z.string(), packages: z.array(z.object({ name: z.string(), version: z.string(), integrity: z.string() })),
    pinnedAt: z.string(), newer: z.array(z.object({ name: z.string(), version: z.string() })), previous: z.array(z.string()),
  }).nullable(),
  tools: z.object({
    state: z.enum(['not pinned', 'pinned', 'changed', 'awaiting approval', 'damaged']), identity: z.string(), pinned: z.number(),
    added: z.number(), changed: z.number(), removed: z.number(), mode: z.enum(['observe', 'enforce']),
    pinnedAt: z.string().optional(), changedSince: z.string().optional(), approve: z.string().optional(),
  }).nullable(),
});

/**
 * Returns start_server's result. The token is given only for a server this call started: a
 * running server's token (one the user started with --auth, say) stays out, as in list_servers,
 * or naming a server would be enough to get past its listener (the caller leaves out the token
 * of the user's own server it started again, for the same reason).
 */
function startedResult(started: Started, relaxations: string[]): ToolResult {
  return ok({ name: started.name, url: started.url, mode: started.mode, token: started.already ? null : started.token ?? null, alreadyRunning: started.already, relaxations });
}

/** The protocol era a management server instance serves: 2025-era `initialize`, or 2026-07-28 (`server/discover`, per-request `_meta`). */
export type ManagementEra = 'legacy' | 'modern';

/** What a tool call knows about asking the user: whether the client can, and the answers it brought back. */
interface Consent { canAsk: boolean; responses: Record<string, unknown> | undefined; request: unknown }

/** Thrown from inside a restart's approval to leave it before anything starts, carrying the question for the client. */
class AskUser extends Error {
  constructor(readonly result: InputRequiredResult) { super('the user must answer first'); }
}

/**
 * Returns the consent view of one tool call: on 2026-07-28 the client's capabilities come with
 * each request (`_meta`), on the 2025 era from its `initialize`; either way only the client
 * can say it asks its user, as before.
 */
function consentOf(server: McpServer, era: ManagementEra, call: ServerContext, request: unknown): Consent {
  // The SDK validated the envelope on arrival; its published type leaves the keys out.
  const envelope = call.mcpReq.envelope as Record<string, ClientCapabilities | undefined> | undefined;
  const capabilities = era === 'modern' ? envelope?.[CLIENT_CAPABILITIES_META_KEY] : server.server.getClientCapabilities();
  return { canAsk: capabilities?.elicitation !== undefined, responses: call.mcpReq.inputResponses, request };
}

/**
 * Where the client can ask its user, asks about every widening at once: an agent cannot
 * quietly give a server the network, host files, host variables or other machines' clients.
 * Returns the input-required result that asks (the SDK turns it into an elicitation request on
 * the 2025 era), or nothing once the user said yes to this very request; a no refuses.
 */
function confirmWidenings(consent: Consent, widenings: readonly Widening[], ask: (widenings: readonly Widening[], request: unknown) => WideningQuestion): InputRequiredResult | undefined {
  if (widenings.length === 0 || !consent.canAsk) return undefined;
  const question = ask(widenings, consent.request);
  const answer = inputResponse(consent.responses, question.key);
  if (answer.kind === 'missing') {
    return inputRequired({
      inputRequests: {
        [question.key]: inputRequired.elicit({
          message: question.message,
          requestedSchema: { type: 'object', properties: { allow: { type: 'boolean', title: 'Allow', description: 'Start the server with these permissions.' } }, required: ['allow'] },
        }),
      },
    });
  }
  if (answer.kind !== 'elicit' || answer.action !== 'accept' || answer.content?.allow !== true) {
    throw new LokError('INVALID_INPUT', 'Refused: the user did not allow the wider sandbox.', { exitCode: EXIT.usage, hint: 'Start it with the default profile (stdio) instead.' });
  }
  return undefined;
}

/** Returns the management server with its tools registered, for one connection of the given era. */
export function createManagementServer(ctx: Context, era: ManagementEra = 'legacy'): McpServer {
  const server = new McpServer({ name: 'mcp-lok', version: readVersion() });

  server.registerTool('list_servers', {
    title: 'List sandboxed servers',
    description: 'Lists the MCP servers mcp-lok runs in sandboxes: background servers (running, or stopped with how to start them again) and, running or all with `all`, those started by mcp-lok-npx or `run`; with state, transport, URL, profile, package or image, the pinned version of its package (`pinned`, `pin`) and its tool manifest (`tools`: pinned, changed, or awaiting approval when enforce hides changed tools). Approving changed tools is the user\'s alone: tell the user to run the `tools.approve` command (`mcp-lok approve X`) in a terminal after reviewing the diff; no tool here approves or edits a pin.',
    inputSchema: z.object({ all: z.boolean().optional().describe('Include stopped servers and install containers.') }),
    outputSchema: z.object({ servers: z.array(serverShape) }),
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  }, async ({ all }) => guard(async () => ok({ servers: (await (await servers()).listServers(ctx, { all: all ?? false })).map(({ token: _token, ...row }) => row) })));

  server.registerTool('stop_server', {
    title: 'Stop a sandboxed server',
    description: 'Stops one of mcp-lok\'s servers (SIGTERM, then SIGKILL after the grace period). A background server stays listed as stopped until removed; one started by mcp-lok-npx or `run` is removed when it stops.',
    inputSchema: z.object({ name: NAME, graceSeconds: z.number().int().min(0).max(3600).optional().describe(`Seconds between SIGTERM and SIGKILL (default ${STOP_GRACE_S}).`) }),
    outputSchema: z.object({ name: z.string(), wasRunning: z.boolean() }),
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  }, async ({ name, graceSeconds }) => guard(async () => ok({ name, wasRunning: await (await servers()).stopServer(ctx, name, graceSeconds ?? STOP_GRACE_S) })));

  server.registerTool('remove_server', {
    title: 'Remove a sandboxed server',
    description: 'Removes one of mcp-lok\'s servers (a background server\'s record and log, or a container); a running one only with `force`.',
    inputSchema: z.object({ name: NAME, force: z.boolean().optional().describe('Stop the server first if it is running.') }),
    outputSchema: z.object({ name: z.string(), removed: z.boolean() }),
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  }, async ({ name, force }) => guard(async () => {
    await (await servers()).removeServer(ctx, name, force ?? false);
    return ok({ name, removed: true });
  }));

  server.registerTool('start_server', {
    title: 'Start a sandboxed server in the background',
    description: 'Starts an MCP server from an image or an npm package (npx://name[@version]) in a locked-down sandbox under a supervisor, served over streamable HTTP or SSE on this machine\'s loopback, and returns its URL. With only `name` (and allow flags), starts a stopped server again as it was first started; that needs the same flags as a new start (a running one is left as it is, and its token is not returned). Anything that widens the sandbox (network, reading or writing host files, variables from mcp-lok\'s environment, listening beyond loopback) needs its allow flag and, where the client can ask, the user\'s confirmation. A CA file, an engine or a registry cannot be chosen here: they come from the user\'s configuration.',
    inputSchema: z.object({
      source: z.string().min(1).max(512).optional().describe('An image reference (ghcr.io/org/server:1.0) or npx://package[@version], nothing else. Omit to start the stopped server `name` again.'),
      args: z.array(z.string().max(4096)).max(64).optional().describe('Arguments for the server (never read by mcp-lok).'),
      transport: z.enum(['streamable-http', 'sse']).optional().describe('How clients reach it (default streamable-http).'),
      name: NAME.optional().describe('The server\'s name (default: from the package or image).'),
      port: z.number().int().min(1).max(65535).optional().describe('Host port (default: a free one).'),
      targetPort: z.number().int().min(1).max(65535).optional().describe('The port the server listens on in its sandbox, if it speaks HTTP itself (default 8080, given to it as PORT).'),
      profile: z.string().min(1).max(4096).optional().describe('Permission profile: stdio (default: no network, no host files), network, a name from list_profiles, or a .json file.'),
      env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().max(32_768)).optional().describe('Variables for the server, with their values.'),
      envFromHost: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/)).max(64).optional().describe('Names of variables to copy from mcp-lok\'s own environment (secrets the agent need not see); needs allowHostEnv.'),
      host: z.string().regex(/^[0-9a-fA-F.:]{2,45}$|^localhost$/, 'an IP address of this machine, or localhost').optional().describe('Address to listen on (default 127.0.0.1).'),
      auth: z.boolean().optional().describe('Require a bearer token from clients on loopback too (beyond loopback it is always required); the token is returned.'),
      allowNetwork: z.boolean().optional().describe('Required for a profile that lets the server reach any host outside (an allowlist, insecure_allow_all, the `network` profile).'),
      allowReads: z.boolean().optional().describe('Required for a profile that lets the server read host files.'),
      allowWrites: z.boolean().optional().describe('Required for a profile that lets the server write host files.'),
      allowRemoteClients: z.boolean().optional().describe('Required to listen on an address other machines can reach.'),
      allowHostEnv: z.boolean().optional().describe('Required for envFromHost.'),
      allowPull: z.boolean().optional().describe('Let the engine download an image that is not on this machine (default: only images already here).'),
    }),
    outputSchema: z.object({ name: z.string(), url: z.string(), mode: z.enum(['proxy', 'bridge']), token: z.string().nullable(), alreadyRunning: z.boolean(), relaxations: z.array(z.string()) }),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  }, async (input, call) => guard(async () => {
    const agent = await agentStart();
    const { restartBackground, startBackground } = await background();
    if (!input.source) {
      if (!input.name) throw usageError('Give `source` (an image or npx://package) to start a server, or `name` to start a stopped one again.');
      agent.checkRestartInput(input);
      // Starting a stopped server again is a start: its recorded request needs the same flags and yes.
      let relaxations: string[] = [];
      let agentsOwn = false;
      const started = await restartBackground(ctx, input.name, async (spec) => {
        agent.checkAgentRestart(spec, { cwd: ctx.cwd, env: ctx.env });
        if (spec.server.source.kind === 'image') spec.server.source = { ...spec.server.source, allowPull: input.allowPull === true };
        const widenings = agent.findWidenings(spec, agent.hostEnvNames(spec.server));
        agent.requireFlags(widenings, input);
        // The question names the record's widenings: a record changed between the question and the yes asks again.
        const ask = confirmWidenings(consentOf(server, era, call, input), widenings, agent.wideningQuestion);
        if (ask) throw new AskUser(ask);
        relaxations = agent.describeRelaxations(spec);
        agentsOwn = spec.server.homeScope === 'agent';
      });
      // The user's own server keeps its token from an agent: naming it must not get past its listener.
      return startedResult(agentsOwn ? started : { ...started, token: undefined }, relaxations);
    }
    const start = agent.buildAgentStart(input as StartServerInput & { source: string }, { configDir: ctx.paths.config, cwd: ctx.cwd, env: ctx.env });
    const widenings = agent.findWidenings(start, input.envFromHost ?? []);
    agent.requireFlags(widenings, input);
    const ask = confirmWidenings(consentOf(server, era, call, input), widenings, agent.wideningQuestion);
    if (ask) return ask;
    return startedResult(await startBackground(ctx, start), agent.describeRelaxations(start));
  }));

  server.registerTool('get_server_log', {
    title: 'Read a background server\'s log',
    description: 'Returns the last lines of a background server\'s log: its own output (stderr, and stdout for servers that listen themselves) and its supervisor\'s lines (starts, restarts, stops).',
    inputSchema: z.object({ name: NAME, lines: z.number().int().min(1).max(10_000).optional().describe('How many of the last lines (default 200).') }),
    outputSchema: z.object({ name: z.string(), lines: z.array(z.string()) }),
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  }, async ({ name, lines }) => guard(async () => ok({ name, lines: await (await logs()).readServerLogTail(ctx, name, lines ?? 200) })));

  server.registerTool('get_egress_log', {
    title: 'Read a server\'s egress log',
    description: 'Returns every outbound connection a server with an outbound allowlist attempted: time, host, port, resolved address, whether the profile allowed it, and bytes.',
    inputSchema: z.object({ name: NAME, limit: z.number().int().min(1).max(10_000).optional().describe('Only the last N entries (default 200).') }),
    outputSchema: z.object({ name: z.string(), entries: z.array(z.record(z.string(), z.unknown())) }),
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  }, async ({ name, limit }) => guard(async () => ok({ name, entries: (await logs()).readEgressEntries(ctx, name).slice(-(limit ?? 200)) })));

  server.registerTool('list_profiles', {
    title: 'List permission profiles',
    description: 'Lists the built-in permission profiles and the user\'s own.',
    inputSchema: z.object({}),
    outputSchema: z.object({ profiles: z.array(z.object({ name: z.string(), source: z.string() })) }),
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  }, async () => guard(async () => ok({ profiles: (await profiles()).listAllProfiles(ctx) })));

  server.registerTool('show_profile', {
    title: 'Show what a permission profile allows',
    description: 'Validates a profile (built-in name, the user\'s own name, or a file path) and says, in words, which files and hosts it allows.',
    inputSchema: z.object({ profile: z.string().min(1).max(4096).describe('A built-in name (stdio, none, network), a name in the user\'s config folder, or a file path.') }),
    outputSchema: z.object({ name: z.string(), source: z.string(), allows: z.array(z.string()) }),
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  }, async ({ profile }) => guard(async () => {
    (await agentStart()).checkAgentProfileName(profile);
    const report = (await profiles()).describeProfileFor(ctx, profile, 'show');
    return ok({ name: report.name, source: report.source, allows: report.allows });
  }));

  return server;
}

/** Serves the management tools over stdio until the client goes away. */
export async function serveManagement(ctx: Context): Promise<void> {
  if (process.stdin.isTTY) {
    ctx.stderr.write('mcp-lok: this is an MCP server (stdio) that manages sandboxes; add it to a client, or run `mcp-lok help` for the commands.\n');
  }
  // Both eras on one stdio connection: its first message picks the era, and one server serves it.
  const { serveStdio } = await import('@modelcontextprotocol/server/stdio');
  serveStdio(({ era }) => createManagementServer(ctx, era));
}
