// A server's home volume against the real engine: what a server keeps in ~ survives its next
// start (server-memory from npm, through the shim and as a background server's sessions), not
// with --ephemeral; it is the sandbox user's, private and noexec; `mcp-lok image` lists it and
// `rm --home` / `image rm VOLUME` remove it. Every home made here is removed again.
import { randomBytes } from 'node:crypto';
import { rmSync, statSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { planHome } from '../../src/app/plan.js';
import { inspectVolume } from '../../src/engine/containers.js';
import { engineRequest } from '../../src/engine/http.js';
import { ensureHome, homeDataVolume, removeHomeVolume } from '../../src/prepare/home.js';
import { ensureSandboxImage } from '../../src/prepare/images.js';
import { getPaths } from '../../src/state/paths.js';
import { testContext } from '../support/context.js';
import { ENGINE, MANAGER, MEMORY, connectShim, requireEngine, runBin, SHIM, tempDir } from './harness.js';
import { startFixtureRegistry, type FixtureRegistry } from './registry.js';

const KEEP = { MCP_LOK_EPHEMERAL: '0' };
const MEMORY_FILE = 'MEMORY_FILE_PATH=/home/node/memory.jsonl';
const uniqueName = (prefix: string): string => `${prefix}-${randomBytes(3).toString('hex')}`;

interface HomeRow { name: string; package: string | null; image: string | null; server: string | null; user: string | null; noexec: boolean }
interface VolumeRow { Name: string; Labels: Record<string, string> | null }

async function homesOf(name: string): Promise<HomeRow[]> {
  const result = await runBin(MANAGER, ['image', '--json']);
  assert.is(result.code, 0, result.stderr);
  return (JSON.parse(result.stdout.toString()) as { homes: HomeRow[] }).homes.filter((h) => h.server === name);
}

/** Every volume on the engine that belongs to a home made for `name` (the home and its files). */
async function volumesOf(name: string): Promise<string[]> {
  const filters = encodeURIComponent(JSON.stringify({ label: ['mcp-lok=true'] }));
  const all = (await engineRequest<{ Volumes: VolumeRow[] | null }>(ENGINE, 'GET', `/volumes?filters=${filters}`)).body.Volumes ?? [];
  const homes = all.filter((v) => v.Labels?.['mcp-lok-kind'] === 'home' && v.Labels['mcp-lok-name'] === name).map((v) => v.Name);
  return all.filter((v) => homes.includes(v.Name) || homes.includes(v.Labels?.['mcp-lok-home-of'] ?? '')).map((v) => v.Name);
}

/** Removes what a test made, whatever happened to it. */
async function cleanUp(name: string): Promise<void> {
  await runBin(MANAGER, ['rm', '-f', '--home', name]).catch(() => undefined);
}

async function callMemory(args: string[], env: Record<string, string>, calls: (client: Client) => Promise<string>): Promise<{ text: string; stderr: string }> {
  const { client, stderr } = await connectShim(args, env);
  try {
    return { text: await calls(client), stderr: stderr() };
  } finally {
    await client.close();
  }
}

const text = (result: unknown): string => ((result as { content?: Array<{ text?: string }> }).content ?? []).map((c) => c.text ?? '').join('\n');
const remember = (marker: string) => async (client: Client): Promise<string> =>
  text(await client.callTool({ name: 'create_entities', arguments: { entities: [{ name: marker, entityType: 'test', observations: ['kept in the home'] }] } }));
const recall = async (client: Client): Promise<string> => text(await client.callTool({ name: 'read_graph', arguments: {} }));

// ---------------------------------------------------------------------------------------------

const shim = suite('mcp-lok-npx: a home volume per server, kept across starts');
const names: string[] = [];
shim.before(requireEngine);
shim.after(async () => { for (const name of names) await cleanUp(name); });

shim('keeps what server-memory writes in its home for the next start, lists the home, and rm --home removes it', async () => {
  const name = uniqueName('e2e-home-memory');
  names.push(name);
  const marker = `kept-${randomBytes(4).toString('hex')}`;
  const args = ['--name', name, '-e', MEMORY_FILE, '-y', MEMORY];
  const first = await callMemory(args, KEEP, remember(marker));
  assert.match(first.text, new RegExp(marker));
  assert.match(first.stderr, new RegExp(`mcp-lok: keeping the home of ${MEMORY} \\(--name ${name}\\) in the volume mcp-lok-home-`));
  const second = await callMemory(args, KEEP, recall);
  assert.match(second.text, new RegExp(marker), 'the second start did not see what the first wrote');
  assert.not.match(second.stderr, /keeping the home/, 'the home was made again');

  const [home, ...more] = await homesOf(name);
  assert.is(more.length, 0);
  assert.equal(home && { package: home.package, user: home.user, noexec: home.noexec }, { package: MEMORY, user: '1000:1000', noexec: true });
  const table = await runBin(MANAGER, ['image']);
  assert.match(table.stdout.toString(), new RegExp(`${home?.name}\\s+${MEMORY}, --name ${name}\\s+1000:1000\\s+yes`));

  const removed = await runBin(MANAGER, ['rm', '--home', name]);
  assert.is(removed.code, 0, removed.stderr);
  assert.match(removed.stderr, new RegExp(`Removed the home volume ${home?.name} of ${name}\\.`));
  assert.equal(await volumesOf(name), [], 'the home or its files are still there');
  const again = await runBin(MANAGER, ['rm', '--home', name]);
  assert.is(again.code, 1);
  assert.match(again.stderr, /No mcp-lok server or home volume is named/);

  const fresh = await callMemory(args, KEEP, recall);
  assert.not.match(fresh.text, new RegExp(marker), 'a removed home came back');
});

shim('keeps nothing with --ephemeral (or MCP_LOK_EPHEMERAL=1), and makes no volume', async () => {
  const name = uniqueName('e2e-home-ephemeral');
  names.push(name);
  const marker = `gone-${randomBytes(4).toString('hex')}`;
  const first = await callMemory(['--ephemeral', '--name', name, '-e', MEMORY_FILE, '-y', MEMORY], KEEP, remember(marker));
  assert.match(first.text, new RegExp(marker));
  const second = await callMemory(['--name', name, '-e', MEMORY_FILE, '-y', MEMORY], { MCP_LOK_EPHEMERAL: '1' }, recall);
  assert.not.match(second.text, new RegExp(marker));
  assert.equal(await volumesOf(name), []);
});

shim('server-memory as a pure drop-in (no -e): its file goes to its home, said in one line, and is there at the next start', async () => {
  const name = uniqueName('e2e-home-dropin');
  names.push(name);
  const marker = `dropin-${randomBytes(4).toString('hex')}`;
  const args = ['--name', name, '-y', MEMORY];
  const first = await callMemory(args, KEEP, remember(marker));
  assert.match(first.text, new RegExp(marker));
  assert.match(first.stderr, /mcp-lok: @modelcontextprotocol\/server-memory keeps memory\.jsonl beside its code, which is read-only in the sandbox: MEMORY_FILE_PATH=\/home\/node\/memory\.jsonl keeps it in its home/);
  const second = await callMemory(args, KEEP, recall);
  assert.match(second.text, new RegExp(marker), 'the second start did not see what the first wrote');
});

shim('gives a server from an image a home too, per repository, made with mcp-lok\'s own image', async () => {
  const name = uniqueName('e2e-home-image');
  names.push(name);
  const image = await ensureSandboxImage(ENGINE, { log: () => {} });
  const script = 'const fs = require("fs"); const f = process.env.HOME + "/v"; let b = null; try { b = fs.readFileSync(f, "utf8"); } catch {} fs.writeFileSync(f, process.argv[1]); process.stdout.write(JSON.stringify({ before: b, home: process.env.HOME, uid: process.getuid(), owner: fs.statSync(process.env.HOME).uid }) + "\\n");';
  const run = async (value: string): Promise<{ before: string | null; home: string; uid: number; owner: number }> => {
    const result = await runBin(MANAGER, ['run', '--name', name, image, '--', 'node', '-e', script, value], { env: KEEP });
    assert.is(result.code, 0, result.stderr);
    return JSON.parse(result.stdout.toString()) as { before: string | null; home: string; uid: number; owner: number };
  };
  assert.equal(await run('one'), { before: null, home: '/home/node', uid: 1000, owner: 1000 });
  assert.is((await run('two')).before, 'one');
  const [home] = await homesOf(name);
  assert.is(home?.image, image.replace(/:[^:/]+$/, ''));
  assert.is(home?.noexec, true);
});

shim.run();

// ---------------------------------------------------------------------------------------------

const fixture = suite('the home seen from inside the sandbox (a fixture server from the test registry)');
let registry: FixtureRegistry;
const fixtureNames: string[] = [];
fixture.before(async () => {
  await requireEngine();
  registry = await startFixtureRegistry();
});
fixture.after(async () => {
  for (const name of fixtureNames) await cleanUp(name);
  await registry?.close();
  const filters = encodeURIComponent(JSON.stringify({ label: ['mcp-lok=true', 'mcp-lok-kind=packages', 'mcp-lok-package=lok-fixture-home@latest'] }));
  for (const v of (await engineRequest<{ Volumes: VolumeRow[] | null }>(ENGINE, 'GET', `/volumes?filters=${filters}`)).body.Volumes ?? []) {
    await engineRequest(ENGINE, 'DELETE', `/volumes/${v.Name}`);
  }
});

interface Seen { home: string; uid: number; gid: number; owner: string; mode: string; before: string | null; exec: string; beside: string | null; plugin: string }

/** Runs the fixture through the shim (with `value` to keep in its home) and returns what it saw. */
async function runFixture(args: string[], value?: string): Promise<{ seen: Seen; stderr: string }> {
  const result = await runBin(SHIM, ['--registry', registry.url, ...args, '-y', 'lok-fixture-home', ...(value === undefined ? [] : [value])], { env: KEEP });
  assert.is(result.code, 0, result.stderr);
  return { seen: JSON.parse(result.stdout.toString()) as Seen, stderr: result.stderr };
}

fixture('is the sandbox user\'s, private, noexec, kept across starts; a write beside the code gets one line on stderr', async () => {
  const name = uniqueName('e2e-home-fixture');
  fixtureNames.push(name);
  const { seen, stderr } = await runFixture(['--name', name], 'first');
  assert.equal({ ...seen }, { home: '/home/node', uid: 1000, gid: 1000, owner: '1000:1000', mode: '700', before: null, exec: 'EACCES', beside: 'EROFS', plugin: 'MODULE_NOT_FOUND' });
  const lines = stderr.split('\n');
  const notice = lines.filter((l) => l.startsWith('mcp-lok: the server could not write'));
  assert.equal(notice, ['mcp-lok: the server could not write lok-fixture-home/state.json: its installed package is read-only in the sandbox. To keep its files in its home (/home/node, kept across runs), set the server\'s own option or variable for where it keeps files (see its README) to a path there.']);
  // The server's own line is passed on too, before mcp-lok's.
  const own = lines.findIndex((l) => l.startsWith('Failed to save state: EROFS'));
  assert.ok(own !== -1 && own < lines.indexOf(notice[0] ?? ''), stderr);

  // What the first start left in $HOME/.node_modules is not loaded: a version rolled back to runs its own tree only.
  const second = (await runFixture(['--name', name], 'second')).seen;
  assert.equal([second.before, second.plugin], ['first', 'MODULE_NOT_FOUND']);

  // `image rm VOLUME` removes one home by the name `mcp-lok image` shows, and its files.
  const [home] = await homesOf(name);
  assert.ok(home, 'the home is not listed');
  const removed = await runBin(MANAGER, ['image', 'rm', home.name]);
  assert.is(removed.code, 0, removed.stderr);
  assert.match(removed.stderr, new RegExp(`Removed ${home.name}`));
  assert.equal(await volumesOf(name), []);
});

fixture('with --ephemeral the home is in memory, the user\'s and noexec, and gone at the next start', async () => {
  const name = uniqueName('e2e-home-fixture-eph');
  fixtureNames.push(name);
  const first = await runFixture(['--ephemeral', '--name', name], 'x');
  assert.equal([first.seen.owner, first.seen.exec], ['1000:1000', 'EACCES']);
  assert.is((await runFixture(['--ephemeral', '--name', name], 'y')).seen.before, null);
  assert.equal(await volumesOf(name), []);
});

fixture.run();

// ---------------------------------------------------------------------------------------------

const made = suite('ensureHome: a new volume becomes the sandbox user\'s without root or a capability');
const ctxHome = tempDir('mcp-lok-home-e2e-');
const madeVolumes: string[] = [];
made.before(requireEngine);
made.after(async () => {
  for (const v of madeVolumes) await removeHomeVolume(ENGINE, v, getPaths({ MCP_LOK_HOME: ctxHome }).state);
  rmSync(ctxHome, { recursive: true, force: true });
});

for (const overlay of [true, false]) {
  made(`gives it to a user other than 1000 ${overlay ? '(the noexec overlay)' : '(a plain volume, as where the overlay cannot be mounted, said on stderr)'}`, async () => {
    const lines: string[] = [];
    const ctx = testContext({ home: ctxHome, engine: () => Promise.resolve(ENGINE), log: (l) => lines.push(l) });
    const image = await ensureSandboxImage(ENGINE, { log: () => {} });
    const user = { uid: 4321, gid: 4322 };
    const home = planHome({ kind: 'npx', packages: [{ raw: 'x', name: `lok-home-test-${randomBytes(3).toString('hex')}`, selector: 'latest', kind: 'tag' }], command: undefined, allowInstall: true }, undefined, user);
    madeVolumes.push(home.volume);
    const got = await ensureHome(ctx, ENGINE, home, image, { overlay });
    assert.equal(got, { volume: home.volume, noexec: overlay });
    // On this machine's engine the files are on this machine: the folder the server sees as ~.
    const files = overlay ? `${(await inspectVolume(ENGINE, homeDataVolume(home.volume)))?.Mountpoint}/upper` : (await inspectVolume(ENGINE, home.volume))?.Mountpoint ?? '';
    const st = statSync(files);
    assert.equal([st.uid, st.gid, st.mode & 0o777], [4321, 4322, 0o700]);
    assert.is(lines.some((l) => /cannot mount noexec: programs the server writes there can run/.test(l)), !overlay, lines.join('\n'));
    // Warm: the same home, nothing made again or said.
    const said = lines.length;
    assert.equal(await ensureHome(ctx, ENGINE, home, image, { overlay }), got);
    assert.is(lines.length, said);
    // A machine with no note of it (another account) checks it, and never makes it again.
    const other = tempDir('mcp-lok-home-e2e-other-');
    try {
      assert.equal(await ensureHome(testContext({ home: other, engine: () => Promise.resolve(ENGINE) }), ENGINE, home, image, { overlay }), got);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
}

made('refuses a volume of a home\'s name that is not an mcp-lok home, and leaves it alone', async () => {
  const ctx = testContext({ home: ctxHome, engine: () => Promise.resolve(ENGINE) });
  const image = await ensureSandboxImage(ENGINE, { log: () => {} });
  const home = planHome({ kind: 'image', image: `lok-home-test/${randomBytes(3).toString('hex')}:1`, allowPull: false }, undefined, { uid: 1000, gid: 1000 });
  await engineRequest(ENGINE, 'POST', '/volumes/create', { Name: home.volume, Labels: { 'mcp-lok': 'true' } });
  try {
    await ensureHome(ctx, ENGINE, home, image);
    assert.unreachable('used it');
  } catch (error) {
    assert.match(String(error), /cannot be used: a volume of that name exists and is not an mcp-lok home/);
  } finally {
    assert.ok(await inspectVolume(ENGINE, home.volume), 'it was removed');
    await engineRequest(ENGINE, 'DELETE', `/volumes/${home.volume}`);
  }
});

made.run();

// ---------------------------------------------------------------------------------------------

const background = suite('mcp-lok start: one home for the server\'s sessions and restarts');
const bg = { name: uniqueName('e2e-home-start') };
background.before(requireEngine);
background.after(() => cleanUp(bg.name));

async function httpCall(url: string, call: (client: Client) => Promise<string>): Promise<string> {
  const client = new Client({ name: 'mcp-lok-e2e-home', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  try { return await call(client); } finally { await client.close(); }
}

background('shares the home between sessions, keeps it across stop and start, and rm -f --home removes server and home', async () => {
  const started = await runBin(MANAGER, ['start', '--name', bg.name, '-e', MEMORY_FILE, `npx://${MEMORY}`], { env: KEEP });
  assert.is(started.code, 0, started.stderr);
  const url = started.stdout.toString().trim().split(' ')[1] ?? '';
  const marker = `shared-${randomBytes(4).toString('hex')}`;
  assert.match(await httpCall(url, remember(marker)), new RegExp(marker));
  // Another client session: another sandbox, the same home.
  assert.match(await httpCall(url, recall), new RegExp(marker));
  assert.is((await runBin(MANAGER, ['stop', bg.name])).code, 0);
  const again = await runBin(MANAGER, ['start', bg.name]);
  assert.is(again.code, 0, again.stderr);
  assert.match(await httpCall(url, recall), new RegExp(marker));
  assert.equal((await homesOf(bg.name)).map((h) => h.package), [MEMORY]);
  const removed = await runBin(MANAGER, ['rm', '-f', '--home', bg.name]);
  assert.is(removed.code, 0, removed.stderr);
  assert.match(removed.stderr, new RegExp(`Removed ${bg.name} and its home volume mcp-lok-home-`));
  assert.equal(await volumesOf(bg.name), []);
});

background.run();
