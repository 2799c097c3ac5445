// Grants against the real engine: Unix sockets and temporary folders are refused, `.git` stays
// read-only inside a write grant, every container create checks the grants again (a swapped
// path or a new socket refuses the next session of a background server), and `profile check`
// says exactly what `run` says.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { scratchDir } from '../support/scratch.js';
import { removeFixtureVolumes } from './escape-support.js';
import { engineRequest } from '../../src/engine/http.js';
import { ensureSandboxImage } from '../../src/prepare/images.js';
import { buildPinCheck } from '../../src/sandbox/mount-pin.js';
import { pinNestedMounts } from '../../src/prepare/mount-pins.js';
import { ENGINE, EVERYTHING, MANAGER, SHIM, connectShim, eventually, lokContainers, requireEngine, runBin } from './harness.js';
import { startFixtureRegistry, type FixtureRegistry } from './registry.js';

const FILESYSTEM = '@modelcontextprotocol/server-filesystem';
const UNIX_FIXTURE = 'lok-fixture-unix';
type ToolResult = { content: Array<{ text: string }>; isError?: boolean };

/** A folder the sandbox user may write, holding one file. */
function folder(prefix: string): string {
  const dir = scratchDir(prefix);
  chmodSync(dir, 0o777);
  writeFileSync(join(dir, 'notes.txt'), `in ${prefix}\n`);
  return dir;
}

function writeProfile(content: unknown): string {
  const path = join(scratchDir('profile-'), 'profile.json');
  writeFileSync(path, JSON.stringify(content));
  return path;
}

/** Listens on a Unix socket at `path` and counts the connections it gets. */
async function listenAt(path: string): Promise<{ server: Server; connections: () => number }> {
  let count = 0;
  const server = createServer((socket) => { count += 1; socket.resume(); socket.on('error', () => {}); });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { server, connections: () => count };
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Returns stderr's one line without the program's name, after checking it is one line. */
function oneLine(stderr: string, prog: string): string {
  const lines = stderr.trim().split('\n');
  assert.is(lines.length, 1, stderr);
  assert.ok(lines[0]?.startsWith(`${prog}: `), stderr);
  return (lines[0] ?? '').slice(prog.length + 2);
}

const planTime = suite('grants are checked before anything is created');

planTime.before(requireEngine);

planTime('refuses a folder holding a Unix socket, naming it, and the same line comes from profile check', async () => {
  const dir = folder('with-socket-');
  mkdirSync(join(dir, 'deep'));
  const socketPath = join(dir, 'deep', 'agent.sock');
  const listener = await listenAt(socketPath);
  try {
    const profile = writeProfile({ read: [dir] });
    const before = (await lokContainers()).length;
    const shim = await runBin(SHIM, ['--profile', profile, '-y', FILESYSTEM, dir]);
    assert.is(shim.code, 125, shim.stderr);
    assert.is(shim.stdout.length, 0);
    const line = oneLine(shim.stderr, 'mcp-lok-npx');
    assert.match(line, `refusing to grant ${dir}: it contains a Unix socket (${socketPath})`);
    const check = await runBin(MANAGER, ['profile', 'check', profile]);
    assert.is(check.code, 2, check.stderr);
    assert.is(oneLine(check.stderr, 'mcp-lok'), line);
    assert.is((await lokContainers()).length, before);
    assert.is(listener.connections(), 0);
  } finally {
    await close(listener.server);
  }
});

planTime('refuses a folder holding a named pipe, which a read-only mount would let the server write to, naming it', async () => {
  const dir = folder('with-pipe-');
  mkdirSync(join(dir, 'irc'));
  const pipe = join(dir, 'irc', 'in');
  execFileSync('mkfifo', [pipe]);
  const profile = writeProfile({ read: [dir] });
  const before = (await lokContainers()).length;
  const shim = await runBin(SHIM, ['--profile', profile, '-y', FILESYSTEM, dir]);
  assert.is(shim.code, 125, shim.stderr);
  assert.is(shim.stdout.length, 0);
  const line = oneLine(shim.stderr, 'mcp-lok-npx');
  assert.match(line, `refusing to grant ${dir}: it contains a named pipe (${pipe})`);
  const check = await runBin(MANAGER, ['profile', 'check', profile]);
  assert.is(check.code, 2, check.stderr);
  assert.is(oneLine(check.stderr, 'mcp-lok'), line);
  assert.is((await lokContainers()).length, before);
});

planTime('refuses /tmp and the temporary folders, where other programs keep their sockets', async () => {
  for (const grant of ['/tmp:/data', '/var/tmp:/data']) {
    const profile = writeProfile({ read: [grant] });
    const shim = await runBin(SHIM, ['--profile', profile, '-y', FILESYSTEM, '/data']);
    assert.is(shim.code, 125, shim.stderr);
    assert.match(oneLine(shim.stderr, 'mcp-lok-npx'), /refusing to grant \/(var\/)?tmp: it is a temporary or runtime folder/);
    const check = await runBin(MANAGER, ['profile', 'check', profile]);
    assert.is(check.code, 2, check.stderr);
    assert.match(check.stderr, /temporary or runtime folder/);
  }
});

planTime('profile check says what run says, word for word, for every kind of refusal', async () => {
  const readOnly = scratchDir('not-writable-');
  chmodSync(readOnly, 0o755);
  const link = join(scratchDir('link-'), 'innocent');
  symlinkSync('/etc', link);
  const cases: unknown[] = [
    { read: ['/etc'] },
    { read: [link] },
    { read: [join(scratchDir('gone-'), 'missing')] },
    ...(process.getuid?.() === 0 ? [{ write: [readOnly] }] : []),
    { read: ['~/.npm'] },
  ];
  for (const content of cases) {
    const profile = writeProfile(content);
    const run = await runBin(MANAGER, ['run', '--profile', profile, `npx://${FILESYSTEM}`, '--', '/data']);
    const check = await runBin(MANAGER, ['profile', 'check', profile]);
    assert.is(run.code, 2, run.stderr);
    assert.is(check.code, 2, check.stderr);
    assert.is(oneLine(check.stderr, 'mcp-lok'), oneLine(run.stderr, 'mcp-lok'), JSON.stringify(content));
  }
});

planTime.run();

const git = suite('.git stays read-only inside a write grant');

git.before(requireEngine);

git('a server cannot write .git/hooks or .git/config, writes beside them, and stderr says why', async () => {
  const dir = folder('work-tree-');
  mkdirSync(join(dir, '.git', 'hooks'), { recursive: true });
  chmodSync(join(dir, '.git'), 0o777);
  chmodSync(join(dir, '.git', 'hooks'), 0o777);
  writeFileSync(join(dir, '.git', 'config'), '[core]\n');
  chmodSync(join(dir, '.git', 'config'), 0o666);
  const profile = writeProfile({ write: [dir] });
  const { client, stderr } = await connectShim(['--profile', profile, '-y', FILESYSTEM, dir]);
  try {
    const hook = await client.callTool({ name: 'write_file', arguments: { path: join(dir, '.git', 'hooks', 'pre-commit'), content: '#!/bin/sh\necho owned\n' } }) as ToolResult;
    assert.ok(hook.isError, 'a hook was written');
    assert.match(hook.content[0]?.text ?? '', /EROFS|read-only/);
    const config = await client.callTool({ name: 'write_file', arguments: { path: join(dir, '.git', 'config'), content: '[core]\n\tfsmonitor = touch /owned\n' } }) as ToolResult;
    assert.ok(config.isError, '.git/config was written');
    assert.is(readFileSync(join(dir, '.git', 'config'), 'utf8'), '[core]\n');
    assert.not.ok(existsSync(join(dir, '.git', 'hooks', 'pre-commit')));
    const beside = await client.callTool({ name: 'write_file', arguments: { path: join(dir, 'code.txt'), content: 'ok' } }) as ToolResult;
    assert.not.ok(beside.isError, beside.content[0]?.text);
    assert.is(readFileSync(join(dir, 'code.txt'), 'utf8'), 'ok');
    assert.match(stderr(), new RegExp(`${join(dir, '.git').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} stays read-only .*git_writable`));
  } finally {
    await client.close();
  }
});

git('a bare repository in a write grant is read-only too, whatever its name: a server cannot plant the hook your next push runs', async () => {
  const dir = folder('with-bare-');
  const bare = join(dir, 'site.git');
  for (const sub of ['hooks', 'objects', 'refs']) mkdirSync(join(bare, sub), { recursive: true });
  writeFileSync(join(bare, 'HEAD'), 'ref: refs/heads/main\n');
  chmodSync(bare, 0o777);
  chmodSync(join(bare, 'hooks'), 0o777);
  const profile = writeProfile({ write: [dir] });
  const { client, stderr } = await connectShim(['--profile', profile, '-y', FILESYSTEM, dir]);
  try {
    const hook = await client.callTool({ name: 'write_file', arguments: { path: join(bare, 'hooks', 'post-receive'), content: '#!/bin/sh\necho owned\n' } }) as ToolResult;
    assert.ok(hook.isError, 'a hook of the bare repository was written');
    assert.not.ok(existsSync(join(bare, 'hooks', 'post-receive')));
    const beside = await client.callTool({ name: 'write_file', arguments: { path: join(dir, 'notes.txt'), content: 'ok' } }) as ToolResult;
    assert.not.ok(beside.isError, beside.content[0]?.text);
    assert.match(stderr(), /site\.git stays read-only/);
  } finally {
    await client.close();
  }
});

git('"git_writable": true lets the server write .git, as the profile says', async () => {
  const dir = folder('work-tree-writable-');
  mkdirSync(join(dir, '.git', 'hooks'), { recursive: true });
  chmodSync(join(dir, '.git'), 0o777);
  chmodSync(join(dir, '.git', 'hooks'), 0o777);
  const profile = writeProfile({ write: [dir], git_writable: true });
  const { client, stderr } = await connectShim(['--profile', profile, '-y', FILESYSTEM, dir]);
  try {
    const hook = await client.callTool({ name: 'write_file', arguments: { path: join(dir, '.git', 'hooks', 'pre-commit'), content: 'x' } }) as ToolResult;
    assert.not.ok(hook.isError, hook.content[0]?.text);
    assert.not.match(stderr(), /stays read-only/);
  } finally {
    await client.close();
  }
});

git.run();

const sessions = suite('a background server\'s grants are checked again before every session');

let registry: FixtureRegistry | undefined;
const started: string[] = [];

sessions.before(async () => {
  await requireEngine();
  registry = await startFixtureRegistry();
});

sessions.after(async () => {
  for (const name of started) await runBin(MANAGER, ['rm', '-f', name]).catch(() => undefined);
  await registry?.close();
  await removeFixtureVolumes(UNIX_FIXTURE);
});

async function start(name: string, args: string[]): Promise<string> {
  started.push(name);
  const result = await runBin(MANAGER, ['start', '--name', name, ...args], { timeoutMs: 240_000 });
  assert.is(result.code, 0, result.stderr);
  const url = /^\S+ (http:\/\/127\.0\.0\.1:\d+\/mcp)\n$/.exec(result.stdout.toString())?.[1];
  assert.ok(url, result.stdout.toString());
  return url;
}

async function session(url: string): Promise<{ client: Client; end: () => Promise<void> }> {
  const transport = new StreamableHTTPClientTransport(new URL(url));
  const client = new Client({ name: 'mcp-lok-e2e-grants', version: '1.0.0' });
  await client.connect(transport);
  return { client, end: async () => { await transport.terminateSession().catch(() => undefined); await client.close(); } };
}

async function logOf(name: string): Promise<string> {
  const result = await runBin(MANAGER, ['logs', name]);
  return result.stdout.toString() + result.stderr;
}

sessions('a granted path swapped for a link between two sessions refuses the next session, and the log says why', async () => {
  const name = `lok-grants-swap-${randomBytes(3).toString('hex')}`;
  const base = folder('swap-base-');
  const sub = join(base, 'sub');
  mkdirSync(sub);
  writeFileSync(join(sub, 'notes.txt'), 'granted\n');
  const secret = folder('swap-secret-');
  writeFileSync(join(secret, 'secret.txt'), 'not for the server\n');
  const profile = writeProfile({ write: [`${base}:/work`], read: [`${sub}:/sub`] });
  const url = await start(name, ['--profile', profile, `npx://${FILESYSTEM}`, '--', '/work', '/sub']);
  const first = await session(url);
  const read = await first.client.callTool({ name: 'read_text_file', arguments: { path: '/sub/notes.txt' } }) as ToolResult;
  assert.is(read.content[0]?.text, 'granted\n');
  await first.end();
  // What the server could do through its write grant (/work/sub is /sub's host path): swap it for a link.
  renameSync(sub, join(base, 'sub-old'));
  symlinkSync(secret, sub);
  const before = (await lokContainers(`mcp-lok-name=${name}`)).filter((c) => c.Labels['mcp-lok-role'] === 'session' && c.State === 'running').length;
  let refused: unknown;
  try {
    const second = await session(url);
    await second.end();
  } catch (error) {
    refused = error;
  }
  assert.ok(refused, 'the second session started over the swapped grant');
  const after = (await lokContainers(`mcp-lok-name=${name}`)).filter((c) => c.Labels['mcp-lok-role'] === 'session' && c.State === 'running').length;
  assert.ok(after <= before, `a session container was created: ${before} -> ${after}`);
  assert.match(await logOf(name), `$.read[0]: ${sub} now resolves to ${secret}, not ${sub} as when the server started; refusing to mount it.`);
});

sessions('a server behind the proxy is not restarted over a swapped grant, and its log and list say why', async () => {
  const name = `lok-grants-restart-${randomBytes(3).toString('hex')}`;
  const base = folder('restart-base-');
  const sub = join(base, 'sub');
  mkdirSync(sub);
  const secret = folder('restart-secret-');
  const profile = writeProfile({ write: [`${base}:/work`], read: [`${sub}:/sub`] });
  await start(name, ['--profile', profile, `npx://${EVERYTHING}`, '--', 'streamableHttp']);
  const [run] = (await lokContainers(`mcp-lok-name=${name}`)).filter((c) => c.Labels['mcp-lok-role'] === 'run');
  assert.ok(run, 'no server container');
  renameSync(sub, join(base, 'sub-old'));
  symlinkSync(secret, sub);
  await engineRequest(ENGINE, 'POST', `/containers/${run.Id}/kill`);
  const why = `$.read[0]: ${sub} now resolves to ${secret}`;
  await eventually(async () => (await logOf(name)).includes(`restarting ${name} failed: ${why}`), 60_000, 'the refused restart in the log');
  assert.is((await lokContainers(`mcp-lok-name=${name}`)).filter((c) => c.Labels['mcp-lok-role'] === 'run').length, 0);
  const listed = JSON.parse((await runBin(MANAGER, ['list', '--json'])).stdout.toString()) as Array<{ name: string; state: string; status: string; lastExit?: string }>;
  const mine = listed.find((s) => s.name === name);
  assert.ok(mine, JSON.stringify(listed));
  assert.not.match(JSON.stringify(mine), /waiting for the engine/);
});

sessions('a socket placed before start is refused; one that appears while a session runs is reachable by that session, and refuses the next', async () => {
  assert.ok(registry);
  const dir = folder('late-socket-');
  const profile = writeProfile({ write: [dir] });
  const early = join(dir, 'early.sock');
  const earlyListener = await listenAt(early);
  const name = `lok-grants-sock-${randomBytes(3).toString('hex')}`;
  started.push(name);
  const refusedStart = await runBin(MANAGER, ['start', '--name', name, '--registry', registry.url, '--profile', profile, `npx://${UNIX_FIXTURE}`]);
  await close(earlyListener.server);
  assert.is(refusedStart.code, 2, refusedStart.stderr);
  assert.match(refusedStart.stderr, `it contains a Unix socket (${early})`);
  assert.is((await lokContainers(`mcp-lok-name=${name}`)).length, 0);
  assert.not.ok(existsSync(early), 'the listener left its socket');

  const url = await start(name, ['--registry', registry.url, '--profile', profile, `npx://${UNIX_FIXTURE}`]);
  const first = await session(url);
  const late = join(dir, 'late.sock');
  const missing = await first.client.callTool({ name: 'connect', arguments: { path: late } }) as ToolResult;
  assert.is(missing.content[0]?.text, 'ENOENT');
  const listener = await listenAt(late);
  // Writable by the sandbox user, as sockets of the user's own programs are to a server
  // running as that user (tests run as root, and the sandbox as 1000, when root).
  chmodSync(late, 0o777);
  try {
    // The documented limit: a socket made in a granted folder after the check is reachable by
    // the sandboxes already running, as a bind mount does not stop connect().
    const reached = await first.client.callTool({ name: 'connect', arguments: { path: late } }) as ToolResult;
    assert.is(reached.content[0]?.text, 'connected');
    // The listener's side of that connection may be noticed a moment after the tool answers.
    await eventually(async () => listener.connections() === 1, 10_000, 'the late socket\'s listener to see the connection');
    await first.end();
    let refused: unknown;
    try {
      const second = await session(url);
      await second.client.callTool({ name: 'connect', arguments: { path: late } });
      await second.end();
    } catch (error) {
      refused = error;
    }
    assert.ok(refused, 'a new session started with a socket in its grant');
    assert.is(listener.connections(), 1);
    assert.match(await logOf(name), `it contains a Unix socket (${late})`);
  } finally {
    await close(listener.server);
  }
});

sessions.run();

const nested = suite('a mount inside a write grant is checked in the container before the server runs');

nested.before(requireEngine);

/** Runs `echo SERVER-RAN` in a sandbox of our image behind the pin check, with a write grant of `work` at /work and `gitSource` read-only at /work/.git. */
async function runPinned(work: string, gitSource: string): Promise<{ code: number; out: string }> {
  const image = await ensureSandboxImage(ENGINE, { log: () => {} });
  // The pin is taken for what was checked: the write grant's own .git.
  const pins = pinNestedMounts([
    { type: 'bind', source: work, target: '/work', readOnly: false },
    { type: 'bind', source: join(work, '.git'), target: '/work/.git', readOnly: true },
  ]);
  assert.is(pins.length, 1);
  // What the engine mounts: `gitSource`, as if a server swapped the path for a link after the check.
  const args = ['run', '--rm', '--user', '1000:1000', '--network', 'none', '--mount', `type=bind,source=${work},target=/work`,
    '--mount', `type=bind,source=${gitSource},target=/work/.git,readonly`, '--entrypoint', '/bin/sh', image,
    '-c', `${buildPinCheck(pins)}exec "$@"`, 'mcp-lok', 'echo', 'SERVER-RAN'];
  return new Promise((resolve) => {
    execFile('docker', args, (error, stdout, stderr) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, out: stdout + stderr }));
  });
}

nested('a mount that is not the folder checked stops the container before the server runs, saying why', async () => {
  const work = folder('pin-work-');
  mkdirSync(join(work, '.git'));
  const elsewhere = folder('pin-elsewhere-');
  const swapped = await runPinned(work, elsewhere);
  assert.is(swapped.code, 126, swapped.out);
  assert.not.match(swapped.out, /SERVER-RAN/);
  assert.match(swapped.out, 'mcp-lok: refusing to start: the mount at /work/.git is not the folder that was checked');
  const same = await runPinned(work, join(work, '.git'));
  assert.is(same.code, 0, same.out);
  assert.match(same.out, /SERVER-RAN/);
});

nested('a path swapped for a link before it is pinned is refused on the host', () => {
  const work = folder('pin-link-');
  symlinkSync('/etc', join(work, '.git'));
  assert.throws(() => pinNestedMounts([
    { type: 'bind', source: work, target: '/work', readOnly: false },
    { type: 'bind', source: join(work, '.git'), target: '/work/.git', readOnly: true },
  ]), /Refusing to mount .*\.git: it cannot be opened \(ELOOP\), or it is now a link/);
});

nested('a server from an image gets no .git kept read-only inside a write grant: refused before anything is created', async () => {
  const dir = folder('pin-image-');
  mkdirSync(join(dir, '.git'));
  const profile = writeProfile({ write: [dir] });
  const image = await ensureSandboxImage(ENGINE, { log: () => {} });
  const before = (await lokContainers()).length;
  const run = await runBin(MANAGER, ['run', '--profile', profile, image, 'ls', join(dir, '.git')]);
  assert.is(run.code, 2, `${run.stderr} ${run.stdout.toString()}`);
  assert.is(run.stdout.length, 0);
  assert.match(oneLine(run.stderr, 'mcp-lok'), /a server from an image cannot have a mount inside a write grant .*Run the server from its npm package/);
  assert.is((await lokContainers()).length, before);
});

nested.run();
