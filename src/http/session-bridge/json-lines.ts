import type { IncomingMessage, ServerResponse } from 'node:http';
import { formatJsonRpcError } from '../json-rpc.js';

/** Largest request body the bridge reads; stops one client from exhausting memory. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Most messages accepted in one JSON-RPC batch, as the SDK allows. */
export const MAX_BATCH_MESSAGES = 100;

/** What a parsed JSON-RPC message is, or undefined when it is none of them. */
export type MessageKind = 'request' | 'notification' | 'response';

/** Classifies a parsed client message; undefined when it is not a JSON-RPC 2.0 message. */
export function messageKind(value: unknown): MessageKind | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const m = value as { jsonrpc?: unknown; method?: unknown; id?: unknown };
  if (m.jsonrpc !== '2.0') return undefined;
  const hasId = typeof m.id === 'string' || typeof m.id === 'number';
  if (typeof m.method === 'string') {
    if (!('id' in m)) return 'notification';
    return hasId ? 'request' : undefined;
  }
  if ((hasId || m.id === null) && ('result' in m || 'error' in m)) return 'response';
  return undefined;
}

/** Returns the text as one line: raw CR and LF are only whitespace in JSON text, so they become spaces. */
export function toSingleLine(text: string): string {
  return text.includes('\n') || text.includes('\r') ? text.replace(/[\r\n]/g, ' ') : text;
}

/** Returns the source text of each element of a JSON array, byte for byte; `text` must be valid JSON. */
export function splitJsonArray(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      for (i++; i < text.length; i++) {
        const s = text.charCodeAt(i);
        if (s === 0x5c) i++;
        else if (s === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth === 1) start = i + 1;
    } else if (c === 0x5d || c === 0x7d) {
      if (--depth === 0) {
        const last = text.slice(start, i).trim();
        if (last !== '') parts.push(last);
      }
    } else if (c === 0x2c && depth === 1) {
      parts.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  return parts;
}

/** Answers an HTTP request with a JSON-RPC error that carries no id, as the SDK's transports do. */
export function sendJsonRpcError(res: ServerResponse, status: number, code: number, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { ...headers, 'content-type': 'application/json' });
  res.end(formatJsonRpcError(code, message));
}

/** Returns true for a Content-Type whose media type is application/json. */
export function isJsonContentType(header: string | undefined): boolean {
  if (header === 'application/json') return true;
  if (header === undefined) return false;
  const semi = header.indexOf(';');
  return (semi === -1 ? header : header.slice(0, semi)).trim().toLowerCase() === 'application/json';
}

/** Reads a request body as UTF-8 text; resolves to undefined when it exceeds `maxBytes`. */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<string | undefined> {
  if (Number(req.headers['content-length']) > maxBytes) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        req.off('data', onData);
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, size).toString('utf8')));
    req.once('error', reject);
  });
}

/** A POST body read and parsed: the raw text (forwarded byte for byte) and its messages. */
export interface PostedMessages {
  body: string;
  batch: boolean;
  messages: readonly unknown[];
}

/**
 * Reads a POST's JSON body (capped), answering 413 or 400 itself and returning undefined when
 * it is too large or not JSON; the caller checks the messages' shapes.
 */
export async function readPostedMessages(req: IncomingMessage, res: ServerResponse): Promise<PostedMessages | undefined> {
  const body = await readBody(req, MAX_BODY_BYTES);
  if (body === undefined) {
    sendJsonRpcError(res, 413, -32000, `Payload Too Large: Request body must not exceed ${MAX_BODY_BYTES} bytes`, { connection: 'close' });
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    sendJsonRpcError(res, 400, -32700, 'Parse error: Invalid JSON');
    return undefined;
  }
  const batch = Array.isArray(parsed);
  return { body, batch, messages: batch ? parsed as unknown[] : [parsed] };
}
