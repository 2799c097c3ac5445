// The bare-npx column, in two phases so that no server ever runs with this machine's network:
// 1. fill a private npx cache from the registry (npm only: lifecycle scripts and git off);
// 2. start the server with npm offline, in a fresh network namespace holding only loopback and a
//    fresh PID namespace, so killing the launcher ends every process the server started.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { LIVE_CHILDREN } from './client.js';

/** Returns the first executable of that name on PATH or in the sbin folders, or undefined. */
export function findProgram(name: string, path = process.env.PATH ?? ''): string | undefined {
  const dirs = [...path.split(delimiter).filter(Boolean), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  return dirs.map((d) => join(d, name)).find((p) => existsSync(p));
}

export interface Netns { ok: boolean; reason: string; unshare?: string; ip?: string }

/** Returns whether a network namespace with only loopback can be made here (root and unshare), checked by making one. */
export function checkNetns(): Netns {
  const unshare = findProgram('unshare');
  const ip = findProgram('ip');
  if (!unshare || !ip) return { ok: false, reason: `${unshare ? '' : 'unshare'}${!unshare && !ip ? ' and ' : ''}${ip ? '' : 'ip'} not found (util-linux, iproute2)` };
  const res = spawnSync(unshare, ['--net', '--pid', '--fork', '--kill-child', '--', ip, '-o', 'link'], { encoding: 'utf8', timeout: 10_000 });
  if (res.status !== 0) return { ok: false, reason: `unshare --net failed (${(res.stderr || res.error?.message || '').trim().split('\n')[0]}); run as root` };
  const links = res.stdout.trim().split('\n').map((l) => /^\d+:\s*([^:@]+)/.exec(l)?.[1]).filter(Boolean);
  if (links.length !== 1 || links[0] !== 'lo') return { ok: false, reason: `the new network namespace holds ${links.join(', ')}, not only lo` };
  return { ok: true, reason: 'a network namespace with only loopback', unshare, ip };
}

/** Returns the npm settings both phases use: a private cache; the run phase adds offline. */
export function npxEnv(cache: string, offline: boolean): Record<string, string> {
  return {
    npm_config_cache: cache,
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    ...(offline ? { npm_config_offline: 'true' } : { npm_config_ignore_scripts: 'true', npm_config_git: 'false' }),
  };
}

/** Installs a package into the private npx cache (registry only); resolves with an error line or undefined. */
export function fillNpxCache(name: string, cache: string, cwd: string, timeoutMs: number): Promise<string | undefined> {
  const npx = findProgram('npx') ?? 'npx';
  return new Promise((resolve) => {
    const child = spawn(npx, ['-y', '-p', name, '-c', 'true'], { cwd, env: { ...getDefaultEnvironment(), ...npxEnv(cache, false) }, stdio: ['ignore', 'ignore', 'pipe'] });
    if (child.pid) LIVE_CHILDREN.add(child.pid);
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-4000); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); resolve(`npx could not start: ${e.message}`); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (child.pid) LIVE_CHILDREN.delete(child.pid);
      if (code === 0) resolve(undefined);
      else resolve(signal ? `npx install timed out after ${Math.round(timeoutMs / 1000)} s` : `npx install failed: ${stderr.trim().split('\n').filter((l) => /ERR/.test(l)).slice(0, 2).join(' ') || `exit ${code}`}`);
    });
  });
}

/** Returns the command that starts `npx ARGS` with no network: a new network and PID namespace, loopback up. */
export function offlineCommand(netns: Netns, args: string[]): { command: string; args: string[] } {
  if (!netns.unshare || !netns.ip) throw new Error('no network namespace');
  const npx = findProgram('npx') ?? 'npx';
  return {
    command: netns.unshare,
    args: ['--net', '--pid', '--fork', '--kill-child', '--', '/bin/sh', '-c', `${netns.ip} link set lo up && exec "$@"`, 'sh', npx, ...args],
  };
}

/** Returns the version npx installed for `npx NAME` in the private cache (its newest install of that spec alone), or undefined. */
export function npxVersion(cache: string, name: string): string | undefined {
  const root = join(cache, '_npx');
  if (!existsSync(root)) return undefined;
  const readJson = (path: string): Record<string, unknown> | undefined => { try { return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>; } catch { return undefined; } };
  const dirs = readdirSync(root)
    .map((d) => join(root, d))
    .filter((d) => {
      const packages = (readJson(join(d, 'package.json'))?._npx as { packages?: string[] } | undefined)?.packages;
      return packages?.length === 1 && packages[0] === name && existsSync(join(d, 'node_modules'));
    })
    .sort((a, b) => statSync(join(b, 'node_modules')).mtimeMs - statSync(join(a, 'node_modules')).mtimeMs);
  const manifest = dirs[0] ? readJson(join(dirs[0], 'node_modules', ...name.split('/'), 'package.json')) : undefined;
  return typeof manifest?.version === 'string' ? manifest.version : undefined;
}
