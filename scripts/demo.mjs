// The main job, end to end: a real MCP client (the official SDK) starts
// `mcp-lok-npx -y @modelcontextprotocol/server-memory`, which runs the server from npm in a
// locked-down container; the client lists its tools and calls two of them.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { fileURLToPath } from 'node:url';

const shim = fileURLToPath(new URL('../bin/mcp-lok-npx', import.meta.url));
const transport = new StdioClientTransport({
  command: process.execPath,
  // --ephemeral: the demo's entity must not land in the home your own server-memory keeps.
  args: [shim, '--ephemeral', '-e', 'MEMORY_FILE_PATH=/home/node/memory.jsonl', '-y', '@modelcontextprotocol/server-memory'],
  env: { ...process.env },
  stderr: 'inherit',
});
const client = new Client({ name: 'mcp-lok-demo', version: '1.0.0' });
const started = performance.now();
await client.connect(transport);
console.log(`connected to ${client.getServerVersion()?.name} ${client.getServerVersion()?.version} in ${Math.round(performance.now() - started)} ms`);
const { tools } = await client.listTools();
console.log(`tools: ${tools.map((t) => t.name).join(', ')}`);
await client.callTool({ name: 'create_entities', arguments: { entities: [{ name: 'mcp-lok', entityType: 'tool', observations: ['runs MCP servers in locked-down containers'] }] } });
const graph = await client.callTool({ name: 'read_graph', arguments: {} });
console.log(`read_graph: ${graph.content?.[0]?.text}`);
await client.close();
