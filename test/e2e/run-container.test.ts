// runContainer against the real engine, in the sandbox image the code builds: both stdio channels
// pass bytes unchanged, the exit code comes back, an abort stops the server, and no container
// outlives the call.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { removeContainer } from '../../src/engine/containers.js';
import { ensureSandboxImage } from '../../src/prepare/images.js';
import { buildContainerSpec, type MountPlan } from '../../src/sandbox/build-spec.js';
import { FIFO_MOUNT } from '../../src/sandbox/hardening.js';
import { buildLabels } from '../../src/sandbox/labels.js';
import { currentOwner } from '../../src/state/owner.js';
import { createFifos, removeFifos, wrapWithFifos, type FifoSet } from '../../src/stdio/fifo.js';
import { runContainer, type ChannelChoice, type RunIo } from '../../src/stdio/run-container.js';
import { ENGINE, LOK_HOME, lokContainers, requireEngine } from './harness.js';

/** Copies stdin to stdout, then says goodbye on stderr and exits 3. */
const ECHO_THEN_EXIT = ['node', '-e', 'process.stdin.pipe(process.stdout); process.stdin.on("end", () => { process.stderr.write("bye\\n"); process.exitCode = 3; });'];
/** Ignores its stdin closing; exits 7 on SIGTERM. */
const WAITS_FOR_TERM = ['node', '-e', 'setInterval(() => {}, 1000); process.on("SIGTERM", () => process.exit(7)); process.stdout.write("up\\n");'];
/** Bytes a text channel would mangle: a NUL, invalid UTF-8, CR LF, and no final newline. */
const BYTES = Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1}\r\n'), Buffer.from([0x00, 0xff, 0xfe, 0x0a]), Buffer.from('tail')]);

let image = '';
const names: string[] = [];
const fifoSets: FifoSet[] = [];

function newName(): string {
  const name = `lok-test-run-container-${randomBytes(3).toString('hex')}`;
  names.push(name);
  return name;
}

function bodyFor(name: string, cmd: string[], options: { interactive: boolean; mounts?: MountPlan[]; image?: string }): ReturnType<typeof buildContainerSpec> {
  const img = options.image ?? image;
  return buildContainerSpec({
    name, image: img, cmd, env: {}, mounts: options.mounts ?? [], memoryBytes: 256 * 1024 ** 2, cpus: 1, pids: 64, nofile: 1024,
    network: 'none', interactive: options.interactive, autoRemove: true,
    labels: buildLabels({ name, role: 'run', launcher: 'run', transport: 'stdio', profile: 'stdio', packages: [], image: img, owner: currentOwner() }),
  });
}

function collector(): { io: Pick<RunIo, 'onStdout' | 'onStderr'>; out: () => Buffer; err: () => string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  return {
    io: { onStdout: (c) => out.push(Buffer.from(c)), onStderr: (c) => err.push(Buffer.from(c)) },
    out: () => Buffer.concat(out),
    err: () => Buffer.concat(err).toString(),
  };
}

async function containersNamed(name: string): Promise<number> {
  return (await lokContainers(`mcp-lok-name=${name}`)).length;
}

async function fifoChannelChoice(name: string): Promise<{ channel: ChannelChoice; mounts: MountPlan[] }> {
  const fifos = await createFifos(join(LOK_HOME, 'test-run-container'), name);
  fifoSets.push(fifos);
  return { channel: { kind: 'fifo', fifos }, mounts: [{ type: 'bind', source: fifos.dir, target: FIFO_MOUNT, readOnly: true }] };
}

const rc = suite('runContainer against a real engine');

rc.before(async () => {
  await requireEngine();
  image = await ensureSandboxImage(ENGINE, { log: (line) => process.stderr.write(`${line}\n`) });
});

rc.after(async () => {
  // Whatever a failed test left: only this file's own containers, by their unique names.
  for (const name of names) for (const c of await lokContainers(`mcp-lok-name=${name}`)) await removeContainer(ENGINE, c.Id);
  for (const set of fifoSets) await removeFifos(set);
});

for (const kind of ['attach', 'fifo'] as const) {
  rc(`${kind} channel: passes bytes both ways unchanged, returns the server's exit code, and leaves no container`, async () => {
    const name = newName();
    const { channel, mounts } = kind === 'attach' ? { channel: { kind: 'attach' } as ChannelChoice, mounts: [] } : await fifoChannelChoice(name);
    const cmd = kind === 'fifo' ? wrapWithFifos(ECHO_THEN_EXIT) : ECHO_THEN_EXIT;
    const stdin = new PassThrough();
    const seen = collector();
    let started = '';
    const running = runContainer(ENGINE, name, bodyFor(name, cmd, { interactive: true, mounts }), { ...seen.io, stdin }, {
      channel, reaper: false, handleSignals: false, onStarted: (id) => { started = id; },
    });
    stdin.end(BYTES);
    const code = await running;
    assert.is(code, 3, seen.err());
    assert.ok(seen.out().equals(BYTES), `stdout was ${seen.out().toString('hex')}`);
    assert.is(seen.err(), 'bye\n');
    assert.match(started, /^[0-9a-f]{64}$/);
    assert.is(await containersNamed(name), 0);
  });
}

rc('an abort stops a server that ignores its stdin, with SIGTERM first, and removes it', async () => {
  const name = newName();
  const seen = collector();
  const abort = new AbortController();
  const code = await runContainer(ENGINE, name, bodyFor(name, WAITS_FOR_TERM, { interactive: false }), {
    ...seen.io, onStdout: (c) => { seen.io.onStdout(c); if (seen.out().toString().includes('up\n')) abort.abort(); },
  }, { channel: { kind: 'attach' }, reaper: false, handleSignals: false, signal: abort.signal });
  assert.is(code, 7, `the server got SIGTERM and chose its exit code (stderr: ${seen.err()})`);
  assert.is(await containersNamed(name), 0);
});

rc('keeps its process alive until it returns the exit code, even when the copy of the output ends after the exit is known', async () => {
  // In a child process, as in mcp-lok-npx: nothing else there keeps the event loop alive, and a
  // loop that empties ends the process before the code is returned (the shim then exited 0 for a
  // server the engine had killed, when the copy's end was read a poll after the exit was known).
  const name = newName();
  const script = fileURLToPath(new URL('./run-container-support.js', import.meta.url));
  const child = spawn(process.execPath, [script, image, name, join(LOK_HOME, 'test-run-container'), 'hold-tap'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.match(err, /runContainer returned 5\n/, `the child ended (code ${code}) before runContainer returned: ${err}`);
  assert.is(code, 5, err);
  assert.is(out, 'up\n');
  assert.is(await containersNamed(name), 0);
});

rc('a container the engine cannot create is an error, and nothing is left', async () => {
  const name = newName();
  const seen = collector();
  let failed: unknown;
  await runContainer(ENGINE, name, bodyFor(name, ['node', '-e', '0'], { interactive: false, image: 'mcp-lok-test/no-such-image:0' }), seen.io, {
    channel: { kind: 'attach' }, reaper: false, handleSignals: false,
  }).catch((error: unknown) => { failed = error; });
  assert.ok(failed instanceof Error, 'runContainer rejected');
  assert.is(await containersNamed(name), 0);
  assert.is(seen.out().length, 0);
});

rc.run();
