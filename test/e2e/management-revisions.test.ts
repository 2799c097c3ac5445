// The management server speaks both MCP revisions over stdio: a v2 client (SDK 2.x) in
// `legacy` mode (initialize, 2025-11-25), in `auto` mode (server/discover) and pinned to
// 2026-07-28 sees the same tools as the v1 client, lists the real engine's servers, and is
// asked before a sandbox widens: a server-to-client elicitation on the 2025 era, an
// input-required result on 2026-07-28.
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioV1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { getPaths } from '../../src/state/paths.js';
import { scratchDir } from '../support/scratch.js';
import { LOK_HOME, MANAGER, MEMORY, eventually, lokContainers, requireEngine, runBin, shimEnv, tempDir } from './harness.js';

type Result = { content: Array<{ type: string; text?: string }>; structuredContent?: Record<string, unknown>; isError?: boolean };
type Mode = 'legacy' | 'auto' | { pin: string };
type Answer = { action: 'accept'; content: { allow: boolean } } | { action: 'decline' };

const MODES: Array<{ label: string; mode: Mode; era: 'legacy' | 'modern' }> = [
  { label: 'legacy', mode: 'legacy', era: 'legacy' },
  { label: 'auto', mode: 'auto', era: 'modern' },
  { label: 'pinned to 2026-07-28', mode: { pin: '2026-07-28' }, era: 'modern' },
];

/** The fields a tool's listing must keep whatever the revision. */
function toolFacts(tools: Array<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(tools.map((t) => [t.name, { title: t.title, description: t.description, inputSchema: t.inputSchema, outputSchema: t.outputSchema, annotations: t.annotations }]));
}

let v1Tools: Record<string, unknown> = {};
const revisions = suite('the management server with a v2 client in legacy, auto and pinned mode');

revisions.before(async () => {
  await requireEngine();
  const v1 = new ClientV1({ name: 'mcp-lok-e2e-v1', version: '1.0.0' });
  await v1.connect(new StdioV1({ command: process.execPath, args: [MANAGER], env: shimEnv(), stderr: 'ignore' }));
  v1Tools = toolFacts((await v1.listTools()).tools as Array<Record<string, unknown>>);
  await v1.close();
});

/** Connects a v2 client that can ask its user, and answers each question with `answers` in turn. */
async function connectV2(mode: Mode, answers: Answer[], asked: string[]): Promise<{ client: Client; stderr: () => string }> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [MANAGER], env: shimEnv(), stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (c: Buffer) => { stderr += c.toString(); });
  const client = new Client({ name: 'mcp-lok-e2e-v2', version: '1.0.0' }, { capabilities: { elicitation: { form: {} } }, versionNegotiation: { mode } });
  client.setRequestHandler('elicitation/create', async (request) => {
    asked.push(String(request.params.message));
    return answers.shift() ?? { action: 'decline' };
  });
  await client.connect(transport);
  return { client, stderr: () => stderr };
}

for (const { label, mode, era } of MODES) {
  revisions(`${label}: the ${era} era, the same tools as the v1 client, and list_servers from the engine`, async () => {
    const { client, stderr } = await connectV2(mode, [], []);
    try {
      assert.is(client.getProtocolEra(), era);
      if (era === 'modern') assert.is(client.getNegotiatedProtocolVersion(), '2026-07-28');
      assert.is(client.getServerVersion()?.name, 'mcp-lok');
      const { tools } = await client.listTools();
      assert.equal(toolFacts(tools as unknown as Array<Record<string, unknown>>), v1Tools);
      const listed = await client.callTool({ name: 'list_servers', arguments: { all: true } }) as Result;
      assert.not.ok(listed.isError, listed.content[0]?.text);
      assert.ok(Array.isArray(listed.structuredContent?.servers), JSON.stringify(listed));
      const bad = await client.callTool({ name: 'stop_server', arguments: { name: '../../etc' } }) as Result;
      assert.ok(bad.isError);
      assert.match(bad.content[0]?.text ?? '', /server name/);
    } finally {
      await client.close();
    }
    assert.not.match(stderr(), /error/i);
  });

  revisions(`${label}: asks the user before widening a sandbox; a decline refuses and creates nothing, a yes starts it`, async () => {
    const asked: string[] = [];
    const answers: Answer[] = [{ action: 'decline' }, { action: 'accept', content: { allow: false } }, { action: 'accept', content: { allow: true } }];
    const { client, stderr } = await connectV2(mode, answers, asked);
    const name = `e2e-rev-${randomBytes(3).toString('hex')}`;
    const folder = scratchDir('rev-read-');
    const profile = join(tempDir('mcp-lok-rev-profile-'), 'reads.json');
    writeFileSync(profile, JSON.stringify({ read: [folder] }));
    try {
      const declined = await client.callTool({ name: 'start_server', arguments: { source: `npx://${MEMORY}`, name, profile: 'network', allowNetwork: true } }) as Result;
      assert.ok(declined.isError, JSON.stringify(declined));
      assert.match(declined.content[0]?.text ?? '', /the user did not allow/);
      assert.is(asked.length, 1);
      assert.match(asked[0] ?? '', /reach any public host/);
      const no = await client.callTool({ name: 'start_server', arguments: { source: `npx://${MEMORY}`, name, profile: 'network', allowNetwork: true } }) as Result;
      assert.ok(no.isError, JSON.stringify(no));
      assert.match(no.content[0]?.text ?? '', /the user did not allow/);
      assert.is(asked.length, 2);
      assert.is((await lokContainers(`mcp-lok-name=${name}`)).length, 0);
      const started = await client.callTool({ name: 'start_server', arguments: { source: `npx://${MEMORY}`, name, profile, allowReads: true } }, { timeout: 180_000 }) as Result;
      assert.not.ok(started.isError, started.content[0]?.text);
      assert.is(asked.length, 3);
      assert.match(asked[2] ?? '', new RegExp(`lets the server read ${folder}`));
      assert.equal(started.structuredContent?.relaxations, [`read-only: ${folder}`]);
      const listed = await client.callTool({ name: 'list_servers', arguments: {} }) as Result;
      const mine = (listed.structuredContent?.servers as Array<{ name: string; state: string }>).find((s) => s.name === name);
      assert.is(mine?.state, 'running');
      const removed = await client.callTool({ name: 'remove_server', arguments: { name, force: true } }) as Result;
      assert.not.ok(removed.isError, removed.content[0]?.text);
      await eventually(async () => (await lokContainers(`mcp-lok-name=${name}`)).length === 0, 15_000, `${name} to be removed`);
    } finally {
      await client.callTool({ name: 'remove_server', arguments: { name, force: true } }).catch(() => {});
      await client.close();
    }
    assert.not.match(stderr(), /error/i);
  });
}

for (const { label, mode } of MODES.filter((m) => m.label !== 'auto')) {
  revisions(`${label}: starting a stopped server again asks about its record's widenings, and starts it only after a yes`, async () => {
    const asked: string[] = [];
    const answers: Answer[] = [{ action: 'decline' }, { action: 'accept', content: { allow: true } }];
    const { client } = await connectV2(mode, answers, asked);
    const name = `e2e-rev-again-${randomBytes(3).toString('hex')}`;
    const recordPath = join(getPaths({ MCP_LOK_HOME: LOK_HOME }).state, 'servers', `${name}.json`);
    const granted = scratchDir('rev-again-');
    try {
      const started = await client.callTool({ name: 'start_server', arguments: { source: `npx://${MEMORY}`, name } }, { timeout: 180_000 }) as Result;
      assert.not.ok(started.isError, started.content[0]?.text);
      assert.is(asked.length, 0);
      await client.callTool({ name: 'stop_server', arguments: { name } });
      // What anything with the user's rights can do to a stopped server's record.
      const record = JSON.parse(readFileSync(recordPath, 'utf8')) as { spec: { server: { profile: { profile: { read: unknown[] } } } } };
      record.spec.server.profile.profile.read = [{ host: granted, container: granted }];
      writeFileSync(recordPath, JSON.stringify(record));
      const declined = await client.callTool({ name: 'start_server', arguments: { name, allowReads: true } }) as Result;
      assert.ok(declined.isError, JSON.stringify(declined));
      assert.match(declined.content[0]?.text ?? '', /the user did not allow/);
      assert.is(asked.length, 1);
      assert.match(asked[0] ?? '', new RegExp(`lets the server read ${granted}`));
      assert.is((await lokContainers(`mcp-lok-name=${name}`)).length, 0);
      const again = await client.callTool({ name: 'start_server', arguments: { name, allowReads: true } }, { timeout: 180_000 }) as Result;
      assert.not.ok(again.isError, again.content[0]?.text);
      assert.is(asked.length, 2);
      assert.equal(again.structuredContent?.relaxations, [`read-only: ${granted}`]);
    } finally {
      await client.callTool({ name: 'remove_server', arguments: { name, force: true } }).catch(() => {});
      await client.close();
    }
  });
}

revisions('on 2026-07-28 the question is an input-required result on the wire, bound to its request: a yes for other arguments asks again, a no refuses', async () => {
  const child = spawn(process.execPath, [MANAGER], { stdio: ['pipe', 'pipe', 'pipe'], env: shimEnv() });
  const lines: Array<Record<string, any>> = [];
  let buffer = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    for (let end = buffer.indexOf('\n'); end >= 0; end = buffer.indexOf('\n')) {
      lines.push(JSON.parse(buffer.slice(0, end)) as Record<string, any>);
      buffer = buffer.slice(end + 1);
    }
  });
  const meta = {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientInfo': { name: 'mcp-lok-e2e-raw', version: '1' },
    'io.modelcontextprotocol/clientCapabilities': { elicitation: { form: {} } },
  };
  let id = 0;
  const call = async (method: string, params: Record<string, unknown>): Promise<Record<string, any>> => {
    id += 1;
    const mine = id;
    child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: mine, method, params: { ...params, _meta: meta } })}\n`);
    await eventually(async () => lines.some((l) => l.id === mine), 15_000, `an answer to ${method} #${mine}`);
    return lines.find((l) => l.id === mine) ?? {};
  };
  const name = `e2e-rev-raw-${randomBytes(3).toString('hex')}`;
  const wide = { source: `npx://${MEMORY}`, name, profile: 'network', allowNetwork: true };
  try {
    const discovered = await call('server/discover', {});
    assert.ok(discovered.result?.supportedVersions?.includes('2026-07-28'), JSON.stringify(discovered));
    const first = await call('tools/call', { name: 'start_server', arguments: wide });
    assert.is(first.result?.resultType, 'input_required', JSON.stringify(first));
    const [key, request] = Object.entries(first.result.inputRequests as Record<string, { method: string; params: { message: string } }>)[0] ?? [];
    assert.ok(key && request, JSON.stringify(first));
    assert.is(request.method, 'elicitation/create');
    assert.match(request.params.message, /reach any public host/);
    // A yes given for this request, sent with another server's arguments, is not an answer for those.
    const other = await call('tools/call', { name: 'start_server', arguments: { ...wide, name: `${name}-b` }, inputResponses: { [key]: { action: 'accept', content: { allow: true } } } });
    assert.is(other.result?.resultType, 'input_required', JSON.stringify(other));
    assert.not.ok(key in other.result.inputRequests);
    const no = await call('tools/call', { name: 'start_server', arguments: wide, inputResponses: { [key]: { action: 'decline' } } });
    assert.is(no.result?.isError, true, JSON.stringify(no));
    assert.match(no.result?.content?.[0]?.text ?? '', /the user did not allow/);
    assert.is((await lokContainers(`mcp-lok-name=${name}`)).length, 0);
    assert.is((await lokContainers(`mcp-lok-name=${name}-b`)).length, 0);
  } finally {
    child.stdin.end();
    if (child.exitCode === null && child.signalCode === null) await new Promise((resolve) => child.once('exit', resolve));
    // Nothing should have started; if a regression started either, it must not outlive the test.
    for (const each of [name, `${name}-b`]) await runBin(MANAGER, ['rm', '-f', each]).catch(() => undefined);
  }
});

revisions.run();
