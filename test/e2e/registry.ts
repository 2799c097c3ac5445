// A tiny npm registry for the tests' own fixture packages (test/fixtures/packages), served
// on the engine's bridge gateway so install containers reach it: the real install path,
// with packages whose behaviour the tests choose (a server that ignores EOF and SIGTERM...).
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { compareVersions } from '../../src/semver.js';
import { ROOT, bridgeGateway } from './harness.js';

interface Fixture { name: string; version: string; manifest: Record<string, unknown>; tarball: Buffer }

function packFixture(dir: string, overrides: Record<string, unknown> = {}): Fixture {
  const manifest = { ...JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')), ...overrides } as Record<string, unknown> & { name: string; version: string };
  const stage = mkdtempSync(join(tmpdir(), 'lok-fixture-'));
  try {
    cpSync(dir, join(stage, 'package'), { recursive: true });
    writeFileSync(join(stage, 'package', 'package.json'), JSON.stringify(manifest, null, 2));
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
  /** Tarball downloads (and held metadata requests) whose connection is still open. */
  openTarballs: () => number;
  /**
   * Publishes a version mid-test: the package in `dir` (absolute, or under test/fixtures),
   * its package.json overridden by `manifest`. The packument then lists it, and `latest` is
   * the highest version.
   */
  publish: (dir: string, manifest?: Record<string, unknown>) => { name: string; version: string };
  /** Requests for a package's metadata (its packument) so far. */
  packumentRequests: (name: string) => number;
  /** While on, metadata requests are never answered (they hang, counted in `openTarballs` too). */
  holdMetadata: (on: boolean) => void;
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
  // Every version of every package: name -> version -> packed fixture.
  const fixtures = new Map<string, Map<string, Fixture>>();
  const add = (f: Fixture): Fixture => {
    const versions = fixtures.get(f.name) ?? new Map<string, Fixture>();
    versions.set(f.version, f);
    fixtures.set(f.name, versions);
    return f;
  };
  for (const d of readdirSync(base)) add(packFixture(join(base, d)));
  let url = '';
  let tarballs = 0;
  const packuments = new Map<string, number>();
  let holding = false;
  const open = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/').slice(1);
    const tarballMatch = /^(.+)\/-\/(.+)\.tgz$/.exec(path);
    const versions = fixtures.get(tarballMatch?.[1] ?? path);
    if (!versions) { res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}'); return; }
    if (tarballMatch) {
      const short = (tarballMatch[1] ?? '').replace(/^@[^/]+\//, '');
      const fixture = versions.get((tarballMatch[2] ?? '').slice(short.length + 1));
      if (!fixture) { res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}'); return; }
      tarballs += 1;
      open.add(req.socket);
      req.socket.once('close', () => open.delete(req.socket));
      if (options.stallTarballs) return;
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(fixture.tarball);
      return;
    }
    packuments.set(path, (packuments.get(path) ?? 0) + 1);
    if (holding) {
      open.add(req.socket);
      req.socket.once('close', () => open.delete(req.socket));
      return;
    }
    const all = [...versions.values()].sort((a, b) => compareVersions(a.version, b.version));
    const name = all[0]?.name ?? path;
    const docs = Object.fromEntries(all.map((fixture) => {
      const content = options.stallTarballs ? randomBytes(32) : fixture.tarball;
      const integrity = `sha512-${createHash('sha512').update(content).digest('base64')}`;
      const scripts = (fixture.manifest.scripts ?? {}) as Record<string, unknown>;
      const hasInstallScript = ['preinstall', 'install', 'postinstall'].some((s) => s in scripts);
      const short = name.replace(/^@[^/]+\//, '');
      return [fixture.version, {
        ...fixture.manifest, ...(hasInstallScript ? { hasInstallScript: true } : {}),
        dist: { tarball: `${url}${name}/-/${short}-${fixture.version}.tgz`, integrity },
      }];
    }));
    const packument = { name, 'dist-tags': { latest: all.at(-1)?.version }, versions: docs };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(packument));
  });
  await new Promise<void>((resolve) => server.listen(0, gateway, resolve));
  url = `http://${gateway}:${(server.address() as AddressInfo).port}/`;
  return {
    url,
    tarballRequests: () => tarballs,
    openTarballs: () => open.size,
    publish: (dir, manifest) => {
      const fixture = add(packFixture(isAbsolute(dir) ? dir : join(ROOT, 'test', 'fixtures', dir), manifest));
      return { name: fixture.name, version: fixture.version };
    },
    packumentRequests: (name) => packuments.get(name) ?? 0,
    holdMetadata: (on) => { holding = on; },
    close: () => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}
