import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createManagementServer } from '../../src/manager/server.js';
import { testContext } from '../support/context.js';

let home = '';
let client: Client;

const tools = suite('the management server\'s tools: pins are shown, never approved');

tools.before(async () => {
  home = mkdtempSync(join(tmpdir(), 'lok-manager-'));
  const server = createManagementServer(testContext({ home }));
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  client = new Client({ name: 'mcp-lok-test', version: '1.0.0' });
  await client.connect(clientSide);
});

tools.after(async () => {
  await client?.close();
  rmSync(home, { recursive: true, force: true });
});

tools('offers no tool that approves, accepts, trusts, pins, updates or rolls back', async () => {
  const { tools: listed } = await client.listTools();
  assert.ok(listed.length > 0);
  for (const tool of listed) {
    assert.not.match(`${tool.name} ${tool.title ?? ''}`, /approv|accept|trust|pin|update|rollback/i, `${tool.name} looks like it changes a pin`);
  }
});

tools('list_servers says what each server\'s pins are, and that approving is the user\'s in a terminal', async () => {
  const { tools: listed } = await client.listTools();
  const list = listed.find((t) => t.name === 'list_servers');
  assert.ok(list);
  assert.match(list.description ?? '', /`mcp-lok approve X`\) in a terminal/);
  assert.match(list.description ?? '', /no tool here approves or edits a pin/);
  const row = ((list.outputSchema?.properties?.servers as { items?: { properties?: Record<string, unknown> } }).items?.properties) ?? {};
  for (const field of ['pinned', 'pin', 'tools']) assert.ok(field in row, `list_servers rows have no ${field}`);
  assert.match(JSON.stringify(row.tools), /awaiting approval/);
  assert.match(JSON.stringify(row.pin), /integrity/);
});

tools.run();
