import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { defaultContainerName, explainHostPaths, findPathArguments, imageRepository, nameHint, planHome, planServer, type EngineFacts, type HostFacts, type HostPathArgument } from '../../src/app/plan.js';
import type { ResolvedGrants } from '../../src/prepare/grants.js';
import type { LokOptions } from '../../src/request/options.js';
import type { ServerRequest } from '../../src/request/server-request.js';
import { CA_BUNDLE_PATH } from '../../src/sandbox/hardening.js';
import { BUILT_IN_PROFILES, validateProfile } from '../../src/sandbox/profile-validate.js';
import { catchError } from '../support/catch-error.js';

const LOK: LokOptions = {
  profile: 'stdio', env: [], clientEnv: true, name: undefined, ephemeral: false, memoryBytes: 512 * 1024 * 1024, cpus: 1, pids: 256,
  caCert: undefined, registry: undefined, refreshAfterMs: undefined, updateCheckMs: 86_400_000, engine: undefined, debug: false,
};
const PKG = { raw: '@scope/server@1.2.3', name: '@scope/server', selector: '1.2.3', kind: 'version' as const };

const npxRequest = (over: Partial<ServerRequest> = {}): ServerRequest => ({
  source: { kind: 'npx', packages: [PKG], command: undefined, allowInstall: true },
  args: ['--flag'],
  lok: LOK,
  profile: { name: 'stdio', source: 'built-in', profile: BUILT_IN_PROFILES.stdio },
  env: {},
  quiet: false,
  launcher: 'npx',
  ...over,
});
const imageRequest = (over: Partial<ServerRequest> = {}): ServerRequest => npxRequest({ source: { kind: 'image', image: 'ghcr.io/org/server:1.0', allowPull: false }, launcher: 'run', ...over });

const LOCAL: EngineFacts = { endpoint: { kind: 'unix', socketPath: '/var/run/docker.sock', source: 'test' }, local: true };
const REMOTE: EngineFacts = { endpoint: { kind: 'tcp', host: '127.0.0.1', port: 2375, tls: false, source: 'test' }, local: false };
const HOST: HostFacts = {
  uid: 501, gid: 20, npm: { registry: 'https://registry.example.test/', cafile: undefined, proxy: undefined },
  caFile: undefined, caIsNpmCafile: false, grants: undefined, random: 'abc123', hostPaths: [],
};
const egressProfile = (hosts: string[]) => ({
  name: 'api.json', source: '/p/api.json', profile: validateProfile({ network: { outbound: { allow_host: hosts, allow_port: [443] } } }, 'api.json'),
});
const grants = (mounts: ResolvedGrants['mounts'], notes: string[] = []): HostFacts['grants'] => ({
  context: { home: '/home/me', engineSockets: [], lokDirs: [], tempDirs: [], uid: 501, gid: 20, caseInsensitive: false, limits: { maxEntries: 10, timeMs: 10 }, now: Date.now } as never,
  first: { mounts, resolved: {}, notes },
});

const plan = suite('planServer');

plan('an npm package on a local engine: named pipes, an install step, the user\'s own ids, no network', () => {
  const p = planServer(npxRequest(), LOCAL, HOST);
  assert.is(p.fifo, true);
  assert.is(p.local, true);
  assert.equal(p.user, { uid: 501, gid: 20 });
  assert.equal(p.net, { network: 'none', egress: undefined, relaxation: undefined });
  assert.is(p.name, 'mcp-lok-scope-server-abc123');
  assert.is(p.prepare.kind, 'install');
  if (p.prepare.kind !== 'install') return;
  assert.is(p.prepare.install.registry, 'https://registry.example.test/');
  assert.is(p.prepare.install.proxyInSidecar, false);
  assert.is(p.prepare.install.handleSignals, true);
  assert.equal(p.mounts, []);
  assert.equal(p.notices, []);
  assert.equal(p.allows, []);
  assert.is(p.needsHelperImage, false);
});

plan('root on the host runs as 1000:1000 in the sandbox', () => {
  assert.equal(planServer(npxRequest(), LOCAL, { ...HOST, uid: 0, gid: 0 }).user, { uid: 1000, gid: 1000 });
  assert.equal(planServer(npxRequest(), LOCAL, { ...HOST, uid: undefined, gid: undefined }).user, { uid: 1000, gid: 1000 });
});

plan('an engine in a VM or over TCP: the attach stream, and the install\'s egress proxy in a sidecar', () => {
  const p = planServer(npxRequest(), REMOTE, HOST);
  assert.is(p.fifo, false);
  assert.is(p.prepare.kind === 'install' && p.prepare.install.proxyInSidecar, true);
});

plan('an image: never named pipes (it may have no shell), a pull step that keeps the request\'s permission to pull', () => {
  const p = planServer(imageRequest(), LOCAL, HOST);
  assert.is(p.fifo, false);
  assert.equal(p.prepare, { kind: 'image', image: 'ghcr.io/org/server:1.0', allowPull: false });
  assert.is(p.name, 'mcp-lok-server-abc123');
});

plan('the --registry option wins over npm\'s registry, and a background server leaves signals to its supervisor', () => {
  const p = planServer(npxRequest({ lok: { ...LOK, registry: 'http://127.0.0.1:4873/' }, launcher: 'start' }), LOCAL, HOST);
  assert.is(p.prepare.kind === 'install' && p.prepare.install.registry, 'http://127.0.0.1:4873/');
  assert.is(p.prepare.kind === 'install' && p.prepare.install.handleSignals, false);
});

plan('npm\'s proxy is used for the install only when it applies to the registry', () => {
  const withProxy = { ...HOST, npm: { ...HOST.npm, proxy: 'http://127.0.0.1:3128', noProxy: [] } };
  assert.is((planServer(npxRequest(), LOCAL, withProxy).prepare as { install: { upstreamProxy?: string } }).install.upstreamProxy, 'http://127.0.0.1:3128');
  const bypass = { ...withProxy, npm: { ...withProxy.npm, noProxy: ['registry.example.test'] } };
  assert.is((planServer(npxRequest(), LOCAL, bypass).prepare as { install: { upstreamProxy?: string } }).install.upstreamProxy, undefined);
});

plan('an outbound allowlist: egress rules, a notice naming the hosts, the CA mounted only then', () => {
  const host = { ...HOST, caFile: '/etc/ssl/corp.pem' };
  const p = planServer(npxRequest({ profile: egressProfile(['api.example.test']) }), LOCAL, host);
  assert.ok(p.net.egress);
  assert.match(p.notices.join('\n'), /api\.example\.test/);
  assert.equal(p.mounts, [{ type: 'bind', source: '/etc/ssl/corp.pem', target: CA_BUNDLE_PATH, readOnly: true }]);
  assert.is(p.env.NODE_EXTRA_CA_CERTS, CA_BUNDLE_PATH);
  const closed = planServer(npxRequest(), LOCAL, host);
  assert.equal(closed.mounts, []);
  assert.is(closed.env.NODE_EXTRA_CA_CERTS, undefined);
});

plan('an image with an allowlist or a home volume needs mcp-lok\'s image for its helpers; an npm package already has it', () => {
  const ephemeral = { lok: { ...LOK, ephemeral: true } };
  assert.is(planServer(imageRequest({ ...ephemeral, profile: egressProfile(['api.example.test']) }), LOCAL, HOST).needsHelperImage, true);
  assert.is(planServer(imageRequest(ephemeral), LOCAL, HOST).needsHelperImage, false);
  assert.is(planServer(imageRequest(), LOCAL, HOST).needsHelperImage, true);
  assert.is(planServer(npxRequest({ profile: egressProfile(['api.example.test']) }), LOCAL, HOST).needsHelperImage, false);
});

plan('the user\'s variables come last: they override the CA variable, and are kept as given', () => {
  const p = planServer(npxRequest({ profile: egressProfile(['api.example.test']), env: { NODE_EXTRA_CA_CERTS: '/mine.pem', TOKEN: 't' } }), LOCAL, { ...HOST, caFile: '/ca.pem' });
  assert.is(p.env.NODE_EXTRA_CA_CERTS, '/mine.pem');
  assert.is(p.env.TOKEN, 't');
});

plan('grants are announced one line each, with their notes, and kept for the re-check before each container', () => {
  const mounts = [{ type: 'bind' as const, source: '/home/me/project', target: '/home/me/project', readOnly: false }, { type: 'bind' as const, source: '/data/ref', target: '/ref', readOnly: true }];
  const p = planServer(npxRequest(), LOCAL, { ...HOST, grants: grants(mounts, ['.git is read-only']) });
  assert.equal(p.notices, [
    'mcp-lok: profile stdio: read-write /home/me/project',
    'mcp-lok: profile stdio: read-only /data/ref at /ref',
    'mcp-lok: profile stdio: .git is read-only',
  ]);
  assert.equal(p.grants.first.mounts, mounts);
  assert.ok(p.grants.context);
});

plan('refuses an image whose grants nest a mount in a write grant on a local engine (it cannot be checked in the image)', () => {
  const nested = [
    { type: 'bind' as const, source: '/home/me/project', target: '/home/me/project', readOnly: false },
    { type: 'bind' as const, source: '/home/me/project/.git', target: '/home/me/project/.git', readOnly: true },
  ];
  const error = catchError(() => planServer(imageRequest(), LOCAL, { ...HOST, grants: grants(nested) }));
  assert.match(String(error), /cannot have a mount inside a write grant/);
  // An npm package checks it with the sandbox image's shell; a VM engine cannot mount sockets anyway.
  assert.is(planServer(npxRequest(), LOCAL, { ...HOST, grants: grants(nested) }).fifo, true);
  assert.is(planServer(imageRequest(), REMOTE, { ...HOST, grants: grants(nested) }).fifo, false);
});

plan('--name is used as given', () => {
  assert.is(planServer(npxRequest({ lok: { ...LOK, name: 'mine' } }), LOCAL, HOST).name, 'mine');
});

plan('is pure: the same input gives the same plan', () => {
  assert.equal(planServer(npxRequest(), LOCAL, HOST), planServer(npxRequest(), LOCAL, HOST));
});

plan.run();

const names = suite('nameHint and defaultContainerName');

names('name containers after the package or the image\'s last path part, without tag or digest', () => {
  const table: Array<[Parameters<typeof nameHint>[0], string]> = [
    [{ kind: 'npx', packages: [PKG], command: undefined, allowInstall: true }, '@scope/server'],
    [{ kind: 'image', image: 'ghcr.io/org/server:1.0', allowPull: true }, 'server'],
    [{ kind: 'image', image: 'localhost:5000/a/b@sha256:' + '0'.repeat(64), allowPull: true }, 'b'],
    [{ kind: 'image', image: 'server', allowPull: true }, 'server'],
  ];
  for (const [source, want] of table) assert.is(nameHint(source), want, JSON.stringify(source));
  assert.is(defaultContainerName('@scope/server', 'abc'), 'mcp-lok-scope-server-abc');
  assert.is(defaultContainerName('---', 'abc'), 'mcp-lok-server-abc');
});

names.run();

const pathArgs = suite('findPathArguments');

pathArgs('finds absolute paths alone or as an option\'s value, and nothing relative', () => {
  assert.equal(findPathArguments(['/home/me/project', '.', 'data', '--root=/srv/x', '-d=/srv/y', '--flag', '~/docs', 'stdio', '//server/share', 'key=/not/an/option']), ['/home/me/project', '/srv/x', '/srv/y']);
});

pathArgs.run();

const explain = suite('explainHostPaths');
const PROJECT: HostPathArgument = { path: '/home/me/project', real: '/home/me/project', kind: 'folder', refused: undefined };
const BUILT_IN = { name: 'stdio', source: 'built-in' };

explain('names the profile entry that grants an argument the built-in profile does not', () => {
  assert.equal(explainHostPaths([PROJECT], [], BUILT_IN), [
    'mcp-lok: the server\'s argument "/home/me/project" is a host folder that profile stdio does not grant, so the server cannot see it; to grant it, save {"write": ["/home/me/project"]} ("read" for read-only) in a profile file and pass --profile FILE before the package.',
  ]);
});

explain('names the user\'s own profile file to add it to', () => {
  const [line] = explainHostPaths([{ ...PROJECT, kind: 'file', path: '/home/me/a.db', real: '/home/me/a.db' }], [], { name: 'mine', source: '/home/me/.config/mcp-lok/profiles/mine.json' });
  assert.is(line, 'mcp-lok: the server\'s argument "/home/me/a.db" is a host file that profile mine does not grant, so the server cannot see it; to grant it, add "/home/me/a.db" to "write" ("read" for read-only) in "/home/me/.config/mcp-lok/profiles/mine.json".');
});

explain('says nothing of an argument the sandbox has at that path, granted or inside a grant', () => {
  const mounts = [{ type: 'bind' as const, source: '/home/me/project', target: '/home/me/project', readOnly: false }];
  assert.equal(explainHostPaths([PROJECT, { ...PROJECT, path: '/home/me/project/src', real: '/home/me/project/src' }], mounts, BUILT_IN), []);
  assert.equal(explainHostPaths([{ ...PROJECT, path: '/home/me/project-2', real: '/home/me/project-2' }], mounts, BUILT_IN).length, 1);
});

explain('points at the path inside when the grant mounts the folder elsewhere', () => {
  const mounts = [{ type: 'bind' as const, source: '/srv/data', target: '/data', readOnly: true }];
  assert.equal(explainHostPaths([{ ...PROJECT, path: '/srv/data/x', real: '/srv/data/x' }], mounts, { name: 'p.json', source: '/p.json' }), [
    'mcp-lok: the server\'s argument "/srv/data/x" is granted by profile p.json at "/data/x" inside the sandbox; pass that path to the server instead.',
  ]);
});

explain('says why no profile may grant a refused path, and never suggests granting it', () => {
  const [line] = explainHostPaths([{ ...PROJECT, path: '/tmp/x', real: '/tmp/x', refused: 'it is inside a temporary or runtime folder (/tmp)' }], [], BUILT_IN);
  assert.match(line ?? '', /"\/tmp\/x" is a host folder that no profile may grant \(it is inside a temporary or runtime folder \(\/tmp\)\)/);
  assert.not.match(line ?? '', /"write"/);
});

explain('keeps a path with a newline on one line', () => {
  const [line] = explainHostPaths([{ ...PROJECT, path: '/home/me/a\nmcp-lok: forged', real: '/home/me/a\nmcp-lok: forged' }], [], BUILT_IN);
  assert.not.match(line ?? '', /\n/);
});

explain('shows DEL and the C1 controls of a path as text (JSON quoting keeps them)', () => {
  const path = '/home/me/a\u009b2J\u007f';
  const [line] = explainHostPaths([{ ...PROJECT, path, real: path }], [], BUILT_IN);
  assert.not.match(line ?? '', /[\x7f-\x9f]/);
  assert.match(line ?? '', /"\/home\/me\/a\\x9b2J\\x7f"/);
});

explain('reaches the plan\'s notices', () => {
  const planned = planServer(npxRequest(), LOCAL, { ...HOST, hostPaths: [PROJECT] });
  assert.ok(planned.notices.some((n) => n.includes('"/home/me/project" is a host folder that profile')));
});

explain.run();

const home = suite('planHome: a home volume per package and --name, for one user');
const USER = { uid: 501, gid: 20 };
const npx = (names: string[], command?: string): Parameters<typeof planHome>[0] => ({
  kind: 'npx', packages: names.map((n) => ({ ...PKG, raw: n, name: n.replace(/(.)@.*$/, '$1'), selector: n.includes('@', 1) ? n.slice(n.lastIndexOf('@') + 1) : 'latest' })), command, allowInstall: true,
});

home('is planned by default, and not with --ephemeral', () => {
  const p = planServer(npxRequest(), LOCAL, HOST);
  assert.ok(p.home);
  assert.equal(p.home?.user, { uid: 501, gid: 20 });
  assert.equal(p.home, planHome(npxRequest().source, undefined, { uid: 501, gid: 20 }));
  assert.is(planServer(npxRequest({ lok: { ...LOK, ephemeral: true } }), LOCAL, HOST).home, undefined);
  // As root, the sandbox user (1000:1000) owns it.
  assert.equal(planServer(npxRequest(), LOCAL, { ...HOST, uid: 0, gid: 0 }).home?.user, { uid: 1000, gid: 1000 });
  assert.is(planServer(npxRequest({ quiet: true }), LOCAL, HOST).home?.announce, false);
});

home('is the same for every version of a package, and labelled with what it belongs to', () => {
  const a = planHome(npx(['@scope/server@1.2.3']), undefined, USER);
  assert.equal(planHome(npx(['@scope/server@2.0.0']), undefined, USER), a);
  assert.equal(planHome(npx(['@scope/server']), undefined, USER), a);
  assert.match(a.volume, /^mcp-lok-home-scope-server-[0-9a-f]{12}$/);
  assert.equal(a.labels, { 'mcp-lok': 'true', 'mcp-lok-kind': 'home', 'mcp-lok-package': '@scope/server', 'mcp-lok-home-user': '501:20' });
  assert.is(a.owner, '@scope/server');
});

home('is never shared between packages, names, bins or users', () => {
  const volumes = [
    planHome(npx(['@scope/server']), undefined, USER),
    planHome(npx(['@scope/server-other']), undefined, USER),
    planHome(npx(['scope-server']), undefined, USER),
    planHome(npx(['@scope/server']), 'memory', USER),
    planHome(npx(['@scope/server']), 'memory2', USER),
    planHome(npx(['other']), 'memory', USER),
    planHome(npx(['@scope/server']), undefined, { uid: 1000, gid: 1000 }),
    planHome(npx(['@scope/server']), undefined, { uid: 501, gid: 21 }),
    planHome(npx(['@scope/server', 'helper']), undefined, USER),
    planHome(npx(['@scope/server', 'helper'], 'server-cli'), undefined, USER),
    planHome({ kind: 'image', image: 'ghcr.io/scope/server:1', allowPull: false }, undefined, USER),
    planHome(npx(['@scope/server']), 'memory', USER, true, 'agent'),
  ].map((h) => h.volume);
  assert.is(new Set(volumes).size, volumes.length);
  // The order of -p packages does not matter.
  assert.is(planHome(npx(['helper', '@scope/server']), undefined, USER).volume, planHome(npx(['@scope/server', 'helper']), undefined, USER).volume);
});

home('a server an agent starts has a home of its own, never the user\'s server\'s of the same package and name', () => {
  const agent = planServer(npxRequest({ lok: { ...LOK, name: 'memory' }, launcher: 'start', homeScope: 'agent' }), LOCAL, HOST).home;
  const user = planServer(npxRequest({ lok: { ...LOK, name: 'memory' }, launcher: 'start' }), LOCAL, HOST).home;
  assert.not.equal(agent?.volume, user?.volume);
  assert.is(agent?.labels['mcp-lok-home-scope'], 'agent');
  assert.is(user?.labels['mcp-lok-home-scope'], undefined);
  assert.match(agent?.owner ?? '', /started by an agent/);
});

home('names a --name in its volume, labels and words', () => {
  const h = planHome(npx(['@modelcontextprotocol/server-memory']), 'memory', USER);
  assert.match(h.volume, /^mcp-lok-home-memory-[0-9a-f]{12}$/);
  assert.is(h.labels['mcp-lok-name'], 'memory');
  assert.is(h.owner, '@modelcontextprotocol/server-memory (--name memory)');
});

home('an image\'s home is per repository, whatever its tag or digest', () => {
  const image = (ref: string) => planHome({ kind: 'image', image: ref, allowPull: false }, undefined, USER);
  const a = image('ghcr.io/org/app:1.0');
  assert.equal(image('ghcr.io/org/app:2.0'), a);
  assert.equal(image('ghcr.io/org/app@sha256:abc'), a);
  assert.equal(image('ghcr.io/org/app'), a);
  assert.not.equal(image('localhost:5000/org/app:1').volume, a.volume);
  assert.is(a.labels['mcp-lok-image'], 'ghcr.io/org/app');
  assert.is(a.labels['mcp-lok-package'], undefined);
  assert.match(a.volume, /^mcp-lok-home-app-/);
});

home('imageRepository drops the tag and digest, not a registry port', () => {
  for (const [ref, repo] of [
    ['node', 'node'], ['node:24', 'node'], ['ghcr.io/org/app:1@sha256:ab', 'ghcr.io/org/app'], ['localhost:5000/app', 'localhost:5000/app'], ['localhost:5000/app:2', 'localhost:5000/app'],
  ] as const) assert.is(imageRepository(ref), repo, ref);
});

home('a known server that writes beside its code gets its file moved into the home, said in one line', () => {
  const memory = { raw: '@modelcontextprotocol/server-memory', name: '@modelcontextprotocol/server-memory', selector: 'latest', kind: 'tag' as const };
  const req = (over: Partial<ServerRequest> = {}) => npxRequest({ source: { kind: 'npx', packages: [memory], command: undefined, allowInstall: true }, ...over });
  const planned = planServer(req(), LOCAL, HOST);
  assert.equal(planned.notices, [
    'mcp-lok: @modelcontextprotocol/server-memory keeps memory.jsonl beside its code, which is read-only in the sandbox: MEMORY_FILE_PATH=/home/node/memory.jsonl keeps it in its home (/home/node, kept across runs) (-e MEMORY_FILE_PATH=PATH chooses another file).',
  ]);
  assert.is(planned.env.MEMORY_FILE_PATH, '/home/node/memory.jsonl');
  const chosen = planServer(req({ env: { MEMORY_FILE_PATH: '/home/node/m.jsonl' } }), LOCAL, HOST);
  assert.equal(chosen.notices, []);
  assert.is(chosen.env.MEMORY_FILE_PATH, '/home/node/m.jsonl');
  assert.match(planServer(req({ lok: { ...LOK, ephemeral: true } }), LOCAL, HOST).notices.join(''), /in memory with --ephemeral/);
});

home.run();
