// MCP 2026-07-28 (modern: stateless, `_meta` on each request) in front of a 2025-era
// (legacy: `initialize` first) stdio server, as data: what a modern client's message means,
// the legacy messages that serve it, and the modern answers. No I/O; see gateway.ts.
import { createHash } from 'node:crypto';

/** The modern revisions the era gateway serves. */
export const MODERN_VERSIONS: readonly string[] = ['2026-07-28'];
/** The revision the gateway speaks to the legacy server. */
export const LEGACY_VERSION = '2025-11-25';

export const META_PROTOCOL_VERSION = 'io.modelcontextprotocol/protocolVersion';
export const META_CLIENT_INFO = 'io.modelcontextprotocol/clientInfo';
export const META_CLIENT_CAPABILITIES = 'io.modelcontextprotocol/clientCapabilities';
export const META_LOG_LEVEL = 'io.modelcontextprotocol/logLevel';
export const META_SERVER_INFO = 'io.modelcontextprotocol/serverInfo';
export const META_SUBSCRIPTION_ID = 'io.modelcontextprotocol/subscriptionId';
const RESERVED_META = [META_PROTOCOL_VERSION, META_CLIENT_INFO, META_CLIENT_CAPABILITIES, META_LOG_LEVEL];

/** JSON-RPC codes the gateway answers with (2026-07-28: -32022 is UnsupportedProtocolVersion). */
export const INVALID_PARAMS = -32602;
export const INTERNAL_ERROR = -32603;
export const METHOD_NOT_FOUND = -32601;
export const UNSUPPORTED_PROTOCOL_VERSION = -32022;
export const HEADER_MISMATCH = -32020;

/** The methods whose results carry caching hints on 2026-07-28. */
const CACHEABLE = new Set(['server/discover', 'tools/list', 'prompts/list', 'resources/list', 'resources/templates/list', 'resources/read']);
/** The requests that may answer `input_required`, and the server-to-client requests it can carry, with the capability each needs. */
const INPUT_REQUIRED_METHODS = new Set(['tools/call', 'prompts/get', 'resources/read']);
const INPUT_CAPABILITY: Record<string, string> = { 'elicitation/create': 'elicitation', 'sampling/createMessage': 'sampling', 'roots/list': 'roots' };

export type Id = string | number;
export type Json = Record<string, unknown>;
export interface Message { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown; result?: unknown; error?: unknown }

/** What a modern request says about its client: the values the legacy `initialize` needs. */
export interface RequestMeta {
  protocolVersion: string;
  clientInfo: Json | undefined;
  capabilities: Json;
  logLevel: string | undefined;
}

/** A JSON-RPC error the gateway sends instead of an answer from the server. */
export interface RpcError { code: number; message: string; data?: unknown }

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function metaOf(msg: Message): Json | undefined {
  const params = msg.params;
  return isObject(params) && isObject(params._meta) ? params._meta : undefined;
}

/** Returns true for a revision of the modern (stateless) era: 2026-07-28 or later. */
export function isModernVersion(version: unknown): boolean {
  return typeof version === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(version) && version >= '2026-07-28';
}

/**
 * Returns true when a client message belongs to the modern era: `server/discover`,
 * `subscriptions/listen`, or any request whose `_meta` names a modern protocol version.
 * `initialize` never does, so a legacy client is never taken for a modern one.
 */
export function isModernMessage(msg: unknown): boolean {
  if (!isObject(msg) || typeof msg.method !== 'string' || msg.method === 'initialize') return false;
  if (msg.method === 'server/discover' || msg.method === 'subscriptions/listen') return true;
  return isModernVersion(metaOf(msg)?.[META_PROTOCOL_VERSION]);
}

/** Reads a modern request's `_meta`, or returns the error to answer (UnsupportedProtocolVersion for a missing or unknown version). */
export function readRequestMeta(msg: Message): RequestMeta | { error: RpcError } {
  const meta = metaOf(msg) ?? {};
  const version = meta[META_PROTOCOL_VERSION];
  if (typeof version !== 'string' || !MODERN_VERSIONS.includes(version)) {
    return { error: { code: UNSUPPORTED_PROTOCOL_VERSION, message: `Unsupported protocol version: ${typeof version === 'string' ? version : 'none given in _meta'}`, data: { supported: [...MODERN_VERSIONS], requested: version ?? null } } };
  }
  const caps = meta[META_CLIENT_CAPABILITIES];
  const info = meta[META_CLIENT_INFO];
  const level = meta[META_LOG_LEVEL];
  return { protocolVersion: version, clientInfo: isObject(info) ? info : undefined, capabilities: isObject(caps) ? caps : {}, logLevel: typeof level === 'string' ? level : undefined };
}

/** Messages nested deeper than this are refused: serializing them again would overflow the stack. */
export const MAX_DEPTH = 256;

/** Returns true when `value` has more than `max` levels of objects and arrays (walked without recursion). */
export function nestsDeeper(value: unknown, max: number): boolean {
  const stack: Array<[value: unknown, depth: number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
  }
  return false;
}

/** Canonical JSON: object keys sorted, so equal values give equal text. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isObject(value)) return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  return JSON.stringify(value) ?? 'null';
}

/**
 * Returns the key of the legacy sandboxes a modern request may use: a hash of the credential
 * it came with and everything the legacy `initialize` was told (version, client info,
 * capabilities). Requests share an initialized sandbox only when all of these are equal.
 */
export function sandboxKey(credential: string, meta: RequestMeta): string {
  return createHash('sha256').update(canonical([credential, meta.protocolVersion, meta.clientInfo ?? null, meta.capabilities])).digest('hex');
}

/** Returns the legacy `initialize` request for a modern request's client. */
export function legacyInitialize(id: Id, meta: RequestMeta, fallbackClientInfo: Json): Json {
  const { extensions: _extensions, ...capabilities } = meta.capabilities;
  return { jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: LEGACY_VERSION, capabilities, clientInfo: meta.clientInfo ?? fallbackClientInfo } };
}

/** The parts of a legacy `initialize` result that a modern client asks for. */
export interface ServerIdentity { capabilities: Json; serverInfo: Json | undefined; instructions: string | undefined }

/** Reads a legacy `initialize` response; an error response or a result without capabilities gives an RpcError. */
export function readInitializeResult(msg: Message): ServerIdentity | { error: RpcError } {
  if (isObject(msg.error)) return { error: { code: INTERNAL_ERROR, message: `the server refused to initialize: ${String(msg.error.message ?? 'no message')}` } };
  const result = msg.result;
  if (!isObject(result)) return { error: { code: INTERNAL_ERROR, message: 'the server answered initialize without a result' } };
  return {
    capabilities: isObject(result.capabilities) ? result.capabilities : {},
    serverInfo: isObject(result.serverInfo) ? result.serverInfo : undefined,
    instructions: typeof result.instructions === 'string' ? result.instructions : undefined,
  };
}

/** Returns the `server/discover` result for a legacy server's identity (not cached by clients: ttlMs 0, private). */
export function discoverResult(server: ServerIdentity): Json {
  return {
    resultType: 'complete', supportedVersions: [...MODERN_VERSIONS], capabilities: server.capabilities,
    ...(server.instructions !== undefined ? { instructions: server.instructions } : {}),
    ttlMs: 0, cacheScope: 'private',
    _meta: server.serverInfo ? { [META_SERVER_INFO]: server.serverInfo } : {},
  };
}

/**
 * Returns a modern request as the legacy server gets it: its own id, and `_meta` without the
 * era's reserved keys (progress tokens and trace context stay), and without the MRTR fields.
 */
export function legacyRequest(msg: Message, legacyId: Id): Json {
  const out: Json = { jsonrpc: '2.0', id: legacyId, method: msg.method };
  if (isObject(msg.params)) {
    const { _meta, inputResponses: _r, requestState: _s, ...rest } = msg.params;
    const params: Json = { ...rest };
    if (isObject(_meta)) {
      const kept = Object.fromEntries(Object.entries(_meta).filter(([k]) => !RESERVED_META.includes(k)));
      if (Object.keys(kept).length > 0) params._meta = kept;
    }
    out.params = params;
  }
  return out;
}

/** Returns the modern answer to `method` from the legacy server's response: `resultType`, caching hints, and the server's identity. */
export function modernResponse(method: string, legacy: Message, modernId: Id, serverInfo: Json | undefined): Json {
  if (isObject(legacy.error) || !isObject(legacy.result)) {
    return { jsonrpc: '2.0', id: modernId, error: isObject(legacy.error) ? legacy.error : { code: INTERNAL_ERROR, message: 'the server answered without a result' } };
  }
  const result: Json = { ...legacy.result };
  result.resultType ??= 'complete';
  if (CACHEABLE.has(method)) {
    if (typeof result.ttlMs !== 'number' || result.ttlMs < 0) result.ttlMs = 0;
    if (result.cacheScope !== 'public' && result.cacheScope !== 'private') result.cacheScope = 'private';
  }
  if (serverInfo !== undefined) result._meta = { ...(isObject(result._meta) ? result._meta : {}), [META_SERVER_INFO]: serverInfo };
  return { jsonrpc: '2.0', id: modernId, result };
}

/** Returns a JSON-RPC error response. */
export function errorResponse(id: Id | null, error: RpcError): Json {
  return { jsonrpc: '2.0', id, error };
}

/**
 * Returns whether a server-to-client request from the legacy server can be put to the modern
 * client as an input request: the client's request supports `input_required` and the client
 * declared the capability the request needs.
 */
export function canAskInput(clientMethod: string, serverMethod: string, capabilities: Json): boolean {
  const capability = INPUT_CAPABILITY[serverMethod];
  return capability !== undefined && INPUT_REQUIRED_METHODS.has(clientMethod) && isObject(capabilities[capability]);
}

/** Returns an `input_required` result. */
export function inputRequiredResult(id: Id, inputRequests: Record<string, { method: string; params?: unknown }>, requestState: string): Json {
  return { jsonrpc: '2.0', id, result: { resultType: 'input_required', inputRequests, requestState } };
}

/** Reads a retry's `requestState` and `inputResponses`; undefined when the request is no retry. */
export function readRetry(msg: Message): { requestState: string; inputResponses: Json } | undefined {
  const params = msg.params;
  if (!isObject(params) || params.requestState === undefined) return undefined;
  return { requestState: String(params.requestState), inputResponses: isObject(params.inputResponses) ? params.inputResponses : {} };
}

/** What a request is about, for binding a requestState to it: its method and the name or uri it names. */
export function requestSubject(msg: Message): string {
  const params = isObject(msg.params) ? msg.params : {};
  const name = typeof params.name === 'string' ? params.name : typeof params.uri === 'string' ? params.uri : '';
  return `${String(msg.method)} ${name}`;
}

/** The `subscriptions/listen` filter fields the gateway can honour, with the server capability each needs. */
const LISTEN_FIELDS: Array<[field: string, capability: string, method: string]> = [
  ['toolsListChanged', 'tools', 'notifications/tools/list_changed'],
  ['promptsListChanged', 'prompts', 'notifications/prompts/list_changed'],
  ['resourcesListChanged', 'resources', 'notifications/resources/list_changed'],
];

/**
 * Returns the part of a `subscriptions/listen` filter the legacy server can deliver (a list
 * changes only when its capability says `listChanged`). Resource subscriptions are not
 * honoured: they are left out of the acknowledgment, as the spec allows.
 */
export function honouredFilter(msg: Message, capabilities: Json): Json {
  const params = isObject(msg.params) ? msg.params : {};
  const asked = isObject(params.notifications) ? params.notifications : {};
  const honoured: Json = {};
  for (const [field, capability] of LISTEN_FIELDS) {
    const cap = capabilities[capability];
    if (asked[field] === true && isObject(cap) && cap.listChanged === true) honoured[field] = true;
  }
  return honoured;
}

/** Returns the method names a honoured filter lets through. */
export function listenMethods(honoured: Json): Set<string> {
  return new Set(LISTEN_FIELDS.filter(([field]) => honoured[field] === true).map(([, , method]) => method));
}

/** Returns the acknowledgment a `subscriptions/listen` stream starts with. */
export function listenAcknowledgment(subscriptionId: Id, honoured: Json): Json {
  return { jsonrpc: '2.0', method: 'notifications/subscriptions/acknowledged', params: { _meta: { [META_SUBSCRIPTION_ID]: subscriptionId }, notifications: honoured } };
}

/** Returns a notification tagged with the subscription it is delivered on. */
export function tagNotification(msg: Message, subscriptionId: Id): Json {
  const params = isObject(msg.params) ? msg.params : {};
  const meta = isObject(params._meta) ? params._meta : {};
  return { jsonrpc: '2.0', method: msg.method, params: { ...params, _meta: { ...meta, [META_SUBSCRIPTION_ID]: subscriptionId } } };
}

/** Returns the result that ends a `subscriptions/listen` stream gracefully. */
export function listenClosed(subscriptionId: Id): Json {
  return { jsonrpc: '2.0', id: subscriptionId, result: { resultType: 'complete', _meta: { [META_SUBSCRIPTION_ID]: subscriptionId } } };
}

/** Decodes a header value in the Base64 sentinel form (`=?base64?...?=`); other values are returned as they are. */
export function decodeHeaderValue(value: string): string {
  if (!value.startsWith('=?base64?') || !value.endsWith('?=') || value.length < 11) return value;
  return Buffer.from(value.slice(9, -2), 'base64').toString('utf8');
}

/**
 * Checks the standard headers of a modern HTTP request against its body, as a 2026-07-28
 * server must (a proxy routing on a header must not be fooled by a different body): the
 * protocol version, `Mcp-Method`, and `Mcp-Name` for the calls that name a tool, prompt or
 * resource. Returns the HeaderMismatch (-32020) error, or undefined.
 */
export function checkRequestHeaders(msg: Message, headers: { version: string | undefined; method: string | undefined; name: string | undefined }): RpcError | undefined {
  const mismatch = (message: string): RpcError => ({ code: HEADER_MISMATCH, message: `Header mismatch: ${message}` });
  const bodyVersion = metaOf(msg)?.[META_PROTOCOL_VERSION];
  if (headers.version === undefined) return mismatch('the MCP-Protocol-Version header is missing');
  if (headers.version !== bodyVersion) return mismatch(`MCP-Protocol-Version header value '${headers.version}' does not match body value '${String(bodyVersion)}'`);
  if (headers.method === undefined) return mismatch('the Mcp-Method header is missing');
  if (headers.method !== msg.method) return mismatch(`Mcp-Method header value '${headers.method}' does not match body value '${String(msg.method)}'`);
  if (typeof msg.method === 'string' && NAMED_METHODS.has(msg.method)) {
    const params = isObject(msg.params) ? msg.params : {};
    const bodyName = msg.method === 'resources/read' ? params.uri : params.name;
    if (headers.name === undefined) return mismatch('the Mcp-Name header is missing');
    const name = decodeHeaderValue(headers.name);
    if (name !== bodyName) return mismatch(`Mcp-Name header value '${name}' does not match body value '${String(bodyName)}'`);
  }
  return undefined;
}

const NAMED_METHODS = new Set(['tools/call', 'resources/read', 'prompts/get']);

/** The HTTP status of a modern answer: 400 for a version or header error, 404 for an unknown method, else 200. */
export function answerStatus(line: string): number {
  if (!line.includes('"error"')) return 200;
  try {
    const code = (JSON.parse(line) as { error?: { code?: unknown } }).error?.code;
    return code === UNSUPPORTED_PROTOCOL_VERSION || code === HEADER_MISMATCH ? 400 : code === METHOD_NOT_FOUND ? 404 : 200;
  } catch {
    return 200;
  }
}
