// Real MCP SDK servers over node:http, in-process, for tests that need a server speaking
// streamable HTTP or the legacy SSE transport on a TCP port or a Unix socket.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

export type ListenAddress = { socketPath: string } | { host: string; port: number };

export interface Listening {
  /** The TCP port bound, when listening on TCP. */
  port: number | undefined;
  close(): Promise<void>;
}

/** Returns a fresh MCP server with two tools: `add` (the sum as text) and `session` (the session id it sees). */
export function createTestMcpServer(): McpServer {
  const server = new McpServer({ name: 'proxy-test', version: '1.0.0' });
  server.registerTool('add', { inputSchema: { a: z.number(), b: z.number() } }, ({ a, b }) => ({
    content: [{ type: 'text', text: String(a + b) }],
  }));
  server.registerTool('session', {}, (extra) => ({
    content: [{ type: 'text', text: extra.sessionId ?? '(none)' }],
  }));
  return server;
}

/** Starts a node:http server with `handler` on `address`; close() also drops open connections. */
export async function listenHttp(handler: RequestListener, address: ListenAddress): Promise<Listening> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if ('socketPath' in address) server.listen(address.socketPath, resolve);
    else server.listen(address.port, address.host, resolve);
  });
  const bound = server.address();
  return {
    port: typeof bound === 'object' && bound ? (bound as AddressInfo).port : undefined,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** Returns a stateful streamable-HTTP handler: one SDK transport and server per session. */
export function createStreamableHandler(options: { allowedHosts?: () => string[]; jsonResponses?: boolean } = {}): RequestListener {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  return (req, res) => {
    void (async () => {
      const id = req.headers['mcp-session-id'];
      let transport = typeof id === 'string' ? sessions.get(id) : undefined;
      if (!transport) {
        const allowedHosts = options.allowedHosts?.();
        const created = new StreamableHTTPServerTransport({
          sessionIdGenerator: randomUUID,
          onsessioninitialized: (sid) => { sessions.set(sid, created); },
          ...(options.jsonResponses ? { enableJsonResponse: true } : {}),
          ...(allowedHosts ? { enableDnsRebindingProtection: true, allowedHosts } : {}),
        });
        await createTestMcpServer().connect(created);
        transport = created;
      }
      await transport.handleRequest(req, res);
    })();
  };
}

/** Returns a legacy SSE handler built on the SDK's SSEServerTransport: GET /sse, POST /messages. */
export function createSdkSseHandler(): RequestListener {
  const sessions = new Map<string, SSEServerTransport>();
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && url.pathname === '/sse') {
      const transport = new SSEServerTransport('/messages', res);
      sessions.set(transport.sessionId, transport);
      res.on('close', () => sessions.delete(transport.sessionId));
      void createTestMcpServer().connect(transport);
      return;
    }
    const transport = sessions.get(url.searchParams.get('sessionId') ?? '');
    if (req.method === 'POST' && url.pathname === '/messages' && transport) {
      void transport.handlePostMessage(req, res);
      return;
    }
    res.writeHead(404).end();
  };
}

/** A legacy SSE server transport whose endpoint event carries an absolute URL, with CRLF line endings. */
class AbsoluteEndpointTransport implements Transport {
  onclose?: Transport['onclose'];
  onerror?: Transport['onerror'];
  onmessage?: Transport['onmessage'];

  constructor(private readonly res: ServerResponse, private readonly endpoint: string) {}

  async start(): Promise<void> {
    this.res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    this.res.write(`event: endpoint\r\ndata: ${this.endpoint}\r\n\r\n`);
    this.res.on('close', () => this.onclose?.());
  }

  async send(message: JSONRPCMessage): Promise<void> {
    this.res.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
  }

  async close(): Promise<void> {
    this.res.end();
  }
}

/**
 * Returns a legacy SSE handler whose endpoint event is the absolute URL `endpoint()` (one
 * session, id `x`), and the list of POST paths it received.
 */
export function createAbsoluteEndpointSseHandler(endpoint: () => string): { handler: RequestListener; posts: string[] } {
  const posts: string[] = [];
  let transport: AbsoluteEndpointTransport | undefined;
  const handler: RequestListener = (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && url.pathname === '/sse') {
      transport = new AbsoluteEndpointTransport(res, endpoint());
      void createTestMcpServer().connect(transport);
      return;
    }
    if (req.method === 'POST' && url.pathname === '/message' && url.searchParams.get('sessionId') === 'x' && transport) {
      posts.push(req.url ?? '');
      const receiver = transport;
      void readBody(req).then((body) => {
        res.writeHead(202).end('Accepted');
        receiver.onmessage?.(JSON.parse(body) as JSONRPCMessage);
      });
      return;
    }
    res.writeHead(404).end();
  };
  return { handler, posts };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
