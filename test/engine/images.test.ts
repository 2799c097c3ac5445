// The streaming image endpoints, without an engine: the pure request builders, the progress
// stream parser, and the requests themselves against a small HTTP listener of the test's own
// (on a Unix socket and on loopback TCP) standing in for the engine's API.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { EngineEndpoint } from '../../src/engine/endpoint.js';
import { EngineHttpError, engineStream } from '../../src/engine/http.js';
import {
  buildImage, buildPath, followEngineStream, importImage, importPath, parseImageRef, pullImage, pullPath, pushPath, type EngineStreamEvent,
} from '../../src/engine/images.js';

const ref = suite('parseImageRef');

for (const [input, repository, tag] of [
  ['node:24-alpine', 'node', '24-alpine'],
  ['node', 'node', 'latest'],
  ['registry.mcp-lok.test/org/server:1.0', 'registry.mcp-lok.test/org/server', '1.0'],
  ['localhost:5000/team/app', 'localhost:5000/team/app', 'latest'],
  ['localhost:5000/team/app:v2', 'localhost:5000/team/app', 'v2'],
  [`node@sha256:${'a'.repeat(64)}`, 'node', `sha256:${'a'.repeat(64)}`],
  [`localhost:5000/app:v1@sha256:${'b'.repeat(64)}`, 'localhost:5000/app:v1', `sha256:${'b'.repeat(64)}`],
] as const) {
  ref(`reads ${input}`, () => {
    assert.equal(parseImageRef(input), { repository, tag });
  });
}

ref.run();

const paths = suite('pullPath, buildPath, importPath');
const query = (path: string): URLSearchParams => new URLSearchParams(path.slice(path.indexOf('?') + 1));

paths('pulls by repository and tag', () => {
  const path = pullPath('localhost:5000/team/app:v2');
  assert.ok(path.startsWith('/images/create?'), path);
  assert.equal([...query(path)], [['fromImage', 'localhost:5000/team/app'], ['tag', 'v2']]);
});

paths('pushes by repository, registry host and port included, and tag (latest when none)', () => {
  assert.is(pushPath('localhost:5000/team/app:v2'), '/images/localhost:5000/team/app/push?tag=v2');
  assert.is(pushPath('127.0.0.1:5000/memory'), '/images/127.0.0.1:5000/memory/push?tag=latest');
});

paths('builds with the tag, Dockerfile, build args and labels as JSON, and removes intermediate containers', () => {
  const path = buildPath({ tag: 'mcp-lok/sandbox:abc', dockerfile: 'Dockerfile.node-alpine', buildArgs: { BASE: 'node:24-alpine' }, labels: { 'mcp-lok': 'true', 'mcp-lok-base': 'a b&c' } });
  assert.ok(path.startsWith('/build?'), path);
  const q = query(path);
  assert.is(q.get('t'), 'mcp-lok/sandbox:abc');
  assert.is(q.get('dockerfile'), 'Dockerfile.node-alpine');
  assert.equal(JSON.parse(q.get('buildargs') ?? ''), { BASE: 'node:24-alpine' });
  assert.equal(JSON.parse(q.get('labels') ?? ''), { 'mcp-lok': 'true', 'mcp-lok-base': 'a b&c' });
  assert.is(q.get('rm'), 'true');
  assert.is(q.get('forcerm'), 'true');
});

paths('leaves out build args and labels that were not given', () => {
  const q = query(buildPath({ tag: 't:1', dockerfile: 'Dockerfile' }));
  assert.is(q.has('buildargs'), false);
  assert.is(q.has('labels'), false);
});

paths('imports from the request body, with each change as its own parameter', () => {
  const path = importPath({ repo: 'mcp-lok/node-local:abc', changes: ['ENV PATH=/usr/bin:/bin', 'CMD ["node"]', 'LABEL mcp-lok=true'] });
  assert.ok(path.startsWith('/images/create?'), path);
  const q = query(path);
  assert.is(q.get('fromSrc'), '-');
  assert.is(q.get('repo'), 'mcp-lok/node-local:abc');
  assert.is(q.has('tag'), false);
  assert.equal(q.getAll('changes'), ['ENV PATH=/usr/bin:/bin', 'CMD ["node"]', 'LABEL mcp-lok=true']);
  assert.is(query(importPath({ repo: 'r', tag: 't' })).get('tag'), 't');
});

paths.run();

const follow = suite('followEngineStream');

/** Feeds chunks to followEngineStream and returns the events seen and how it settled. */
async function feed(chunks: string[], end: 'end' | 'close' = 'end'): Promise<{ events: EngineStreamEvent[]; error?: Error }> {
  const stream = new PassThrough();
  const events: EngineStreamEvent[] = [];
  const done = followEngineStream(stream, (e) => events.push(e));
  for (const chunk of chunks) stream.write(chunk);
  if (end === 'end') stream.end(); else stream.destroy();
  try {
    await done;
    return { events };
  } catch (error) {
    return { events, error: error as Error };
  }
}

follow('passes each event on, whatever the chunk boundaries', async () => {
  const { events, error } = await feed(['{"status":"Pulling fs layer","id":"a1"}\n{"stat', 'us":"Pull complete","id":"a1"}\r\n', '\n', '{"stream":"Step 1/2"}']);
  assert.is(error, undefined);
  assert.equal(events, [{ status: 'Pulling fs layer', id: 'a1' }, { status: 'Pull complete', id: 'a1' }, { stream: 'Step 1/2' }]);
});

follow('skips lines that are not JSON', async () => {
  const { events, error } = await feed(['not json\n{"status":"ok"}\n']);
  assert.is(error, undefined);
  assert.equal(events, [{ status: 'ok' }]);
});

follow('rejects with the message of an error event, and passes nothing after it', async () => {
  const { events, error } = await feed(['{"stream":"Step 2/2 : RUN exit 3"}\n', '{"errorDetail":{"code":3,"message":"The command \'/bin/sh -c exit 3\' returned a non-zero code: 3"},"error":"other words"}\n', '{"stream":"after"}\n']);
  assert.equal(events, [{ stream: 'Step 2/2 : RUN exit 3' }]);
  assert.is(error?.message, 'The command \'/bin/sh -c exit 3\' returned a non-zero code: 3');
});

follow('rejects with `error` when an event has no errorDetail', async () => {
  const { error } = await feed(['{"error":"manifest unknown\\n"}\n']);
  assert.is(error?.message, 'manifest unknown');
});

follow('skips JSON lines that are not objects (null, numbers, lists) instead of throwing from the stream', async () => {
  const { events, error } = await feed(['null\n', '7\n', '"text"\n', '[1]\n', '{"status":"ok"}\n']);
  assert.is(error, undefined);
  assert.equal(events, [{ status: 'ok' }]);
});

follow('rejects when the engine hangs up before the end of the stream', async () => {
  const { error } = await feed(['{"status":"Downloading"}\n'], 'close');
  assert.match(error?.message ?? '', /closed the connection early/);
});

follow.run();

/** A listener standing in for the engine: it records each request and answers as told. */
interface Recorded { method: string; url: string; headers: http.IncomingHttpHeaders; body: Buffer }
function fakeEngine(answer: (req: Recorded, res: http.ServerResponse) => void): { server: http.Server; seen: Recorded[] } {
  const seen: Recorded[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      seen.push(recorded);
      answer(recorded, res);
    });
  });
  return { server, seen };
}

const progress = (...events: object[]): string => events.map((e) => `${JSON.stringify(e)}\r\n`).join('');
const answerJson = (res: http.ServerResponse, status: number, body: string): void => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(body);
};

const dirs: string[] = [];
const listeners: http.Server[] = [];

/** Starts the fake engine on a Unix socket or on 127.0.0.1 and returns its endpoint. */
async function listen(server: http.Server, kind: 'unix' | 'tcp', apiVersion?: string): Promise<EngineEndpoint> {
  listeners.push(server);
  if (kind === 'unix') {
    const dir = mkdtempSync(join(tmpdir(), 'mcp-lok-engine-test-'));
    dirs.push(dir);
    const socketPath = join(dir, 'engine.sock');
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    return { kind: 'unix', socketPath, source: 'test', ...(apiVersion ? { apiVersion } : {}) };
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { kind: 'tcp', host: '127.0.0.1', port: (server.address() as AddressInfo).port, tls: false, source: 'test', ...(apiVersion ? { apiVersion } : {}) };
}

const requests = suite('pullImage, buildImage, importImage');
requests.after(async () => {
  for (const server of listeners) await new Promise((resolve) => server.close(resolve));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

for (const kind of ['unix', 'tcp'] as const) {
  requests(`pulls over ${kind} with the negotiated API version and passes the progress on`, async () => {
    const { server, seen } = fakeEngine((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(progress({ status: 'Pulling from team/app', id: 'v2' }));
      setTimeout(() => res.end(progress({ status: 'Pull complete', id: 'abc' }, { status: 'Status: Downloaded newer image for localhost:5000/team/app:v2' })), 10);
    });
    const endpoint = await listen(server, kind, '1.41');
    const events: EngineStreamEvent[] = [];
    await pullImage(endpoint, 'localhost:5000/team/app:v2', (e) => events.push(e));
    assert.is(seen[0]?.method, 'POST');
    assert.is(seen[0]?.url, `/v1.41${pullPath('localhost:5000/team/app:v2')}`);
    assert.equal(events.map((e) => e.status), ['Pulling from team/app', 'Pull complete', 'Status: Downloaded newer image for localhost:5000/team/app:v2']);
  });

  requests(`builds over ${kind}: the tar context is the body, sent as application/x-tar`, async () => {
    const { server, seen } = fakeEngine((_req, res) => answerJson(res, 200, progress({ stream: 'Step 1/1 : FROM scratch\n' }, { aux: { ID: 'sha256:1' } }, { stream: 'Successfully tagged t:1\n' })));
    const endpoint = await listen(server, kind);
    const context = Buffer.from('a tar, byte for byte');
    const events: EngineStreamEvent[] = [];
    await buildImage(endpoint, context, { tag: 't:1', dockerfile: 'Dockerfile' }, (e) => events.push(e));
    assert.is(seen[0]?.url, buildPath({ tag: 't:1', dockerfile: 'Dockerfile' }));
    assert.is(seen[0]?.headers['content-type'], 'application/x-tar');
    assert.is(seen[0]?.headers['content-length'], String(context.length));
    assert.ok(seen[0]?.body.equals(context));
    assert.equal(events.map((e) => e.stream ?? 'aux'), ['Step 1/1 : FROM scratch\n', 'aux', 'Successfully tagged t:1\n']);
  });

  requests(`imports over ${kind}: a streamed body arrives whole`, async () => {
    const { server, seen } = fakeEngine((_req, res) => answerJson(res, 200, progress({ status: 'sha256:feed' })));
    const endpoint = await listen(server, kind, '1.47');
    const parts = [Buffer.alloc(70_000, 1), Buffer.alloc(5, 2)];
    await importImage(endpoint, Readable.from(parts), { repo: 'r:1', changes: ['CMD ["node"]'] });
    assert.is(seen[0]?.url, `/v1.47${importPath({ repo: 'r:1', changes: ['CMD ["node"]'] })}`);
    assert.ok(seen[0]?.body.equals(Buffer.concat(parts)));
  });
}

requests('rejects with the engine\'s message and status when it answers with an error', async () => {
  const { server } = fakeEngine((_req, res) => answerJson(res, 404, '{"message":"pull access denied for nothing, repository does not exist"}\n'));
  const endpoint = await listen(server, 'unix');
  try {
    await pullImage(endpoint, 'nothing', () => {});
    assert.unreachable('pulled');
  } catch (error) {
    assert.instance(error, EngineHttpError);
    assert.is((error as EngineHttpError).status, 404);
    assert.is((error as Error).message, 'pull access denied for nothing, repository does not exist');
  }
});

requests('rejects with the text of an error answer that is not JSON', async () => {
  const { server } = fakeEngine((_req, res) => { res.writeHead(500, { 'content-type': 'text/plain' }); res.end('archive/tar: invalid tar header\n'); });
  const endpoint = await listen(server, 'tcp');
  try {
    await importImage(endpoint, Buffer.from('not a tar'), { repo: 'r:1' });
    assert.unreachable('imported');
  } catch (error) {
    assert.is((error as EngineHttpError).status, 500);
    assert.is((error as Error).message, 'archive/tar: invalid tar header');
  }
});

requests('rejects with the error event of a build that fails after its 200', async () => {
  const { server } = fakeEngine((_req, res) => answerJson(res, 200, progress({ stream: 'Step 2/2 : RUN exit 3\n' }, { errorDetail: { code: 3, message: 'returned a non-zero code: 3' }, error: 'returned a non-zero code: 3' })));
  const endpoint = await listen(server, 'unix');
  const lines: string[] = [];
  try {
    await buildImage(endpoint, Buffer.alloc(1024), { tag: 't:1', dockerfile: 'Dockerfile' }, (e) => lines.push(String(e.stream)));
    assert.unreachable('built');
  } catch (error) {
    assert.is((error as Error).message, 'returned a non-zero code: 3');
  }
  assert.equal(lines, ['Step 2/2 : RUN exit 3\n']);
});

requests('rejects with a connection error when nothing listens', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-lok-engine-test-'));
  dirs.push(dir);
  try {
    await engineStream({ kind: 'unix', socketPath: join(dir, 'none.sock'), source: 'test' }, 'POST', '/build');
    assert.unreachable('connected');
  } catch (error) {
    assert.is((error as NodeJS.ErrnoException).code, 'ENOENT');
  }
});

requests.run();
