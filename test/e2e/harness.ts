// Shared pieces of the end-to-end tests: they drive the real bins against the real engine.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { engineRequest } from '../../src/engine/http.js';
import type { EngineEndpoint } from '../../src/engine/endpoint.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const SHIM = join(ROOT, 'bin', 'mcp-lok-npx');
export const MANAGER = join(ROOT, 'bin', 'mcp-lok');
export const ENGINE: EngineEndpoint = { kind: 'unix', socketPath: '/var/run/docker.sock', source: 'test' };
export const MEMORY = '@modelcontextprotocol/server-memory';
export const EVERYTHING = '@modelcontextprotocol/server-everything';

/** One mcp-lok home for the whole run, so installs are shared between test files. */
export const LOK_HOME = process.env.MCP_LOK_TEST_HOME ?? join(tmpdir(), 'mcp-lok-e2e-home');

/**
 * Returns the environment the bins run with in tests. Servers get an in-memory home
 * (MCP_LOK_EPHEMERAL=1) unless a test asks for a home volume (`MCP_LOK_EPHEMERAL: '0'`) and
 * removes it: a home volume is a server's files, kept on purpose, and the run's leftover check
 * counts them.
 */
export function shimEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  return { ...env, MCP_LOK_HOME: LOK_HOME, MCP_LOK_EPHEMERAL: '1', ...extra };
}

/** Throws with a clear message when no engine answers (the tests need a real one). */
export async function requireEngine(): Promise<void> {
  const res = await engineRequest(ENGINE, 'GET', '/_ping').catch(() => undefined);
  if (res?.status !== 200) throw new Error('No Docker engine answers at /var/run/docker.sock: run `bash scripts/ensure-engine.sh` first.');
}

/** Connects the official SDK client to a server run through mcp-lok-npx. */
export async function connectShim(args: string[], env: Record<string, string> = {}): Promise<{ client: Client; transport: StdioClientTransport; stderr: () => string }> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [SHIM, ...args], env: shimEnv(env), stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (c: Buffer) => { stderr += c.toString(); });
  const client = new Client({ name: 'mcp-lok-e2e', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport, stderr: () => stderr };
}

export interface RunResult { code: number | null; stdout: Buffer; stderr: string }

/** Closes stdin once stdout holds `count` complete lines: for servers that must outlive a closed stdin until they have answered. */
export const afterLines = (count: number) => (stdout: string): boolean => stdout.split('\n').length - 1 >= count;

/**
 * Runs a bin to completion with the given stdin and returns its exit code and output. Stdin
 * is closed at once, or with `holdStdinUntil`, only when that says the output is complete
 * (or the bin exits): mcp-lok stops a server a grace period after its client's stdin closes,
 * and a test must not depend on the server answering within that grace.
 */
export function runBin(bin: string, args: string[], options: { stdin?: string; env?: Record<string, string>; timeoutMs?: number; holdStdinUntil?: (stdout: string) => boolean } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: shimEnv(options.env), stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    let stdinOpen = true;
    const closeStdin = (): void => { if (stdinOpen) { stdinOpen = false; child.stdin.end(); } };
    child.stdin.on('error', () => undefined);
    child.stdout.on('data', (c: Buffer) => {
      out.push(c);
      if (stdinOpen && options.holdStdinUntil?.(Buffer.concat(out).toString())) closeStdin();
    });
    child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`timed out: ${args.join(' ')}\n${err}`)); }, options.timeoutMs ?? 120_000);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout: Buffer.concat(out), stderr: err }); });
    child.on('exit', closeStdin);
    child.stdin.write(options.stdin ?? '');
    if (!options.holdStdinUntil) closeStdin();
  });
}

/** Spawns a bin and leaves it running (for signal and kill tests). */
/**
 * Runs one of mcp-lok's bins on a terminal (a pseudo-terminal from util-linux's `script`), as a
 * person would, typing `answer` at its prompt. Its stdout and stderr arrive together.
 */
export function runOnTerminal(bin: string, args: string[], answer: string, env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, bin, ...args].map(quote).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { env: shimEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let answered = false;
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString();
      // Types only once the question is on the terminal, as a person would.
      if (!answered && /\[y\/N\] $/.test(output)) { answered = true; child.stdin.write(`${answer}\n`); }
    });
    child.stdin.on('error', () => undefined);
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`timed out on a terminal: ${args.join(' ')}\n${output}`)); }, 120_000);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, output }); });
  });
}

export function spawnBin(bin: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [bin, ...args], { env: shimEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
}

export interface ContainerInfo { Id: string; Names: string[]; State: string; Labels: Record<string, string> }

/** Lists mcp-lok's containers, optionally only those with one more label. */
export async function lokContainers(label?: string): Promise<ContainerInfo[]> {
  const filters = encodeURIComponent(JSON.stringify({ label: ['mcp-lok=true', ...(label ? [label] : [])] }));
  const res = await engineRequest<ContainerInfo[]>(ENGINE, 'GET', `/containers/json?all=1&filters=${filters}`);
  return res.body;
}

/**
 * The least time `eventually` waits. Deadlines in tests only catch hangs: a loaded machine may
 * take many times the usual, and a suite must not depend on how fast this machine is (speed
 * belongs to `npm run bench`).
 */
const MIN_WAIT_MS = 60_000;

/** Resolves once `check` returns true, polling; rejects after `timeoutMs` (at least a minute). */
export async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const waitMs = Math.max(timeoutMs, MIN_WAIT_MS);
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${waitMs} ms waiting for ${what}`);
}

const madeDirs: string[] = [];
// Every folder a test made goes when its file's process ends, whether the test removed it or not.
process.on('exit', () => { for (const dir of madeDirs) { try { rmSync(dir, { recursive: true, force: true }); } catch { /* a server's files owned by another user: left */ } } });

/** Returns a fresh empty directory, removed when the test process exits. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  madeDirs.push(dir);
  return dir;
}

/** Returns whether an IPv4 address lies in a CIDR subnet. */
function inSubnet(address: string, cidr: string): boolean {
  const [base = '', bits = '32'] = cidr.split('/');
  const toNumber = (ip: string): number => ip.split('.').reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
  const mask = Number(bits) === 0 ? 0 : (~0 << (32 - Number(bits))) >>> 0;
  return ((toNumber(address) & mask) >>> 0) === ((toNumber(base) & mask) >>> 0);
}

/**
 * Returns this machine's address on the engine's default bridge (its gateway, as containers
 * there see it): the network's Gateway when the engine reports one, else the local interface
 * address inside its subnet, else the subnet's first address (the engine's convention; a
 * listener can only bind there if it is this machine's). Never an outside address.
 */
export async function bridgeGateway(): Promise<string> {
  const network = await engineRequest<{ IPAM: { Config: Array<{ Gateway?: string; Subnet?: string }> | null } }>(ENGINE, 'GET', '/networks/bridge');
  const configs = network.body.IPAM.Config ?? [];
  const reported = configs.find((c) => c.Gateway && !c.Gateway.includes(':'))?.Gateway;
  if (reported) return reported;
  const subnets = configs.map((c) => c.Subnet ?? '').filter((s) => s !== '' && !s.includes(':'));
  // A bridge with no container attached is down, and Node lists only running interfaces.
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && subnets.some((s) => inSubnet(a.address, s))) return a.address;
  }
  const [subnet] = subnets;
  if (!subnet) throw new Error('the engine reports neither a gateway nor a subnet for its bridge network');
  const first = (subnet.split('/')[0] ?? '').split('.').map(Number);
  first[3] = (first[3] ?? 0) + 1;
  return first.join('.');
}
