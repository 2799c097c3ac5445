// A real MCP server over stdio, built with the official SDK, for the bridge tests. Every tool
// exists to show which backend answered and where the bridge routed the server's messages.
import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const identity = randomUUID();
const server = new McpServer({ name: 'sdk-stdio-server', version: '1.0.0' }, { capabilities: { logging: {}, tools: { listChanged: true } } });
const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

server.registerTool('whoami', { description: 'Returns an id fixed for this process.' }, () => text(identity));

server.registerTool('echo', { inputSchema: { text: z.string(), delayMs: z.number().optional() } }, async ({ text: value, delayMs }) => {
  if (delayMs) await sleep(delayMs);
  return text(value);
});

server.registerTool('notify', { inputSchema: { label: z.string() } }, async ({ label }, extra) => {
  await server.sendLoggingMessage({ level: 'info', data: `log ${label} from ${identity}` });
  const progressToken = extra._meta?.progressToken;
  if (progressToken !== undefined) {
    await extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress: 1, total: 2, message: `progress ${label}` } });
  }
  return text(`notified ${label}`);
});

server.registerTool('later', { inputSchema: { label: z.string(), delayMs: z.number() } }, ({ label, delayMs }) => {
  setTimeout(() => void server.sendLoggingMessage({ level: 'info', data: `later ${label}` }), delayMs);
  return text('scheduled');
});

server.registerTool('ask', { inputSchema: { question: z.string() } }, async ({ question }) => {
  const answer = await server.server.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: question } }], maxTokens: 16 });
  return text(answer.content.type === 'text' ? answer.content.text : '(not text)');
});

server.registerTool('elicit', { inputSchema: { question: z.string() } }, async ({ question }) => {
  const answer = await server.server.elicitInput({ mode: 'form', message: question, requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } });
  return text(`${answer.action}: ${String(answer.content?.name ?? '')}`);
});

server.registerTool('add-tool', { inputSchema: { name: z.string() } }, ({ name }) => {
  // Registering after connect makes the SDK send notifications/tools/list_changed.
  server.registerTool(name, { description: 'added at run time' }, () => text(name));
  return text(`added ${name}`);
});

server.registerTool('roots', { description: 'Lists the client roots.' }, async () => {
  const { roots } = await server.server.listRoots();
  return text(roots.map((r) => r.uri).join(' '));
});

server.registerTool('flood', { inputSchema: { count: z.number(), size: z.number() } }, async ({ count, size }) => {
  // Each send waits until stdout drains: a bridge that stops reading holds this server here.
  const filler = 'x'.repeat(size);
  for (let i = 0; i < count; i++) await server.sendLoggingMessage({ level: 'info', data: `${i} ${filler}` });
  return text(`flooded ${count}`);
});

await server.connect(new StdioServerTransport());
