// `mcp-lok doctor`: the checks that say whether servers can run here, each problem with its fix.
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type { Context } from './context.js';
import { engineRequest } from '../engine/http.js';
import { formatEndpoint, type EngineEndpoint } from '../engine/endpoint.js';
import { LokError } from '../errors.js';
import { completeRequest } from '../request/server-request.js';
import { resolveLokOptions } from '../request/options.js';
import { chooseStdioChannel } from '../stdio/select.js';
import { describeImages } from './images.js';
import { launchSandbox, startServerPlan } from './run-server.js';
import { locateShim, planConfigs } from './wrap.js';

/** One check's result: `fail` is a problem (doctor exits non-zero), `warn` something to know. */
export interface Check {
  id: 'engine' | 'engine-version' | 'image' | 'sandbox' | 'shim' | 'clients';
  title: string;
  status: 'ok' | 'warn' | 'fail' | 'skip';
  summary: string;
  /** What to do about a `fail` or `warn`. */
  fix?: string;
  detail?: Record<string, unknown>;
}

/** What the engine says about itself (`GET /version`). */
export interface EngineVersion {
  kind: 'docker' | 'podman';
  version: string;
  apiVersion: string | undefined;
}

/** Returns the engine's kind and version from its `/version` answer. */
export function readEngineVersion(body: unknown, podmanHeader: boolean): EngineVersion {
  const b = (body ?? {}) as { Version?: unknown; ApiVersion?: unknown; Components?: Array<{ Name?: unknown; Version?: unknown }> };
  const podman = b.Components?.find((c) => typeof c.Name === 'string' && /podman/i.test(c.Name));
  return {
    kind: podman || podmanHeader ? 'podman' : 'docker',
    version: String(podman?.Version ?? b.Version ?? 'unknown'),
    apiVersion: typeof b.ApiVersion === 'string' ? b.ApiVersion : undefined,
  };
}

function majorMinor(version: string): [number, number] {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split(/[.+-]/).map((p) => Number.parseInt(p, 10) || 0);
  return [major, minor];
}

/**
 * Returns the warning for an engine version mcp-lok is known to have trouble with, if any:
 * Docker before 20.10 (API 1.41: the hardening flags and `init` it relies on), Podman before
 * 4 (its Docker-compatible API lacked what attaching and limits need).
 */
export function judgeEngineVersion(v: EngineVersion): Pick<Check, 'status' | 'summary' | 'fix'> {
  const [major, minor] = majorMinor(v.version);
  const name = v.kind === 'podman' ? 'Podman' : 'Docker';
  if (v.kind === 'docker' && (major < 20 || (major === 20 && minor < 10))) {
    return { status: 'warn', summary: `Docker ${v.version} is older than 20.10, the oldest mcp-lok is tested on`, fix: 'Update Docker to 20.10 or newer.' };
  }
  if (v.kind === 'podman' && major < 4) {
    return { status: 'warn', summary: `Podman ${v.version} is older than 4.0, the oldest mcp-lok is tested on`, fix: 'Update Podman to 4.0 or newer.' };
  }
  const note = v.kind === 'podman' ? ' (on hosts with hybrid cgroups, Podman runs containers only with the runc runtime)' : '';
  return { status: 'ok', summary: `${name} ${v.version}${v.apiVersion ? `, API ${v.apiVersion}` : ''}${note}` };
}

/** The tiny server the sandbox check starts: it answers one JSON-RPC line with what it sees. */
const PROBE_SERVER = [
  "const fs=require('fs'),os=require('os');",
  "let b='';process.stdin.on('data',d=>{b+=d;const i=b.indexOf('\\n');if(i<0)return;const r=JSON.parse(b.slice(0,i));",
  "let ro=false;try{fs.writeFileSync('/mcp-lok-doctor','x')}catch(e){ro=e.code==='EROFS'||e.code==='EACCES'}",
  "const nets=Object.keys(os.networkInterfaces()).filter(n=>n!=='lo');",
  "process.stdout.write(JSON.stringify({jsonrpc:'2.0',id:r.id,result:{uid:process.getuid(),readOnlyRoot:ro,networks:nets,node:process.version}})+'\\n')});",
].join('');

/** Starts the tiny server in a sandbox from mcp-lok's image (no network, no files, a home in memory) and returns what it answered. */
async function probeSandbox(ctx: Context, image: string): Promise<{ uid: number; readOnlyRoot: boolean; networks: string[]; node: string }> {
  const request = completeRequest({
    source: { kind: 'image', image, allowPull: false },
    args: ['node', '-e', PROBE_SERVER],
    // An in-memory home: a home volume would be made for each check's new name, and kept.
    lok: { ...resolveLokOptions({}, ctx.env), profile: 'stdio', env: [], ephemeral: true, name: `mcp-lok-doctor-${randomBytes(3).toString('hex')}` },
    quiet: true,
    launcher: 'run',
  }, { configDir: ctx.paths.config, cwd: ctx.cwd, env: ctx.env });
  const plan = await startServerPlan(ctx, request);
  const stdin = new PassThrough();
  let out = '';
  let err = '';
  let answer: string | undefined;
  const stop = new AbortController();
  const hang = setTimeout(() => stop.abort(), 120_000);
  stdin.write('{"jsonrpc":"2.0","id":1,"method":"doctor/probe"}\n');
  try {
    const code = await launchSandbox(ctx, plan, {
      containerName: plan.name, role: 'run', transport: 'stdio', handleSignals: true, signal: stop.signal,
      io: {
        stdin,
        onStdout: (chunk) => {
          out += chunk.toString();
          const line = out.split('\n')[0];
          if (answer === undefined && out.includes('\n') && line !== undefined) { answer = line; stdin.end(); }
        },
        onStderr: (chunk) => { err += chunk.toString(); },
      },
    });
    if (answer === undefined) throw new Error(`the test server exited (${code}) without answering${err.trim() ? `: ${err.trim().split('\n').at(-1) ?? ''}` : ''}`);
    const result = (JSON.parse(answer) as { result?: { uid: number; readOnlyRoot: boolean; networks: string[]; node: string } }).result;
    if (!result) throw new Error(`the test server answered something else: ${answer.slice(0, 200)}`);
    return result;
  } finally {
    clearTimeout(hang);
  }
}

function failure(error: unknown): { summary: string; fix: string | undefined } {
  if (error instanceof LokError) return { summary: error.message, fix: error.hint };
  return { summary: (error as Error).message ?? String(error), fix: undefined };
}

/** Returns the fix for an engine that does not answer, naming the setting that chose it. */
function engineFix(ctx: Context): string {
  if (ctx.env.MCP_LOK_ENGINE) return `MCP_LOK_ENGINE=${ctx.env.MCP_LOK_ENGINE} names the engine: start the engine there, or correct or unset MCP_LOK_ENGINE.`;
  if (ctx.env.DOCKER_HOST) return `DOCKER_HOST=${ctx.env.DOCKER_HOST} names the engine: start the engine there, or correct or unset DOCKER_HOST.`;
  return 'Start Docker (Docker Desktop, Colima, OrbStack, `sudo systemctl start docker`) or Podman (`podman machine start`, or `systemctl --user start podman.socket`), or set DOCKER_HOST or MCP_LOK_ENGINE to its socket.';
}

async function checkEngine(ctx: Context, checks: Check[]): Promise<EngineEndpoint | undefined> {
  let endpoint: EngineEndpoint;
  try {
    endpoint = await ctx.engine();
  } catch (error) {
    checks.push({ id: 'engine', title: 'Container engine', status: 'fail', summary: failure(error).summary, fix: engineFix(ctx) });
    return undefined;
  }
  const local = chooseStdioChannel(endpoint, ctx.env, ctx.home, ctx.platform) === 'fifo';
  checks.push({
    id: 'engine', title: 'Container engine', status: 'ok',
    summary: `${formatEndpoint(endpoint)}, found by ${endpoint.source}${local ? '' : ' (not on this machine\'s kernel: stdio goes through the engine\'s attach stream)'}`,
    detail: { endpoint: formatEndpoint(endpoint), source: endpoint.source, local },
  });
  try {
    const res = await engineRequest(endpoint, 'GET', '/version');
    const version = readEngineVersion(res.body, endpoint.podman === true);
    checks.push({ id: 'engine-version', title: 'Engine version', ...judgeEngineVersion(version), detail: { ...version } });
  } catch (error) {
    checks.push({ id: 'engine-version', title: 'Engine version', status: 'warn', summary: `the engine did not say its version: ${failure(error).summary}`, fix: 'Check that the engine is healthy (`docker version`).' });
  }
  return endpoint;
}

async function checkImageAndSandbox(ctx: Context, endpoint: EngineEndpoint, checks: Check[]): Promise<void> {
  let tag: string;
  try {
    const report = await describeImages(endpoint);
    tag = report.current.tag;
    if (!report.current.built) {
      checks.push({ id: 'image', title: 'Sandbox image', status: 'warn', summary: `${tag} is not built yet: a client's first start would build it (a minute or more)`, fix: 'Run `mcp-lok image build`.' });
      checks.push({ id: 'sandbox', title: 'Sandbox', status: 'skip', summary: 'not tried: the sandbox image is not built', fix: 'Run `mcp-lok image build`, then `mcp-lok doctor` again.' });
      return;
    }
    checks.push({ id: 'image', title: 'Sandbox image', status: 'ok', summary: `${tag} is built`, detail: { tag } });
  } catch (error) {
    const { summary, fix } = failure(error);
    checks.push({ id: 'image', title: 'Sandbox image', status: 'fail', summary, ...(fix ? { fix } : {}) });
    return;
  }
  try {
    const seen = await probeSandbox(ctx, tag);
    const problems = [
      ...(seen.uid === 0 ? ['it ran as root'] : []),
      ...(!seen.readOnlyRoot ? ['its root filesystem was writable'] : []),
      ...(seen.networks.length > 0 ? [`it had network interfaces (${seen.networks.join(', ')})`] : []),
    ];
    checks.push(problems.length > 0
      ? { id: 'sandbox', title: 'Sandbox', status: 'fail', summary: `a test server ran, but ${problems.join(', ')}`, fix: 'Report this as a bug in mcp-lok (with `mcp-lok doctor --json`).', detail: seen }
      : { id: 'sandbox', title: 'Sandbox', status: 'ok', summary: `a test server answered over stdio (uid ${seen.uid}, read-only root, no network, node ${seen.node})`, detail: seen });
  } catch (error) {
    const { summary, fix } = failure(error);
    checks.push({ id: 'sandbox', title: 'Sandbox', status: 'fail', summary: `a test server could not run: ${summary}`, fix: fix ?? 'Run `mcp-lok doctor --debug` to see each step; check the engine with `docker run --rm IMAGE node -e 0`.' });
  }
}

function checkShim(ctx: Context, checks: Check[]): void {
  try {
    const location = locateShim(ctx.env, ctx.platform);
    const path = location.onPath;
    if (path?.same) {
      checks.push({ id: 'shim', title: 'mcp-lok-npx', status: 'ok', summary: `${path.path} (on PATH)`, detail: { file: location.file, command: location.shim.command, onPath: path.path } });
    } else if (path) {
      checks.push({ id: 'shim', title: 'mcp-lok-npx', status: 'warn', summary: `${location.file}; the mcp-lok-npx first on PATH is another copy: ${path.path}`, fix: 'Reinstall mcp-lok (`npm install -g mcp-lok`) so both are the same; configs wrapped by this copy name it by its full path.', detail: { file: location.file, onPath: path.path } });
    } else {
      checks.push({ id: 'shim', title: 'mcp-lok-npx', status: 'warn', summary: `${location.file} (not on PATH: wrapped configs name it by this full path, so clients still find it)`, fix: 'To type `mcp-lok-npx` yourself, install mcp-lok globally: `npm install -g mcp-lok`.', detail: { file: location.file } });
    }
  } catch (error) {
    const { summary, fix } = failure(error);
    checks.push({ id: 'shim', title: 'mcp-lok-npx', status: 'fail', summary, ...(fix ? { fix } : {}) });
  }
}

function checkClients(ctx: Context, checks: Check[]): void {
  let plan;
  try {
    plan = planConfigs(ctx, 'list', { clients: undefined, projectDir: ctx.cwd, servers: [] }, locateShim(ctx.env, ctx.platform).shim);
  } catch (error) {
    checks.push({ id: 'clients', title: 'Clients', status: 'skip', summary: failure(error).summary });
    return;
  }
  const files = plan.files.map((f) => ({
    client: f.clientName, path: f.path, error: f.error,
    servers: f.servers.length, wrapped: f.servers.filter((s) => s.action === 'wrapped').length, npx: f.servers.filter((s) => s.action === 'npx').length,
  }));
  if (files.length === 0) {
    checks.push({ id: 'clients', title: 'Clients', status: 'ok', summary: 'no MCP client config found', detail: { files } });
    return;
  }
  const unwrapped = files.reduce((n, f) => n + f.npx, 0);
  const broken = files.filter((f) => f.error);
  const summary = files.map((f) => `${f.client} ${f.wrapped}/${f.servers} wrapped${f.error ? ` (${f.error})` : ''}`).join('; ');
  const status = broken.length > 0 || unwrapped > 0 ? 'warn' : 'ok';
  const fix = [
    ...(unwrapped > 0 ? [`${unwrapped} npx server${unwrapped === 1 ? ' runs' : 's run'} without a sandbox: \`mcp-lok wrap\` wraps ${unwrapped === 1 ? 'it' : 'them'}.`] : []),
    ...(broken.length > 0 ? ['Fix the files mcp-lok could not read (`mcp-lok wrap --list` names them).'] : []),
  ].join(' ');
  checks.push({ id: 'clients', title: 'Clients', status, summary, ...(fix ? { fix } : {}), detail: { files } });
}

/**
 * Runs every check: the engine (how it was found, its version), the sandbox image, a tiny
 * server in a real sandbox, mcp-lok-npx's path, and the clients' configs. Never throws.
 */
export async function runChecks(ctx: Context): Promise<Check[]> {
  const checks: Check[] = [];
  const endpoint = await checkEngine(ctx, checks);
  if (endpoint) {
    await checkImageAndSandbox(ctx, endpoint, checks);
  } else {
    checks.push({ id: 'image', title: 'Sandbox image', status: 'skip', summary: 'not checked: no engine' });
    checks.push({ id: 'sandbox', title: 'Sandbox', status: 'skip', summary: 'not tried: no engine' });
  }
  checkShim(ctx, checks);
  checkClients(ctx, checks);
  await ctx.swept();
  return checks;
}
