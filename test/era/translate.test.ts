import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  answerStatus, canAskInput, checkRequestHeaders, decodeHeaderValue, discoverResult, honouredFilter, isModernMessage, isModernVersion, legacyInitialize, legacyRequest, listenAcknowledgment,
  modernResponse, nestsDeeper, readInitializeResult, readRequestMeta, readRetry, requestSubject, sandboxKey, tagNotification, type RequestMeta,
} from '../../src/era/translate.js';

const V = 'io.modelcontextprotocol/protocolVersion';
const INFO = 'io.modelcontextprotocol/clientInfo';
const CAPS = 'io.modelcontextprotocol/clientCapabilities';
const META = { [V]: '2026-07-28', [INFO]: { name: 'c', version: '1' }, [CAPS]: { sampling: {} } };
const meta = (over: Partial<RequestMeta> = {}): RequestMeta => ({ protocolVersion: '2026-07-28', clientInfo: { name: 'c', version: '1' }, capabilities: { sampling: {} }, logLevel: undefined, ...over });

const era = suite('isModernMessage / isModernVersion');

for (const [title, msg, modern] of [
  ['server/discover', { jsonrpc: '2.0', id: 1, method: 'server/discover' }, true],
  ['subscriptions/listen', { jsonrpc: '2.0', id: 1, method: 'subscriptions/listen', params: {} }, true],
  ['a request with a modern version in _meta', { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: META } }, true],
  ['initialize, whatever its _meta', { jsonrpc: '2.0', id: 1, method: 'initialize', params: { _meta: META } }, false],
  ['a legacy request', { jsonrpc: '2.0', id: 1, method: 'tools/list' }, false],
  ['a request naming a legacy version in _meta', { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { [V]: '2025-11-25' } } }, false],
  ['a response', { jsonrpc: '2.0', id: 1, result: {} }, false],
  ['not an object', 'server/discover', false],
] as const) {
  era(`${modern ? 'takes' : 'does not take'} ${title} for modern`, () => assert.is(isModernMessage(msg), modern));
}

era('knows the modern versions by date', () => {
  assert.ok(isModernVersion('2026-07-28'));
  assert.ok(isModernVersion('2027-01-01'));
  assert.not.ok(isModernVersion('2025-11-25'));
  assert.not.ok(isModernVersion('2026-7-28'));
  assert.not.ok(isModernVersion(undefined));
});

era.run();

const metas = suite('readRequestMeta');

metas('reads version, client info, capabilities and log level', () => {
  assert.equal(readRequestMeta({ params: { _meta: { ...META, 'io.modelcontextprotocol/logLevel': 'info' } } }), meta({ logLevel: 'info' }));
});

for (const [title, version] of [['a missing version', undefined], ['an unknown version', '2099-01-01'], ['a legacy version', '2025-11-25']] as const) {
  metas(`answers ${title} with UnsupportedProtocolVersion (-32022) and the supported list`, () => {
    const read = readRequestMeta({ params: { _meta: { ...META, [V]: version } } });
    assert.ok('error' in read);
    assert.is(read.error.code, -32022);
    assert.equal((read.error.data as { supported: string[] }).supported, ['2026-07-28']);
  });
}

metas.run();

const keys = suite('sandboxKey');

keys('is equal for equal requests, whatever the key order', () => {
  assert.is(sandboxKey('t', meta({ capabilities: { a: {}, b: { x: 1, y: 2 } } })), sandboxKey('t', meta({ capabilities: { b: { y: 2, x: 1 }, a: {} } })));
});

for (const [title, other] of [
  ['the credential', (): string => sandboxKey('u', meta())],
  ['the client name', (): string => sandboxKey('t', meta({ clientInfo: { name: 'd', version: '1' } }))],
  ['the capabilities', (): string => sandboxKey('t', meta({ capabilities: { elicitation: {} } }))],
  ['the version', (): string => sandboxKey('t', meta({ protocolVersion: '2026-07-29' }))],
] as const) {
  keys(`differs with ${title}`, () => assert.is.not(other(), sandboxKey('t', meta())));
}

keys('does not depend on the log level (it is per request)', () => {
  assert.is(sandboxKey('t', meta({ logLevel: 'debug' })), sandboxKey('t', meta()));
});

keys.run();

const translate = suite('legacy messages from modern ones and back');

translate('initialize carries the request\'s client info and capabilities, at the legacy version, without extensions', () => {
  assert.equal(legacyInitialize('i', meta({ capabilities: { sampling: {}, extensions: { x: {} } } }), { name: 'fallback', version: '0' }), {
    jsonrpc: '2.0', id: 'i', method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: { sampling: {} }, clientInfo: { name: 'c', version: '1' } },
  });
  assert.equal((legacyInitialize('i', meta({ clientInfo: undefined }), { name: 'fallback', version: '0' }).params as { clientInfo: unknown }).clientInfo, { name: 'fallback', version: '0' });
});

translate('a request loses the reserved _meta keys and the MRTR fields, keeps its progress token, and gets the legacy id', () => {
  const msg = { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'x', arguments: { a: 1 }, _meta: { ...META, progressToken: 3 }, requestState: 's', inputResponses: {} } };
  assert.equal(legacyRequest(msg, 'mcp-lok-1'), { jsonrpc: '2.0', id: 'mcp-lok-1', method: 'tools/call', params: { name: 'x', arguments: { a: 1 }, _meta: { progressToken: 3 } } });
  assert.equal(legacyRequest({ id: 1, method: 'tools/list', params: { _meta: META } }, 2), { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} });
});

for (const [method, cacheable] of [['tools/list', true], ['resources/read', true], ['tools/call', false]] as const) {
  translate(`a ${method} result gets resultType${cacheable ? ', ttlMs 0 and cacheScope private' : ' only'}, the modern id and the server's identity`, () => {
    const out = modernResponse(method, { jsonrpc: '2.0', id: 'mcp-lok-1', result: { items: [] } }, 9, { name: 's', version: '1' });
    const extra = cacheable ? { ttlMs: 0, cacheScope: 'private' } : {};
    assert.equal(out, { jsonrpc: '2.0', id: 9, result: { items: [], resultType: 'complete', ...extra, _meta: { 'io.modelcontextprotocol/serverInfo': { name: 's', version: '1' } } } });
  });
}

translate('an error response keeps its error and gets the modern id', () => {
  assert.equal(modernResponse('tools/call', { id: 'x', error: { code: -32602, message: 'bad' } }, 4, undefined), { jsonrpc: '2.0', id: 4, error: { code: -32602, message: 'bad' } });
});

translate('discover comes from the initialize result', () => {
  const server = readInitializeResult({ result: { protocolVersion: '2025-11-25', capabilities: { tools: { listChanged: true } }, serverInfo: { name: 's', version: '2' }, instructions: 'hi' } });
  assert.ok(!('error' in server));
  assert.equal(discoverResult(server), {
    resultType: 'complete', supportedVersions: ['2026-07-28'], capabilities: { tools: { listChanged: true } }, instructions: 'hi', ttlMs: 0, cacheScope: 'private',
    _meta: { 'io.modelcontextprotocol/serverInfo': { name: 's', version: '2' } },
  });
  assert.ok('error' in readInitializeResult({ error: { code: -1, message: 'no' } }));
});

translate.run();

const input = suite('input_required');

for (const [client, server, caps, ok] of [
  ['tools/call', 'sampling/createMessage', { sampling: {} }, true],
  ['prompts/get', 'elicitation/create', { elicitation: {} }, true],
  ['resources/read', 'roots/list', { roots: {} }, true],
  ['tools/call', 'elicitation/create', { sampling: {} }, false],
  ['tools/list', 'sampling/createMessage', { sampling: {} }, false],
  ['tools/call', 'ping', {}, false],
] as const) {
  input(`${ok ? 'asks' : 'does not ask'} the client for ${server} during ${client} with ${JSON.stringify(caps)}`, () => assert.is(canAskInput(client, server, caps), ok));
}

input('reads a retry, and binds a state to the method and name', () => {
  assert.equal(readRetry({ params: { requestState: 's', inputResponses: { a: { action: 'accept' } } } }), { requestState: 's', inputResponses: { a: { action: 'accept' } } });
  assert.is(readRetry({ params: { name: 'x' } }), undefined);
  assert.is(requestSubject({ method: 'tools/call', params: { name: 'x' } }), 'tools/call x');
  assert.is(requestSubject({ method: 'resources/read', params: { uri: 'file:///a' } }), 'resources/read file:///a');
});

input.run();

const listen = suite('subscriptions/listen');

listen('honours only the list changes the legacy server announces, and never resource subscriptions', () => {
  const msg = { params: { notifications: { toolsListChanged: true, promptsListChanged: true, resourcesListChanged: true, resourceSubscriptions: ['file:///a'] } } };
  assert.equal(honouredFilter(msg, { tools: { listChanged: true }, prompts: {}, resources: { listChanged: true, subscribe: true } }), { toolsListChanged: true, resourcesListChanged: true });
});

listen('acknowledges and tags with the subscription id', () => {
  assert.equal(listenAcknowledgment(5, { toolsListChanged: true }), { jsonrpc: '2.0', method: 'notifications/subscriptions/acknowledged', params: { _meta: { 'io.modelcontextprotocol/subscriptionId': 5 }, notifications: { toolsListChanged: true } } });
  assert.equal(tagNotification({ method: 'notifications/tools/list_changed' }, 5), { jsonrpc: '2.0', method: 'notifications/tools/list_changed', params: { _meta: { 'io.modelcontextprotocol/subscriptionId': 5 } } });
});

listen.run();

const headers = suite('checkRequestHeaders');
const CALL = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { _meta: META, name: 'echo' } };
const GOOD = { version: '2026-07-28', method: 'tools/call', name: 'echo' };

headers('accepts headers that match the body, a Base64 sentinel name decoded', () => {
  assert.is(checkRequestHeaders(CALL, GOOD), undefined);
  assert.is(checkRequestHeaders(CALL, { ...GOOD, name: `=?base64?${Buffer.from('echo').toString('base64')}?=` }), undefined);
  assert.is(checkRequestHeaders({ id: 1, method: 'tools/list', params: { _meta: META } }, { ...GOOD, method: 'tools/list', name: undefined }), undefined);
  assert.is(checkRequestHeaders({ id: 1, method: 'resources/read', params: { _meta: META, uri: 'file:///a' } }, { ...GOOD, method: 'resources/read', name: 'file:///a' }), undefined);
});

for (const [title, over] of [
  ['a missing version', { version: undefined }],
  ['another version', { version: '2026-07-29' }],
  ['a missing method', { method: undefined }],
  ['another method', { method: 'tools/list' }],
  ['a missing name', { name: undefined }],
  ['another name', { name: 'whoami' }],
] as const) {
  headers(`refuses ${title} with HeaderMismatch (-32020)`, () => assert.is(checkRequestHeaders(CALL, { ...GOOD, ...over })?.code, -32020));
}

headers('decodes only the exact sentinel form', () => {
  assert.is(decodeHeaderValue('=?base64?SGVsbG8sIOS4lueVjA==?='), 'Hello, 世界');
  assert.is(decodeHeaderValue('plain'), 'plain');
  assert.is(decodeHeaderValue('=?BASE64?eA==?='), '=?BASE64?eA==?=');
});

headers('gives 400 for version and header errors, 404 for an unknown method, 200 otherwise', () => {
  assert.is(answerStatus('{"jsonrpc":"2.0","id":1,"error":{"code":-32022,"message":"x"}}'), 400);
  assert.is(answerStatus('{"jsonrpc":"2.0","id":1,"error":{"code":-32020,"message":"x"}}'), 400);
  assert.is(answerStatus('{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"x"}}'), 404);
  assert.is(answerStatus('{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"x"}}'), 200);
  assert.is(answerStatus('{"jsonrpc":"2.0","id":1,"result":{"error":1}}'), 200);
});

headers.run();

const depth = suite('nestsDeeper');
for (const [title, value, max, deeper] of [
  ['a scalar', 1, 0, false],
  ['an empty object at its limit', {}, 1, false],
  ['an object past its limit', { a: {} }, 1, true],
  ['arrays count as levels', [[[1]]], 3, false],
  ['arrays past the limit', [[[[]]]], 3, true],
  ['a wide flat object', Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i])), 1, false],
  ['100 000 levels, without overflowing the stack', JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`), 256, true],
] as const) {
  depth(`${title}: ${deeper ? 'deeper' : 'not deeper'} than ${max}`, () => assert.is(nestsDeeper(value, max), deeper));
}

depth.run();

