// The mcp-lok-npx columns' helpers: a first start that installs (so the measured starts are warm),
// the version mcp-lok installed, and the containers a shim process left behind.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { EngineEndpoint } from '../src/engine/endpoint.js';
import { engineRequest } from '../src/engine/http.js';
import { LABEL } from '../src/sandbox/labels.js';
import { getPaths } from '../src/state/paths.js';
import { LIVE_CHILDREN } from './client.js';

/**
 * Starts `mcp-lok-npx ARGS` with stdin closed at once: it installs the package (progress on
 * stderr), starts the server, which sees end of input and stops. Resolves with the last stderr
 * lines when it failed, undefined when it exited 0.
 */
export function warmUp(shim: string, args: string[], env: Record<string, string>, cwd: string, timeoutMs: number, onPid: (pid: number) => void): Promise<string | undefined> {
  return new Promise((resolve) => {
    const child = spawn(shim, args, { cwd, env: { ...getDefaultEnvironment(), ...env }, stdio: ['pipe', 'ignore', 'pipe'] });
    if (child.pid) { onPid(child.pid); LIVE_CHILDREN.add(child.pid); }
    child.stdin.on('error', () => undefined);
    child.stdin.end();
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-4000); });
    const timer = setTimeout(() => { child.kill('SIGTERM'); setTimeout(() => child.kill('SIGKILL'), 10_000).unref(); }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); resolve(e.message); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (child.pid) LIVE_CHILDREN.delete(child.pid);
      const last = stderr.trim().split('\n').slice(-3).join(' / ');
      resolve(code === 0 ? undefined : signal ? `first start (install) timed out after ${Math.round(timeoutMs / 1000)} s: ${last}` : `first start exited ${code}: ${last}`);
    });
  });
}

/** Returns the version mcp-lok's install record holds for `NAME@latest`, or undefined. */
export function lokVersion(env: Record<string, string | undefined>, name: string): string | undefined {
  const dir = getPaths(env).installs;
  if (!existsSync(dir)) return undefined;
  let best: { at: number; version: string } | undefined;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    try {
      const record = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { specs?: string[]; resolvedAt?: number; packages?: Array<{ name: string; version: string }> };
      const pkg = record.packages?.find((p) => p.name === name);
      if (record.specs?.length === 1 && record.specs[0] === `${name}@latest` && pkg && (!best || (record.resolvedAt ?? 0) > best.at)) best = { at: record.resolvedAt ?? 0, version: pkg.version };
    } catch { /* not a record */ }
  }
  return best?.version;
}

interface Listed { Id: string; Names: string[]; Labels: Record<string, string> }

/** Returns mcp-lok's containers whose owner is one of these processes of this host. */
async function ownedBy(engine: EngineEndpoint, pids: ReadonlySet<number>): Promise<Listed[]> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`${LABEL.managed}=true`] }));
  const res = await engineRequest<Listed[]>(engine, 'GET', `/containers/json?all=1&filters=${filters}`);
  const host = hostname();
  return (Array.isArray(res.body) ? res.body : []).filter((c) => pids.has(Number(c.Labels[LABEL.ownerPid])) && (c.Labels[LABEL.ownerHost] ?? host) === host);
}

/**
 * Waits for the containers of these shim processes to go (mcp-lok removes them when its client
 * goes); whatever is still there after `graceMs` is removed here and returned by name: a leak.
 */
export async function reapOwned(engine: EngineEndpoint, pids: ReadonlySet<number>, graceMs: number): Promise<string[]> {
  if (pids.size === 0) return [];
  const deadline = Date.now() + graceMs;
  let left = await ownedBy(engine, pids);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    left = await ownedBy(engine, pids);
  }
  for (const c of left) await engineRequest(engine, 'DELETE', `/containers/${c.Id}?force=1&v=1`).catch(() => undefined);
  return left.map((c) => (c.Names[0] ?? c.Id).replace(/^\//, ''));
}
