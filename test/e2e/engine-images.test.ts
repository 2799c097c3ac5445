// The engine client's image endpoints against the real engine (and Podman's service when
// MCP_LOK_TEST_PODMAN names one): pull from an image registry the test runs on loopback,
// build from a tar context, import a root filesystem, and the local Node base made from this
// machine. Every image here has a tag of its own, removed afterwards.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseEngineUrl, pingEngine } from '../../src/engine/discover.js';
import type { EngineEndpoint } from '../../src/engine/endpoint.js';
import { EngineHttpError, engineRequest } from '../../src/engine/http.js';
import { buildImage, importImage, pullImage, type EngineStreamEvent } from '../../src/engine/images.js';
import { packTar } from '../../src/engine/tar.js';
import { EXIT, LokError } from '../../src/errors.js';
import { ensureLocalBase, inspectHostRuntime, localBaseTag } from '../../src/prepare/base-image.js';
import { ensureImagePresent, imageExists } from '../../src/prepare/images.js';
import { ENGINE } from './harness.js';

const NONCE = randomBytes(4).toString('hex');
const BUILD_LABEL = `build-${NONCE}`;
const sha256 = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

interface ImageInspect { RepoTags: string[] | null; Config: { Env: string[] | null; Cmd: string[] | null; Labels: Record<string, string> | null } }

async function inspect(endpoint: EngineEndpoint, ref: string): Promise<ImageInspect> {
  const res = await engineRequest<ImageInspect>(endpoint, 'GET', `/images/${ref}/json`);
  assert.is(res.status, 200, `${ref} is not in the engine`);
  return res.body;
}

/**
 * A Docker Registry v2 of the test's own on 127.0.0.1, holding one image (a layer with one
 * file, a config with a label). Engines treat registries on loopback as plain HTTP.
 */
async function startImageRegistry(name: string, tag: string): Promise<{ host: string; paths: string[]; close: () => Promise<void> }> {
  const layerTar = packTar([{ name: 'hello.txt', content: Buffer.from(`pulled ${NONCE}\n`) }]);
  const layer = gzipSync(layerTar);
  const arch = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch;
  const config = Buffer.from(JSON.stringify({
    architecture: arch, os: 'linux', config: { Labels: { 'mcp-lok-e2e': 'pull' } },
    rootfs: { type: 'layers', diff_ids: [sha256(layerTar)] }, history: [{ created_by: 'mcp-lok e2e' }],
  }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: sha256(config) },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: layer.length, digest: sha256(layer) }],
  }));
  const blobs = new Map([[sha256(config), config], [sha256(layer), layer]]);
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    paths.push(`${req.method} ${path}`);
    const send = (status: number, body: Buffer, type: string, extra: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': type, 'content-length': body.length, 'docker-distribution-api-version': 'registry/2.0', ...extra });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const unknown = (code: string): void => send(404, Buffer.from(JSON.stringify({ errors: [{ code, message: code.toLowerCase().replace('_', ' ') }] })), 'application/json');
    if (path === '/v2/') { send(200, Buffer.from('{}'), 'application/json'); return; }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(path);
    if (!m || m[1] !== name) { unknown(m?.[2] === 'blobs' ? 'BLOB_UNKNOWN' : 'MANIFEST_UNKNOWN'); return; }
    if (m[2] === 'manifests') {
      if (m[3] !== tag && m[3] !== sha256(manifest)) { unknown('MANIFEST_UNKNOWN'); return; }
      send(200, manifest, 'application/vnd.docker.distribution.manifest.v2+json', { 'docker-content-digest': sha256(manifest) });
      return;
    }
    const blob = blobs.get(m[3] ?? '');
    if (blob) send(200, blob, 'application/octet-stream', { 'docker-content-digest': m[3] ?? '' }); else unknown('BLOB_UNKNOWN');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    paths,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

const engines: Array<{ name: string; endpoint: EngineEndpoint }> = [{ name: 'Docker', endpoint: { ...ENGINE } }];
if (process.env.MCP_LOK_TEST_PODMAN) engines.push({ name: 'Podman', endpoint: parseEngineUrl(process.env.MCP_LOK_TEST_PODMAN, 'MCP_LOK_TEST_PODMAN') });
const up = await Promise.all(engines.map(async (e) => pingEngine(e.endpoint).catch(() => false)));
if (!up[0]) console.warn('engine-images e2e: skipped, no Docker engine answers at /var/run/docker.sock (run `bash scripts/ensure-engine.sh`).');

const made: Array<[EngineEndpoint, string]> = [];

for (const [i, { name, endpoint }] of engines.entries()) {
  if (!up[i]) continue;
  const images = suite(`the engine client's image endpoints on ${name}`);
  images.after(async () => {
    for (const [where, ref] of made.filter(([e]) => e === endpoint)) await engineRequest(where, 'DELETE', `/images/${ref}`).catch(() => undefined);
    // Podman keeps a build's intermediate images, untagged; they carry the build's labels.
    const filters = encodeURIComponent(JSON.stringify({ label: [`mcp-lok-e2e=${BUILD_LABEL}`] }));
    const left = await engineRequest<Array<{ Id: string }>>(endpoint, 'GET', `/images/json?all=1&filters=${filters}`);
    for (const image of left.status === 200 ? left.body : []) await engineRequest(endpoint, 'DELETE', `/images/${image.Id}`).catch(() => undefined);
  });

  images('speaks the API version it negotiated', () => {
    assert.match(endpoint.apiVersion ?? '', /^1\.\d+$/);
  });

  images('imports a root filesystem with its changes, the tag travelling inside repo', async () => {
    const ref = `mcp-lok-e2e/import:${NONCE}`;
    const rootfs = packTar([{ name: 'hello', content: Buffer.from('#!/bin/sh\n'), mode: 0o755 }]);
    const events: EngineStreamEvent[] = [];
    await importImage(endpoint, rootfs, { repo: ref, changes: ['ENV PATH=/opt/e2e', 'CMD ["/hello"]', `LABEL mcp-lok-e2e=${NONCE}`] }, (e) => events.push(e));
    made.push([endpoint, ref]);
    assert.ok(events.length > 0, 'no progress event');
    const image = await inspect(endpoint, ref);
    assert.ok((image.RepoTags ?? []).some((t) => t.endsWith(ref)), JSON.stringify(image.RepoTags));
    assert.ok((image.Config.Env ?? []).includes('PATH=/opt/e2e'), JSON.stringify(image.Config.Env));
    assert.equal(image.Config.Cmd, ['/hello']);
    assert.is(image.Config.Labels?.['mcp-lok-e2e'], NONCE);
  });

  images('fails an import of bytes that are not a tar with the engine\'s message', async () => {
    const ref = `mcp-lok-e2e/import-bad:${NONCE}`;
    try {
      await importImage(endpoint, Buffer.from('not a tar archive at all'.repeat(40)), { repo: ref });
      made.push([endpoint, ref]);
      assert.unreachable('imported');
    } catch (error) {
      assert.ok(!(error instanceof assert.Assertion), String(error));
      assert.ok((error as Error).message.length > 0);
      console.log(`  ${name} refuses a bad import: ${(error as Error).message}`);
    }
    assert.is(await imageExists(endpoint, ref), false);
  });

  images('builds from a tar context with build args and labels, passing the build output on', async () => {
    const ref = `mcp-lok-e2e/build:${NONCE}`;
    const context = packTar([
      { name: 'Dockerfile.e2e', content: Buffer.from('FROM scratch\nARG WORD\nLABEL mcp-lok-e2e-word=${WORD}\nCOPY files/ /files/\n') },
      { name: 'files/hello.txt', content: Buffer.from(`built ${NONCE}\n`) },
    ]);
    const lines: string[] = [];
    await buildImage(endpoint, context, { tag: ref, dockerfile: 'Dockerfile.e2e', buildArgs: { WORD: NONCE }, labels: { 'mcp-lok-e2e': BUILD_LABEL } },
      (e) => { if (typeof e.stream === 'string') lines.push(e.stream); });
    made.push([endpoint, ref]);
    assert.ok(lines.some((l) => /COPY files\//.test(l)), lines.join(''));
    const labels = (await inspect(endpoint, ref)).Config.Labels ?? {};
    assert.is(labels['mcp-lok-e2e-word'], NONCE);
    assert.is(labels['mcp-lok-e2e'], BUILD_LABEL);
  });

  images('fails a build whose step fails with the engine\'s message', async () => {
    const ref = `mcp-lok-e2e/build-bad:${NONCE}`;
    const context = packTar([{ name: 'Dockerfile', content: Buffer.from('FROM scratch\nCOPY missing-from-context.txt /\n') }]);
    try {
      await buildImage(endpoint, context, { tag: ref, dockerfile: 'Dockerfile' }, () => {});
      made.push([endpoint, ref]);
      assert.unreachable('built');
    } catch (error) {
      assert.ok(!(error instanceof assert.Assertion), String(error));
      assert.match((error as Error).message, /missing-from-context\.txt/);
    }
    assert.is(await imageExists(endpoint, ref), false);
  });

  images('makes the local Node base from this machine: node and npm run in it', async () => {
    const host = await inspectHostRuntime();
    // A tag of this test's own (the shared stand-in stays untouched), the same contents.
    const own = { ...host, npmVersion: `${host.npmVersion}+e2e.${NONCE}` };
    const ref = localBaseTag(own);
    const lines: string[] = [];
    assert.is(await ensureLocalBase(endpoint, (l) => lines.push(l), own), ref);
    made.push([endpoint, ref]);
    assert.equal(lines, [`mcp-lok: imported the base image ${ref} (Node ${host.nodeVersion}, npm ${own.npmVersion}, busybox).`]);
    const image = await inspect(endpoint, ref);
    assert.equal(image.Config.Cmd, ['node']);
    assert.is(image.Config.Labels?.['mcp-lok'], 'true');
    if (name === 'Docker') {
      const out = execFileSync('docker', ['run', '--rm', '--network', 'none', '--user', '1000:1000', ref, 'sh', '-c', 'node -e "console.log(process.version)" && npm --version && id -un'],
        { encoding: 'utf8', timeout: 120_000 }).trim().split('\n');
      assert.equal(out, [host.nodeVersion, host.npmVersion, 'node']);
    }
    assert.equal(lines.length, 1);
    assert.is(await ensureLocalBase(endpoint, (l) => lines.push(l), own), ref, 'a second call finds it');
    assert.is(lines.length, 1, 'a second call imports nothing');
  });

  if (name === 'Docker') {
    // Podman's service pulls from plain-HTTP registries only when told; Docker trusts loopback.
    images('pulls an image from a registry on loopback, logging progress only through log', async () => {
      const registry = await startImageRegistry('mcp-lok-e2e/pull', NONCE);
      const ref = `${registry.host}/mcp-lok-e2e/pull:${NONCE}`;
      try {
        const lines: string[] = [];
        await ensureImagePresent(endpoint, ref, (l) => lines.push(l));
        made.push([endpoint, ref]);
        assert.is(lines[0], `mcp-lok: pulling ${ref}...`);
        assert.ok(lines.slice(1).length > 0 && lines.slice(1).every((l) => l.startsWith('mcp-lok: pull: ')), lines.join('\n'));
        assert.ok(lines.some((l) => /Downloaded newer image/.test(l)), lines.join('\n'));
        assert.ok(registry.paths.some((p) => /^GET \/v2\/mcp-lok-e2e\/pull\/blobs\/sha256:/.test(p)), registry.paths.join('\n'));
        assert.is((await inspect(endpoint, ref)).Config.Labels?.['mcp-lok-e2e'], 'pull');
      } finally {
        await registry.close();
      }
    });

    images('fails a pull of an image the registry does not have with one line naming it', async () => {
      const registry = await startImageRegistry('mcp-lok-e2e/pull', NONCE);
      const ref = `${registry.host}/mcp-lok-e2e/absent:${NONCE}`;
      try {
        await ensureImagePresent(endpoint, ref, () => {});
        made.push([endpoint, ref]);
        assert.unreachable('pulled');
      } catch (error) {
        assert.instance(error, LokError);
        assert.is((error as LokError).code, 'ENGINE_ERROR');
        assert.is((error as LokError).exitCode, EXIT.engine);
        assert.match((error as LokError).message, new RegExp(`^Cannot pull the image ${ref.replace(/[.]/g, '\\.')}: .*manifest unknown.*\\.$`));
        assert.not.match((error as LokError).message, /\n/);
      } finally {
        await registry.close();
      }
    });

    images('fails a pull with an EngineHttpError when the engine refuses the reference', async () => {
      try {
        await pullImage(endpoint, `UPPER/case:${NONCE}`, () => {});
        assert.unreachable('pulled');
      } catch (error) {
        assert.instance(error, EngineHttpError);
        assert.is((error as EngineHttpError).status, 400);
        assert.match((error as Error).message, /invalid reference format|must be lowercase/);
      }
    });
  }

  images.run();
}
