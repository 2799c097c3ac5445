// Pieces of the escape test: a host port that counts who connects, the probe's JSON line,
// and the same probe run in a plain `docker run` container for comparison.
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { engineRequest } from '../../src/engine/http.js';
import { ENGINE } from './harness.js';

export interface Probe { name: string; escaped: boolean; detail: string }

export interface ConnectionCounter { port: number; count: () => number; peers: () => string[]; close: () => Promise<void> }

/** Listens on host:0 and counts every connection (closing each at once), so a test can prove nobody reached it. */
export async function startConnectionCounter(host: string): Promise<ConnectionCounter> {
  const peers: string[] = [];
  const server = createServer((socket) => {
    peers.push(`${socket.remoteAddress}:${socket.remotePort}`);
    socket.on('error', () => undefined);
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    count: () => peers.length,
    peers: () => [...peers],
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export interface DnsResponder { address: string; port: number; queries: () => string[]; close: () => Promise<void> }

/**
 * Answers every DNS query for `name` with an A record of `answer` (others get NXDOMAIN) on
 * host:0 over UDP, and records who asked: the probe's "can resolve names" needs a resolver,
 * and this one is the test's own, so no query leaves the machine.
 */
export async function startDnsResponder(host: string, name: string, answer: string): Promise<DnsResponder> {
  const queries: string[] = [];
  const socket = createSocket('udp4');
  socket.on('message', (msg, peer) => {
    queries.push(`${peer.address}:${peer.port}`);
    if (msg.length < 12) return;
    let offset = 12;
    const labels: string[] = [];
    while (offset < msg.length && msg[offset] !== 0) {
      const length = msg[offset] ?? 0;
      labels.push(msg.subarray(offset + 1, offset + 1 + length).toString('latin1'));
      offset += length + 1;
    }
    const questionEnd = offset + 5;
    if (questionEnd > msg.length) return;
    const qtype = msg.readUInt16BE(offset + 1);
    const known = labels.join('.').toLowerCase() === name.toLowerCase();
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2);
    header.writeUInt16BE(known ? 0x8180 : 0x8183, 2);
    header.writeUInt16BE(1, 4);
    const withAnswer = known && qtype === 1;
    header.writeUInt16BE(withAnswer ? 1 : 0, 6);
    const parts = [header, msg.subarray(12, questionEnd)];
    if (withAnswer) {
      const record = Buffer.alloc(16);
      record.writeUInt16BE(0xc00c, 0);
      record.writeUInt16BE(1, 2);
      record.writeUInt16BE(1, 4);
      record.writeUInt32BE(60, 6);
      record.writeUInt16BE(4, 10);
      answer.split('.').forEach((octet, i) => record.writeUInt8(Number(octet), 12 + i));
      parts.push(record);
    }
    socket.send(Buffer.concat(parts), peer.port, peer.address);
  });
  await new Promise<void>((resolve, reject) => { socket.once('error', reject); socket.bind(0, host, () => resolve()); });
  return {
    address: host,
    port: socket.address().port,
    queries: () => [...queries],
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

/** Returns the newest tag of mcp-lok's sandbox image. */
export async function newestSandboxImage(): Promise<string> {
  const filters = encodeURIComponent(JSON.stringify({ reference: ['mcp-lok/sandbox'] }));
  const images = (await engineRequest<Array<{ Created: number; RepoTags: string[] | null }>>(ENGINE, 'GET', `/images/json?filters=${filters}`)).body;
  const newest = images.sort((a, b) => b.Created - a.Created).find((i) => i.RepoTags?.some((t) => t.startsWith('mcp-lok/sandbox:')));
  const tag = newest?.RepoTags?.find((t) => t.startsWith('mcp-lok/sandbox:'));
  if (!tag) throw new Error('no mcp-lok/sandbox image: the sandbox run should have built it');
  return tag;
}

/** Parses the probe's one JSON line from its stdout; throws with the output when there is none. */
export function parseProbes(stdout: string, stderr: string): Probe[] {
  const line = stdout.trim().split('\n').pop() ?? '';
  try {
    const parsed = JSON.parse(line) as { probes?: Probe[] };
    if (Array.isArray(parsed.probes)) return parsed.probes;
  } catch { /* reported below */ }
  throw new Error(`the probe printed no JSON line.\nstdout: ${stdout.slice(0, 2000)}\nstderr: ${stderr.slice(-4000)}`);
}

/** Returns a fixed-width table of probe outcomes for the log. */
export function formatProbes(title: string, probes: Probe[]): string {
  const width = Math.max(...probes.map((p) => p.name.length));
  return [title, ...probes.map((p) => `  ${p.name.padEnd(width)}  ${p.escaped ? 'ESCAPED' : 'held   '}  ${p.detail}`)].join('\n');
}

export interface PlainRun { code: number | null; stdout: string; stderr: string }

/** Runs `docker` with arguments and returns its exit code and output, rejecting only when it cannot start or times out. */
export function runDocker(args: string[], timeoutMs: number): Promise<PlainRun> {
  return new Promise((resolve, reject) => {
    execFile('docker', args, { timeout: timeoutMs, maxBuffer: 8 * 1024 * 1024, env: { ...process.env, DOCKER_HOST: 'unix:///var/run/docker.sock' } }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') { reject(new Error(`docker ${args[0]} failed: ${error.message}\n${stderr}`)); return; }
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
  });
}

/** Removes the package volumes installs of one fixture left (each run's registry port makes them new). */
export async function removeFixtureVolumes(packageName: string): Promise<void> {
  const filters = encodeURIComponent(JSON.stringify({ label: ['mcp-lok=true', 'mcp-lok-kind=packages'] }));
  const volumes = (await engineRequest<{ Volumes: Array<{ Name: string; Labels: Record<string, string> }> | null }>(ENGINE, 'GET', `/volumes?filters=${filters}`)).body.Volumes ?? [];
  for (const v of volumes) {
    const label = v.Labels['mcp-lok-package'] ?? '';
    if (label === packageName || label.startsWith(`${packageName}@`)) await engineRequest(ENGINE, 'DELETE', `/volumes/${v.Name}`).catch(() => undefined);
  }
}
