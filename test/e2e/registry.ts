// A tiny npm registry for the tests' own fixture packages (test/fixtures/packages), served
// on the engine's bridge gateway so install containers reach it: the real install path,
// with packages whose behaviour the tests choose (a server that ignores EOF and SIGTERM...).
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineRequest } from '../../src/engine/http.js';
import { ENGINE, ROOT, bridgeGateway } from './harness.js';

interface Fixture { name: string; version: string; manifest: Record<string, unknown>; tarball: Buffer }

function packFixture(dir: string): Fixture {
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, unknown> & { name: string; version: string };
  const stage = mkdtempSync(join(tmpdir(), 'lok-fixture-'));
  try {
    cpSync(dir, join(stage, 'package'), { recursive: true });
    const tarball = execFileSync('tar', ['-czf', '-', '--owner=0', '--group=0', '-C', stage, 'package']);
    return { name: manifest.name, version: manifest.version, manifest, tarball };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

export interface FixtureRegistry {
  url: string;
  /** Tarball downloads asked for so far (with `stallTarballs`: each one still hangs). */
  tarballRequests: () => number;
  /** Tarball downloads whose connection is still open. */
  openTarballs: () => number;
  close: () => Promise<void>;
}

export interface FixtureRegistryOptions {
  /**
   * Answer metadata but never a tarball: the download hangs, as on a slow network, so a test
   * can stop mcp-lok in the middle of an install. Each packument then names a random
   * integrity, so npm's shared cache cannot answer for the registry.
   */
  stallTarballs?: boolean;
}

/** Starts the registry on the default bridge's gateway address and returns its URL. */
export async function startFixtureRegistry(options: FixtureRegistryOptions = {}): Promise<FixtureRegistry> {
  const gateway = await bridgeGateway();
  const base = join(ROOT, 'test', 'fixtures', 'packages');
  const fixtures = new Map(readdirSync(base).map((d) => { const f = packFixture(join(base, d)); return [f.name, f]; }));
  let url = '';
  let tarballs = 0;
  const open = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/').slice(1);
    const tarballMatch = /^(.+)\/-\/.+\.tgz$/.exec(path);
    const fixture = fixtures.get(tarballMatch?.[1] ?? path);
    if (!fixture) { res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}'); return; }
    if (tarballMatch) {
      tarballs += 1;
      open.add(req.socket);
      req.socket.once('close', () => open.delete(req.socket));
      if (options.stallTarballs) return;
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(fixture.tarball);
      return;
    }
    const content = options.stallTarballs ? randomBytes(32) : fixture.tarball;
    const integrity = `sha512-${createHash('sha512').update(content).digest('base64')}`;
    const packument = {
      name: fixture.name,
      'dist-tags': { latest: fixture.version },
      versions: {
        [fixture.version]: { ...fixture.manifest, dist: { tarball: `${url}${fixture.name}/-/${fixture.name}-${fixture.version}.tgz`, integrity } },
      },
    };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(packument));
  });
  await new Promise<void>((resolve) => server.listen(0, gateway, resolve));
  url = `http://${gateway}:${(server.address() as AddressInfo).port}/`;
  return {
    url,
    tarballRequests: () => tarballs,
    openTarballs: () => open.size,
    close: () => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}
