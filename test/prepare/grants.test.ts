import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LokError } from '../../src/errors.js';
import { validateProfile, type Profile } from '../../src/sandbox/profile-validate.js';
import { buildGrantContext, resolveGrantMounts, scanGrant, type GrantContext } from '../../src/prepare/grants.js';
import { getPaths } from '../../src/state/paths.js';
import { scratchDir } from '../support/scratch.js';

const LIMITS = { maxEntries: 1000, timeMs: 60_000 };
const servers: Server[] = [];

/** Leaves a listening Unix socket at `path` (closed after the suite). */
async function listenAt(path: string): Promise<void> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(path, resolve));
}

function closeSockets(): void {
  for (const s of servers.splice(0)) s.close();
}

function profile(value: unknown): Profile {
  return validateProfile(value, 'profile.json');
}

/** A grant context whose home is a scratch folder, with the real temporary folders refused. */
function context(home: string, extra: Partial<GrantContext> = {}): GrantContext {
  return { home, engineSockets: ['/var/run/docker.sock'], lokDirs: [join(home, '.cache/mcp-lok')], tempDirs: [], uid: 1000, gid: 1000, caseInsensitive: false, limits: LIMITS, ...extra };
}

function refusal(fn: () => unknown): LokError {
  try {
    fn();
  } catch (error) {
    assert.instance(error, LokError);
    return error as LokError;
  }
  throw new assert.Assertion({ message: 'expected a refusal', generated: false, operator: 'throws', actual: 'no error', expects: 'a LokError' });
}

/** A writable project folder with a file in it. */
function project(): string {
  const dir = scratchDir('project-');
  chmodSync(dir, 0o777);
  writeFileSync(join(dir, 'notes.txt'), 'hello\n');
  return dir;
}

const scan = suite('scanGrant');
scan.after(closeSockets);

scan('finds a socket deep inside, and none in a plain folder', async () => {
  const dir = project();
  assert.equal(scanGrant(dir, { limits: LIMITS, now: Date.now, caseInsensitive: false }), { gitPaths: [] });
  mkdirSync(join(dir, 'a/b'), { recursive: true });
  await listenAt(join(dir, 'a/b/ipc.sock'));
  assert.is(scanGrant(dir, { limits: LIMITS, now: Date.now, caseInsensitive: false }).socket, join(dir, 'a/b/ipc.sock'));
});

scan('says a granted path is itself a socket', async () => {
  const dir = project();
  await listenAt(join(dir, 's'));
  assert.is(scanGrant(join(dir, 's'), { limits: LIMITS, now: Date.now, caseInsensitive: false }).socket, join(dir, 's'));
});

scan('does not follow symlinks: inside the sandbox they resolve among its own paths', async () => {
  const dir = project();
  const elsewhere = scratchDir('elsewhere-');
  await listenAt(join(elsewhere, 'x.sock'));
  symlinkSync(elsewhere, join(dir, 'link'));
  assert.is(scanGrant(dir, { limits: LIMITS, now: Date.now, caseInsensitive: false }).socket, undefined);
});

scan('stops past the entry bound, saying so', () => {
  const dir = project();
  for (let i = 0; i < 20; i++) writeFileSync(join(dir, `f${i}`), '');
  const result = scanGrant(dir, { limits: { maxEntries: 10, timeMs: 60_000 }, now: Date.now, caseInsensitive: false });
  assert.is(result.tooLarge, 'more than 10 entries');
});

scan('stops past the time bound, saying so (the clock is the test\'s)', () => {
  const dir = project();
  mkdirSync(join(dir, 'sub'));
  let t = 0;
  const result = scanGrant(dir, { limits: { maxEntries: 1000, timeMs: 5000 }, now: () => (t += 6000), caseInsensitive: false });
  assert.is(result.tooLarge, 'more than 5 s to read');
});

scan('finds git folders by their contents too, and lists none inside another', () => {
  const dir = project();
  for (const git of ['.git', '.git/modules/lib', 'backup/site.git']) {
    mkdirSync(join(dir, git, 'objects'), { recursive: true });
    mkdirSync(join(dir, git, 'refs'));
    writeFileSync(join(dir, git, 'HEAD'), 'ref: refs/heads/main\n');
  }
  mkdirSync(join(dir, 'notes/refs'), { recursive: true });
  writeFileSync(join(dir, 'notes/HEAD'), 'not a repository: no objects\n');
  assert.equal(scanGrant(dir, { limits: LIMITS, now: Date.now, caseInsensitive: false }).gitPaths, [join(dir, '.git'), join(dir, 'backup/site.git')]);
});

scan('lists every .git folder and .git file (a worktree\'s or submodule\'s pointer)', () => {
  const dir = project();
  mkdirSync(join(dir, '.git/hooks'), { recursive: true });
  mkdirSync(join(dir, 'vendor/lib'), { recursive: true });
  writeFileSync(join(dir, 'vendor/lib/.git'), 'gitdir: ../../.git/modules/lib\n');
  mkdirSync(join(dir, '.github'));
  assert.equal(scanGrant(dir, { limits: LIMITS, now: Date.now, caseInsensitive: false }).gitPaths, [join(dir, '.git'), join(dir, 'vendor/lib/.git')]);
});

scan.run();

const resolveSuite = suite('resolveGrantMounts');
resolveSuite.after(closeSockets);

resolveSuite('mounts a plain grant at its resolved path', () => {
  const dir = project();
  const got = resolveGrantMounts(profile({ read: [dir] }), context(scratchDir('home-')));
  assert.equal(got.mounts, [{ type: 'bind', source: dir, target: dir, readOnly: true }]);
  assert.equal(got.resolved, { '$.read[0]': dir });
  assert.equal(got.notes, []);
});

resolveSuite('refuses a grant holding a Unix socket, read-only or not, naming the socket', async () => {
  const dir = project();
  mkdirSync(join(dir, 'run'));
  await listenAt(join(dir, 'run/agent.sock'));
  for (const list of ['read', 'write']) {
    const error = refusal(() => resolveGrantMounts(profile({ [list]: [dir] }), context(scratchDir('home-'))));
    assert.is(error.code, 'PROFILE_INVALID');
    assert.is(error.message, `$.${list}[0]: refusing to grant ${dir}: it contains a Unix socket (${join(dir, 'run/agent.sock')}), which a server could connect to even read-only.`);
  }
});

resolveSuite('refuses a grant holding a named pipe, or that is one, read-only or not, naming it', () => {
  const dir = project();
  mkdirSync(join(dir, 'irc'));
  // A program that reads commands from a pipe (ii, mpv's input file): a read-only mount does not stop writing to it.
  execFileSync('mkfifo', [join(dir, 'irc/in')]);
  for (const list of ['read', 'write']) {
    const error = refusal(() => resolveGrantMounts(profile({ [list]: [dir] }), context(scratchDir('home-'))));
    assert.is(error.code, 'PROFILE_INVALID');
    assert.is(error.message, `$.${list}[0]: refusing to grant ${dir}: it contains a named pipe (${join(dir, 'irc/in')}), which a server could write to (or read from) even read-only.`);
  }
  const itself = refusal(() => resolveGrantMounts(profile({ read: [join(dir, 'irc/in')] }), context(scratchDir('home-'))));
  assert.is(itself.message, `$.read[0]: refusing to grant ${join(dir, 'irc/in')}: it is a named pipe (${join(dir, 'irc/in')}), which a server could write to (or read from) even read-only.`);
});

resolveSuite('refuses a folder too large to check, rather than mounting it unchecked', () => {
  const dir = project();
  for (let i = 0; i < 5; i++) writeFileSync(join(dir, `f${i}`), '');
  const error = refusal(() => resolveGrantMounts(profile({ read: [dir] }), context(scratchDir('home-'), { limits: { maxEntries: 3, timeMs: 60_000 } })));
  assert.is(error.message, `$.read[0]: refusing to grant ${dir}: it is too large to check for sockets (more than 3 entries).`);
  assert.match(error.hint ?? '', /narrower folder/);
});

resolveSuite('refuses /tmp and the user\'s own temporary folders through the shared context', () => {
  const home = scratchDir('home-');
  const own = scratchDir('own-tmp-');
  mkdirSync(join(own, 'sub'));
  const ctx = buildGrantContext({ env: { TMPDIR: own }, home, paths: getPaths({ MCP_LOK_HOME: join(home, 'lok') }), platform: 'linux' });
  assert.match(refusal(() => resolveGrantMounts(profile({ read: ['/tmp:/data'] }), ctx)).message, /^\$\.read\[0\]: refusing to grant \/tmp: it is a temporary or runtime folder/);
  assert.match(refusal(() => resolveGrantMounts(profile({ read: ['/var/tmp:/data'] }), ctx)).message, /temporary or runtime folder/);
  assert.match(refusal(() => resolveGrantMounts(profile({ read: [join(own, 'sub')] }), ctx)).message, /inside a temporary or runtime folder/);
});

resolveSuite('keeps each .git of a write grant read-only, saying so, unless git_writable', () => {
  const dir = project();
  mkdirSync(join(dir, '.git/hooks'), { recursive: true });
  mkdirSync(join(dir, 'sub/inner/.git'), { recursive: true });
  const home = scratchDir('home-');
  const got = resolveGrantMounts(profile({ write: [`${dir}:/work`] }), context(home));
  assert.equal(got.mounts, [
    { type: 'bind', source: dir, target: '/work', readOnly: false },
    { type: 'bind', source: join(dir, '.git'), target: '/work/.git', readOnly: true },
    { type: 'bind', source: join(dir, 'sub/inner/.git'), target: '/work/sub/inner/.git', readOnly: true },
  ]);
  assert.is(got.notes.length, 2);
  assert.match(got.notes[0] ?? '', /\$\.write\[0\]: .*\/\.git stays read-only \(its hooks and config run code on the host\); set "git_writable": true/);
  const writable = resolveGrantMounts(profile({ write: [`${dir}:/work`], git_writable: true }), context(home));
  assert.equal(writable.mounts, [{ type: 'bind', source: dir, target: '/work', readOnly: false }]);
  assert.equal(writable.notes, []);
  const readOnly = resolveGrantMounts(profile({ read: [dir] }), context(home));
  assert.is(readOnly.mounts.length, 1);
});

/** Makes a bare repository (what `git init --bare` leaves): its hooks run when you push to it. */
function bareRepo(path: string): string {
  mkdirSync(join(path, 'hooks'), { recursive: true });
  mkdirSync(join(path, 'objects'));
  mkdirSync(join(path, 'refs'));
  writeFileSync(join(path, 'HEAD'), 'ref: refs/heads/main\n');
  writeFileSync(join(path, 'config'), '[core]\n\tbare = true\n');
  return path;
}

resolveSuite('keeps a bare repository inside a write grant read-only, whatever its name, unless git_writable', () => {
  const dir = project();
  const bare = bareRepo(join(dir, 'remotes/server.git'));
  const home = scratchDir('home-');
  const got = resolveGrantMounts(profile({ write: [`${dir}:/work`] }), context(home));
  assert.equal(got.mounts, [
    { type: 'bind', source: dir, target: '/work', readOnly: false },
    { type: 'bind', source: bare, target: '/work/remotes/server.git', readOnly: true },
  ]);
  assert.match(got.notes[0] ?? '', /server\.git stays read-only/);
  assert.is(resolveGrantMounts(profile({ write: [`${dir}:/work`], git_writable: true }), context(home)).mounts.length, 1);
});

resolveSuite('refuses a write grant of a bare repository or a folder inside one, unless git_writable', () => {
  const bare = bareRepo(join(project(), 'shared-repo'));
  chmodSync(join(bare, 'hooks'), 0o777);
  chmodSync(bare, 0o777);
  for (const path of [bare, join(bare, 'hooks')]) {
    const error = refusal(() => resolveGrantMounts(profile({ write: [path] }), context(scratchDir('home-'))));
    assert.match(error.message, /read-write: it is inside a git repository's own folder \(.*shared-repo\)/);
    assert.ok(resolveGrantMounts(profile({ write: [path], git_writable: true }), context(scratchDir('home-'))));
  }
});

resolveSuite('refuses a write grant inside a .git folder unless git_writable', () => {
  const dir = project();
  mkdirSync(join(dir, '.git/hooks'), { recursive: true });
  chmodSync(join(dir, '.git/hooks'), 0o777);
  const error = refusal(() => resolveGrantMounts(profile({ write: [join(dir, '.git/hooks')] }), context(scratchDir('home-'))));
  assert.match(error.message, /^\$\.write\[0\]: refusing to grant .*\.git\/hooks read-write: it is inside a \.git folder/);
  assert.ok(resolveGrantMounts(profile({ write: [join(dir, '.git/hooks')], git_writable: true }), context(scratchDir('home-'))));
  assert.ok(resolveGrantMounts(profile({ read: [join(dir, '.git/hooks')] }), context(scratchDir('home-'))));
});

resolveSuite('refuses, when checked again, a grant that now resolves elsewhere', () => {
  const base = project();
  const sub = join(base, 'sub');
  mkdirSync(sub);
  const other = scratchDir('other-');
  const home = scratchDir('home-');
  const p = profile({ write: [`${base}:/work`], read: [`${sub}:/sub`] });
  const first = resolveGrantMounts(p, context(home));
  assert.equal(resolveGrantMounts(p, context(home), first), first, 'unchanged grants pass the second check');
  // What a server with the write grant can do between two sessions: swap the sub-path for a link.
  renameSync(sub, join(base, 'sub-old'));
  symlinkSync(other, sub);
  const error = refusal(() => resolveGrantMounts(p, context(home), first));
  assert.is(error.message, `$.read[0]: ${sub} now resolves to ${other}, not ${sub} as when the server started; refusing to mount it.`);
  // Without the first result, the link resolves and is checked as any grant (here, allowed).
  assert.is(resolveGrantMounts(p, context(home)).resolved['$.read[0]'], other);
  rmSync(sub);
  renameSync(join(base, 'sub-old'), sub);
});

resolveSuite('refuses a grant swapped for a link to a credential store by what it now is', () => {
  const base = project();
  const home = scratchDir('home-');
  mkdirSync(join(home, '.ssh'));
  const sub = join(base, 'sub');
  mkdirSync(sub);
  const p = profile({ read: [sub] });
  rmSync(sub, { recursive: true });
  symlinkSync(join(home, '.ssh'), sub);
  assert.match(refusal(() => resolveGrantMounts(p, context(home))).message, /resolves to .*\.ssh\): it is a credential store/);
});

resolveSuite('compares case-insensitively when told the filesystem does', () => {
  const home = scratchDir('home-');
  mkdirSync(join(home, '.SSH'));
  assert.ok(resolveGrantMounts(profile({ read: [join(home, '.SSH')] }), context(home)));
  assert.match(refusal(() => resolveGrantMounts(profile({ read: [join(home, '.SSH')] }), context(home, { caseInsensitive: true }))).message, /credential store/);
});

resolveSuite('refuses the home and its credential stores by their real path when the home is reached through a link', () => {
  const real = scratchDir('real-home-');
  mkdirSync(join(real, '.ssh'));
  mkdirSync(join(real, 'project'));
  const home = join(scratchDir('link-home-'), 'me');
  symlinkSync(real, home);
  const ctx = buildGrantContext({ env: {}, home, paths: getPaths({ MCP_LOK_HOME: scratchDir('lok-') }), platform: 'linux' });
  assert.match(refusal(() => resolveGrantMounts(profile({ read: ['~/.ssh'] }), ctx)).message, /credential store/);
  assert.match(refusal(() => resolveGrantMounts(profile({ read: [join(real, '.ssh')] }), ctx)).message, /credential store/);
  assert.match(refusal(() => resolveGrantMounts(profile({ read: ['~'] }), ctx)).message, /whole home directory/);
  assert.equal(resolveGrantMounts(profile({ read: ['~/project'] }), ctx).mounts.map((m) => m.source), [join(real, 'project')]);
});

resolveSuite('refuses the stores of the account\'s own home when $HOME names another folder (a client config\'s env can set it)', () => {
  const account = scratchDir('account-home-');
  mkdirSync(join(account, '.ssh'));
  writeFileSync(join(account, '.bashrc'), '# runs at login\n');
  mkdirSync(join(account, '.local/share/mcp-lok/state'), { recursive: true });
  mkdirSync(join(account, 'project'));
  const decoy = scratchDir('decoy-home-');
  const ctx = buildGrantContext({ env: {}, home: decoy, accountHome: account, paths: getPaths({ MCP_LOK_HOME: scratchDir('lok-') }), platform: 'linux' });
  assert.match(refusal(() => resolveGrantMounts(profile({ read: [join(account, '.ssh')] }), ctx)).message, /credential store/);
  assert.match(refusal(() => resolveGrantMounts(profile({ read: [join(account, '.bashrc')] }), ctx)).message, /runs when you log in/);
  assert.match(refusal(() => resolveGrantMounts(profile({ read: [join(account, '.local/share/mcp-lok/state')] }), ctx)).message, /mcp-lok's own state/);
  assert.match(refusal(() => resolveGrantMounts(profile({ read: [account] }), ctx)).message, /refusing to grant/);
  assert.equal(resolveGrantMounts(profile({ read: [join(account, 'project')] }), ctx).mounts.map((m) => m.source), [join(account, 'project')]);
});

resolveSuite.run();

const contextSuite = suite('buildGrantContext');

contextSuite('names every engine socket, the temporary folders, and folds case on macOS', () => {
  const home = scratchDir('home-');
  const ctx = buildGrantContext({
    env: { DOCKER_HOST: 'unix:///srv/engine/docker.sock', XDG_RUNTIME_DIR: '/run/user/4242', TMPDIR: '/srv/t' }, home,
    paths: getPaths({ MCP_LOK_HOME: join(home, 'lok') }), platform: 'darwin',
    endpoint: { kind: 'unix', socketPath: '/srv/other/podman.sock', source: 'test' },
  });
  for (const socket of ['/srv/engine/docker.sock', '/srv/other/podman.sock', '/var/run/docker.sock', join(home, '.colima/default/docker.sock'), join(home, '.orbstack/run/docker.sock')]) {
    assert.ok(ctx.engineSockets.includes(socket), socket);
  }
  for (const dir of ['/run/user/4242', '/srv/t']) assert.ok(ctx.tempDirs.includes(dir), dir);
  assert.is(ctx.caseInsensitive, true);
  assert.is(buildGrantContext({ env: {}, home, paths: getPaths({ MCP_LOK_HOME: join(home, 'lok') }), platform: 'linux' }).caseInsensitive, false);
});

contextSuite.run();
