// HTTP figures for `npm run bench`: `tools/call` of server-everything's `echo` over streamable HTTP,
//  1. through mcp-lok's reverse proxy vs straight to the same server's ingress socket (the proxy's cost);
//  2. mcp-lok's stdio bridge vs supergateway, both running the same server in the same sandbox.
// The client is raw node:http with keep-alive and a hand-made MCP handshake, so it costs little.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineRequest } from '../src/engine/http.js';
import type { EngineEndpoint } from '../src/engine/endpoint.js';
import { LABEL } from '../src/sandbox/labels.js';
import { DEFAULT_TARGET_PORT } from '../src/app/serve-http.js';

const EVERYTHING = '@modelcontextprotocol/server-everything';
const PROTOCOL_VERSION = '2025-06-18';
const ACCEPT = 'application/json, text/event-stream';
const READY_TIMEOUT_MS = 60_000;
const CLEANUP_TIMEOUT_MS = 30_000;
const WARMUP_CALLS = 300;
const INGRESS_SOCKET = 'http.sock';

export interface HttpBenchOptions {
  /** The repository root (for bin/mcp-lok, bin/mcp-lok-npx and node_modules/.bin/supergateway). */
  root: string;
  engine: EngineEndpoint;
  /** Sequential calls per target, over all rounds. */
  calls: number;
  /** Calls per throughput figure, over all rounds. */
  burst: number;
  rounds: number;
  /** Requests in flight per session. */
  inFlight: number;
  /** Sessions in the multi-session throughput figure. */
  sessions: number;
  log: (line: string) => void;
}

/** Latency over all sequential calls, throughput as the median of the rounds. */
export interface CallStats { p50us: number; p99us: number; perSecond: number }
export interface BridgeStats extends CallStats { perSecondSessions: number }
export interface HttpFigures {
  inFlight: number;
  sessions: number;
  proxy: CallStats;
  direct: CallStats;
  bridge: BridgeStats;
  supergateway: BridgeStats;
}

/** Where requests go: a TCP address or a Unix socket, the Host header to send, and the MCP path. */
interface Target { connect: { host: string; port: number } | { socketPath: string }; host: string; path: string }
interface Session extends Target { agent: Agent; id: string; next: number }
interface Reply { status: number; type: string; sessionId: string | undefined; text: string }

function post(s: Target & { agent: Agent }, body: string, sessionId: string | undefined): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { host: s.host, 'content-type': 'application/json', accept: ACCEPT, 'content-length': Buffer.byteLength(body) };
    if (sessionId !== undefined) { headers['mcp-session-id'] = sessionId; headers['mcp-protocol-version'] = PROTOCOL_VERSION; }
    const req = request({ ...s.connect, agent: s.agent, method: 'POST', path: s.path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? '', sessionId: res.headers['mcp-session-id'] as string | undefined, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Returns the JSON-RPC message answering `id` from a JSON body or an SSE stream, or undefined. */
function findAnswer(reply: Reply, id: number): { id?: unknown; result?: unknown; error?: unknown } | undefined {
  const messages: string[] = /^\s*text\/event-stream/i.test(reply.type)
    ? reply.text.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5))
    : [reply.text];
  for (const m of messages) {
    const parsed = JSON.parse(m) as unknown;
    for (const msg of (Array.isArray(parsed) ? parsed : [parsed]) as Array<{ id?: unknown; result?: unknown }>) if (msg.id === id) return msg;
  }
  return undefined;
}

async function openSession(target: Target): Promise<Session> {
  const s = { ...target, agent: new Agent({ keepAlive: true }) };
  const init = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'bench', version: '1' } } });
  const reply = await post(s, init, undefined);
  if (reply.status !== 200 || !reply.sessionId || !findAnswer(reply, 0)) throw new Error(`initialize at ${s.host}${s.path} answered ${reply.status}: ${reply.text.slice(0, 200)}`);
  const ack = await post(s, '{"jsonrpc":"2.0","method":"notifications/initialized"}', reply.sessionId);
  if (ack.status !== 202) throw new Error(`notifications/initialized at ${s.host}${s.path} answered ${ack.status}`);
  return { ...s, id: reply.sessionId, next: 1 };
}

async function callEcho(s: Session): Promise<void> {
  const id = s.next++;
  const reply = await post(s, `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}`, s.id);
  const text = reply.status !== 200 ? undefined : (findAnswer(reply, id)?.result as { content?: Array<{ text?: string }> } | undefined)?.content?.[0]?.text;
  if (text !== 'Echo: hi') throw new Error(`echo answered ${reply.status}: ${reply.text.slice(0, 200)}`);
}

async function sequential(s: Session, count: number, rtts: number[]): Promise<void> {
  for (let i = 0; i < count; i++) {
    const t0 = process.hrtime.bigint();
    await callEcho(s);
    rtts.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
}

/** Returns calls per second with `inFlight` requests outstanding on each session until `count` are done. */
async function burst(sessions: Session[], inFlight: number, count: number): Promise<number> {
  let started = 0;
  const worker = async (s: Session): Promise<void> => { while (started++ < count) await callEcho(s); };
  const t0 = performance.now();
  await Promise.all(sessions.flatMap((s) => Array.from({ length: inFlight }, () => worker(s))));
  return count / ((performance.now() - t0) / 1000);
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? NaN; };
const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? NaN; };

/** One target of an interleaved comparison: its sessions (the first serves the sequential and single-session figures). */
interface Side { sessions: Session[]; rtts: number[]; rates: number[]; ratesSessions: number[] }

/** Measures every side in turn, round after round (A, B, A, B...), so drift falls on all alike. */
async function measureSides(sides: Side[], o: HttpBenchOptions, multi: boolean): Promise<void> {
  for (const side of sides) {
    await sequential(side.sessions[0]!, WARMUP_CALLS, []);
    await burst(side.sessions, o.inFlight, WARMUP_CALLS * 2);
  }
  const calls = Math.ceil(o.calls / o.rounds);
  const count = Math.ceil(o.burst / o.rounds);
  for (let round = 0; round < o.rounds; round++) {
    for (const side of sides) {
      await sequential(side.sessions[0]!, calls, side.rtts);
      side.rates.push(await burst(side.sessions.slice(0, 1), o.inFlight, count));
      if (multi) side.ratesSessions.push(await burst(side.sessions, o.inFlight, count));
    }
  }
}

const newSide = (sessions: Session[]): Side => ({ sessions, rtts: [], rates: [], ratesSessions: [] });
const statsOf = (side: Side): BridgeStats => ({ p50us: median(side.rtts), p99us: pct(side.rtts, 0.99), perSecond: median(side.rates), perSecondSessions: median(side.ratesSessions) });

function runNode(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [file, ...args], { env, timeout: 2 * READY_TIMEOUT_MS }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${args.join(' ')} failed: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`supergateway exited (${child.exitCode ?? child.signalCode}) before listening`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true); }).once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`supergateway did not listen on port ${port} within ${READY_TIMEOUT_MS / 1000}s`);
}

/** Ends supergateway the way it expects (stdin closes: it stops its children's process groups), then kills its group. */
async function stopSupergateway(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => { if (child.exitCode !== null || child.signalCode !== null) resolve(); else child.once('exit', () => resolve()); });
  child.stdin?.end();
  const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 10_000);
  await exited;
  clearTimeout(timer);
  try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* the group is gone */ }
}

/** Returns the pids below `root`, read from /proc (empty where there is none). */
function listDescendants(root: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[];
  try { entries = readdirSync('/proc'); } catch { return []; }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try { stat = readFileSync(`/proc/${entry}/stat`, 'utf8'); } catch { continue; }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  for (let queue = [root]; queue.length > 0;) for (const pid of children.get(queue.shift()!) ?? []) { found.push(pid); queue.push(pid); }
  return found;
}

const isAlive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };

interface LokContainer { Id: string; Names: string[]; Labels: Record<string, string> }

async function listLokContainers(engine: EngineEndpoint): Promise<LokContainer[]> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`${LABEL.managed}=true`] }));
  return (await engineRequest<LokContainer[]>(engine, 'GET', `/containers/json?all=1&filters=${filters}`)).body;
}

/**
 * Returns the bench's own containers among those new since `before`: named after its servers,
 * or owned by a process below supergateway (the shims). Others' containers are left alone.
 */
async function listBenchContainers(engine: EngineEndpoint, before: Set<string>, names: string[], owners: number[]): Promise<LokContainer[]> {
  return (await listLokContainers(engine)).filter((c) => !before.has(c.Id)
    && (names.includes(c.Labels[LABEL.name] ?? '') || owners.includes(Number(c.Labels[LABEL.ownerPid]))));
}

/** Waits until the given containers and processes are gone; warns about any that stay. */
async function checkGone(engine: EngineEndpoint, containers: LokContainer[], pids: number[], log: (line: string) => void): Promise<void> {
  const deadline = Date.now() + CLEANUP_TIMEOUT_MS;
  let left: string[] = [];
  while (Date.now() < deadline) {
    const ids = new Set((await listLokContainers(engine)).map((c) => c.Id));
    left = [
      ...containers.filter((c) => ids.has(c.Id)).map((c) => `container ${c.Names[0]?.replace(/^\//, '') ?? c.Id}`),
      ...pids.filter(isAlive).map((pid) => `process ${pid}`),
    ];
    if (left.length === 0) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  log(`bench: WARNING: still there after the HTTP bench: ${left.join(', ')}`);
}

/** Returns the ingress sidecar's socket of server `name`: the one `http.sock` in its folders under state/run. */
function findIngressSocket(home: string, name: string): string {
  const run = join(home, 'data', 'state', 'run');
  const dir = readdirSync(run).find((d) => (d.startsWith(`${name}.`) || d.startsWith(`${name}-`)) && existsSync(join(run, d, INGRESS_SOCKET)));
  if (!dir) throw new Error(`no ingress socket for ${name} under ${run}`);
  return join(run, dir, INGRESS_SOCKET);
}

function parseStarted(stdout: string): { name: string; url: URL } {
  const [name, url] = stdout.trim().split(/\s+/);
  if (!name || !url) throw new Error(`mcp-lok start printed ${JSON.stringify(stdout)}`);
  return { name, url: new URL(url) };
}

const tcpTarget = (url: URL): Target => ({ connect: { host: url.hostname, port: Number(url.port) }, host: url.host, path: url.pathname });

/**
 * Returns the HTTP figures: starts (in a private MCP_LOK_HOME) server-everything listening itself
 * behind mcp-lok's proxy, the same stdio server behind mcp-lok's bridge, and supergateway running it
 * through mcp-lok-npx; removes all of them, and checks their containers are gone, before returning.
 */
export async function measureHttp(o: HttpBenchOptions): Promise<HttpFigures> {
  const home = mkdtempSync(join(tmpdir(), 'mcp-lok-bench-'));
  const env = { ...process.env, MCP_LOK_HOME: home };
  const manager = join(o.root, 'bin', 'mcp-lok');
  const proxyName = `bench-proxy-${process.pid}`;
  const bridgeName = `bench-bridge-${process.pid}`;
  const before = new Set((await listLokContainers(o.engine)).map((c) => c.Id));
  const started: string[] = [];
  const agents: Agent[] = [];
  const open = async (target: Target): Promise<Session> => { const s = await openSession(target); agents.push(s.agent); return s; };
  const openMany = (target: Target): Promise<Session[]> => Promise.all(Array.from({ length: o.sessions }, () => open(target)));
  let gateway: ChildProcess | undefined;
  try {
    o.log('bench: HTTP: starting server-everything behind mcp-lok\'s proxy (installs it in a fresh MCP_LOK_HOME)...');
    started.push(proxyName);
    const proxied = parseStarted(await runNode(manager, ['start', '--name', proxyName, `npx://${EVERYTHING}`, '--', 'streamableHttp'], env));
    const viaProxy = await open(tcpTarget(proxied.url));
    const direct = await open({ connect: { socketPath: findIngressSocket(home, proxyName) }, host: `localhost:${DEFAULT_TARGET_PORT}`, path: proxied.url.pathname });
    o.log('bench: HTTP: proxy vs direct...');
    const proxySides = [newSide([viaProxy]), newSide([direct])];
    await measureSides(proxySides, o, false);
    const [proxy, directStats] = proxySides.map(statsOf) as [BridgeStats, BridgeStats];

    o.log('bench: HTTP: starting the stdio server behind mcp-lok\'s bridge and behind supergateway...');
    started.push(bridgeName);
    const bridged = parseStarted(await runNode(manager, ['start', '--name', bridgeName, `npx://${EVERYTHING}`], env));
    const port = await freePort();
    // supergateway 4.0.0 has no bind-address option: it listens on every interface while the bench runs.
    const stdio = `'${process.execPath}' '${join(o.root, 'bin', 'mcp-lok-npx')}' -y ${EVERYTHING}`;
    gateway = spawn(process.execPath, [join(o.root, 'node_modules', '.bin', 'supergateway'), '--stdio', stdio, '--outputTransport', 'streamableHttp', '--stateful', '--port', String(port), '--logLevel', 'none'], {
      env, detached: true, stdio: ['pipe', 'ignore', 'inherit'],
    });
    await waitForPort(port, gateway);
    const [bridgeSessions, gatewaySessions] = await Promise.all([openMany(tcpTarget(bridged.url)), openMany(tcpTarget(new URL(`http://127.0.0.1:${port}/mcp`)))]);
    o.log(`bench: HTTP: bridge vs supergateway (1 and ${o.sessions} sessions)...`);
    const bridgeSides = [newSide(bridgeSessions), newSide(gatewaySessions)];
    await measureSides(bridgeSides, o, true);
    const [bridge, supergateway] = bridgeSides.map(statsOf) as [BridgeStats, BridgeStats];
    const callStats = ({ p50us, p99us, perSecond }: CallStats): CallStats => ({ p50us, p99us, perSecond });
    return { inFlight: o.inFlight, sessions: o.sessions, proxy: callStats(proxy), direct: callStats(directStats), bridge, supergateway };
  } finally {
    for (const a of agents) a.destroy();
    const shims = gateway?.pid === undefined ? [] : listDescendants(gateway.pid);
    const ours = await listBenchContainers(o.engine, before, started, shims).catch(() => []);
    if (gateway) await stopSupergateway(gateway);
    for (const name of started) {
      // --home: each run's servers have names of their own, so their home volumes go with them.
      for (const command of [['stop'], ['rm', '--home']]) await runNode(manager, [...command, name], env).catch((error: Error) => o.log(`bench: ${error.message}`));
    }
    await checkGone(o.engine, ours, shims, o.log);
    rmSync(home, { recursive: true, force: true });
  }
}

/** Returns the table rows for the HTTP figures, in the style of the stdio ones. */
export function formatHttpRows(f: HttpFigures): Array<[string, string, string]> {
  const us = (n: number): string => n.toFixed(0);
  const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;
  const n = `${f.inFlight} in flight`;
  const ns = `${f.sessions} sessions x ${f.inFlight} in flight`;
  return [
    ['HTTP echo p50, direct to ingress socket (us)', us(f.direct.p50us), ''],
    ['HTTP echo p50, through mcp-lok proxy (us)', us(f.proxy.p50us), `+${us(f.proxy.p50us - f.direct.p50us)} us (target <= +300 us)`],
    ['HTTP echo p99, direct to ingress socket (us)', us(f.direct.p99us), ''],
    ['HTTP echo p99, through mcp-lok proxy (us)', us(f.proxy.p99us), ''],
    [`HTTP echo/s ${n}, direct to ingress socket`, us(f.direct.perSecond), ''],
    [`HTTP echo/s ${n}, through mcp-lok proxy`, us(f.proxy.perSecond), `${ratio(f.proxy.perSecond, f.direct.perSecond)} direct`],
    ['bridge echo p50, mcp-lok bridge (us)', us(f.bridge.p50us), `supergateway ${us(f.supergateway.p50us)} us`],
    ['bridge echo p99, mcp-lok bridge (us)', us(f.bridge.p99us), `supergateway ${us(f.supergateway.p99us)} us`],
    [`bridge echo/s ${n}, mcp-lok bridge`, us(f.bridge.perSecond), `${ratio(f.bridge.perSecond, f.supergateway.perSecond)} supergateway ${us(f.supergateway.perSecond)}/s (target > 1x)`],
    [`bridge echo/s ${ns}, mcp-lok bridge`, us(f.bridge.perSecondSessions), `${ratio(f.bridge.perSecondSessions, f.supergateway.perSecondSessions)} supergateway ${us(f.supergateway.perSecondSessions)}/s (target > 1x)`],
  ];
}
