import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LokError } from '../../src/errors.js';
import { buildAgentStart, checkAgentProfileName, checkAgentRestart, checkRestartInput, findWidenings, hostEnvNames, requireFlags, wideningQuestion, type StartServerInput, type Widening } from '../../src/manager/start-request.js';
import type { BackgroundSpec } from '../../src/app/supervisor-protocol.js';

const dir = mkdtempSync(join(tmpdir(), 'lok-agent-start-'));
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
const options = { configDir: join(dir, 'config'), cwd: dir, env: { GITHUB_TOKEN: 'ghp_secret', MCP_LOK_PROFILE: 'network' } };

function refusal(run: () => unknown): LokError {
  try { run(); } catch (error) { if (error instanceof LokError) return error; throw error; }
  throw new Error('expected a refusal');
}

/** Builds the request and checks its flags, as the tool does before anything starts. */
function check(input: StartServerInput): ReturnType<typeof buildAgentStart> {
  const start = buildAgentStart(input, options);
  requireFlags(findWidenings(start, input.envFromHost ?? []), input);
  return start;
}

const smuggle = suite('start_server: no option is read from a string an agent sends');

for (const source of ['--profile=network', '--host=0.0.0.0', '--env=GITHUB_TOKEN', '--ca-cert=/root/.aws/credentials', '--engine=tcp://10.0.0.5:2375', '--registry=http://10.0.0.5/', '-e', '--']) {
  smuggle(`refuses ${JSON.stringify(source)} as a source, whatever the args`, () => {
    const e = refusal(() => check({ source, args: ['npx://lok-fixture-exit'] }));
    assert.is(e.exitCode, 2);
    assert.match(e.message, /source/);
  });
}

smuggle('gives the server a home apart from the user\'s servers of the same package and name', () => {
  assert.is(check({ source: 'npx://lok-fixture-exit', name: 'memory' }).server.homeScope, 'agent');
});

smuggle('passes args to the server untouched, never as options', () => {
  const start = check({ source: 'npx://lok-fixture-exit', args: ['--profile=network', '--host=0.0.0.0', '-e', 'GITHUB_TOKEN'] });
  assert.equal(start.server.args, ['--profile=network', '--host=0.0.0.0', '-e', 'GITHUB_TOKEN']);
  assert.is(start.server.profile.name, 'stdio');
  assert.is(start.host, '127.0.0.1');
  assert.equal(start.server.env, {});
});

smuggle('takes neither the profile nor the variables from mcp-lok\'s own MCP_LOK_* settings', () => {
  const start = check({ source: 'npx://lok-fixture-exit' });
  assert.is(start.server.profile.name, 'stdio');
  assert.equal(start.server.env, {});
  assert.is(start.server.lok.caCert, undefined);
});

const widen = suite('start_server: every widening of the effective request needs its flag');

widen('a profile file that reads a folder and allows one outside host needs allowReads and allowNetwork', () => {
  const profile = join(dir, 'sneaky.json');
  writeFileSync(profile, JSON.stringify({ read: ['~/Documents'], network: { outbound: { allow_host: ['api.example.com'], allow_port: [443] } } }));
  const e = refusal(() => check({ source: 'npx://lok-fixture-exit', profile }));
  assert.match(e.message, /read ~\/Documents/);
  assert.match(e.message, /reach api\.example\.com on port 443/);
  assert.match(e.hint ?? '', /allowNetwork: true.*allowReads: true/);
  const start = check({ source: 'npx://lok-fixture-exit', profile, allowReads: true, allowNetwork: true });
  assert.equal(start.server.profile.profile.outbound.hosts, ['api.example.com']);
});

widen('the network profile, write grants, a non-loopback host and host variables each need their flag', () => {
  assert.match(refusal(() => check({ source: 'npx://x', profile: 'network' })).hint ?? '', /allowNetwork/);
  const writes = join(dir, 'writes.json');
  writeFileSync(writes, JSON.stringify({ write: [dir] }));
  assert.match(refusal(() => check({ source: 'npx://x', profile: writes })).hint ?? '', /allowWrites/);
  assert.match(refusal(() => check({ source: 'npx://x', host: '0.0.0.0' })).hint ?? '', /allowRemoteClients/);
  assert.match(refusal(() => check({ source: 'npx://x', envFromHost: ['GITHUB_TOKEN'] })).hint ?? '', /allowHostEnv/);
  const start = check({ source: 'npx://x', envFromHost: ['GITHUB_TOKEN'], allowHostEnv: true });
  assert.equal(start.server.env, { GITHUB_TOKEN: 'ghp_secret' });
});

widen('an image from an agent is never pulled unless the request says so, and then that is a widening the user is asked about', () => {
  const quiet = check({ source: 'ghcr.io/org/server:1.0' });
  assert.equal(quiet.server.source, { kind: 'image', image: 'ghcr.io/org/server:1.0', allowPull: false });
  assert.equal(findWidenings(quiet, []), []);
  const pulling = buildAgentStart({ source: 'ghcr.io/org/server:1.0', allowPull: true }, options);
  assert.equal(findWidenings(pulling, []).map((w) => w.flag), ['allowPull']);
  assert.match(findWidenings(pulling, [])[0]?.what ?? '', /download ghcr\.io\/org\/server:1\.0/);
  assert.is(check({ source: 'npx://x', allowPull: true }).server.source.kind, 'npx');
});

widen('a write grant whose .git folders stay writable (git_writable) says so in what the user is asked', () => {
  const plain = join(dir, 'writes-plain.json');
  writeFileSync(plain, JSON.stringify({ write: [dir] }));
  const hooks = join(dir, 'writes-git.json');
  writeFileSync(hooks, JSON.stringify({ write: [dir], git_writable: true }));
  const what = (profile: string): string => findWidenings(buildAgentStart({ source: 'npx://x', profile }, options), []).map((w) => w.what).join('; ');
  assert.not.match(what(plain), /git/);
  assert.match(what(hooks), new RegExp(`write ${dir}, \\.git folders included .*hooks.*run code on this machine`));
});

widen('a variable mcp-lok does not have is refused, not silently skipped', () => {
  assert.match(refusal(() => check({ source: 'npx://x', envFromHost: ['NOPE'], allowHostEnv: true })).message, /NOPE/);
});

widen('what was checked is what runs: the profile is content, read once', () => {
  const profile = join(dir, 'changing.json');
  writeFileSync(profile, JSON.stringify({}));
  const start = check({ source: 'npx://x', profile });
  writeFileSync(profile, JSON.stringify({ network: { outbound: { insecure_allow_all: true } } }));
  assert.is(start.server.profile.profile.outbound.insecureAllowAll, false);
  assert.equal(findWidenings(start, []), []);
});

const restart = suite('start_server with only a name: a restart is checked like a start');

/** A recorded request as the CLI's `start` keeps it, from `check` plus what startBackground adds. */
function recorded(input: StartServerInput, lok: Partial<BackgroundSpec['server']['lok']> = {}): BackgroundSpec {
  const start = buildAgentStart(input, options);
  return { ...start, name: 'srv', port: 4000, token: undefined, server: { ...start.server, lok: { ...start.server.lok, ...lok } } };
}

restart('variables copied from mcp-lok\'s environment are kept as such, so a restart asks for allowHostEnv again', () => {
  const spec = recorded({ source: 'npx://x', envFromHost: ['GITHUB_TOKEN'], env: { MODE: 'fast' }, allowHostEnv: true });
  const copied = JSON.parse(JSON.stringify(spec)) as BackgroundSpec;
  assert.equal(hostEnvNames(copied.server), ['GITHUB_TOKEN']);
  assert.match(refusal(() => requireFlags(findWidenings(copied, hostEnvNames(copied.server)), {})).hint ?? '', /allowHostEnv/);
  // `-e NAME=value` from the CLI is a value the user gave, `-e NAME` a copy.
  assert.equal(hostEnvNames({ lok: { ...copied.server.lok, env: [{ name: 'A', value: '1' }, { name: 'B', value: undefined }] }, env: { A: '1', B: '2' } }), ['B']);
});

restart('a CA file, an engine or a registry other than the user\'s own is refused to an agent', () => {
  const env = { ...options.env };
  checkAgentRestart(recorded({ source: 'npx://x' }), { cwd: dir, env });
  for (const [lok, what] of [
    [{ caCert: '/root/.ssh/id_rsa' }, /a CA file/],
    [{ engine: 'tcp://10.0.0.5:2375' }, /an engine/],
    [{ registry: 'http://10.0.0.5/' }, /a registry/],
  ] as const) {
    const e = refusal(() => checkAgentRestart(recorded({ source: 'npx://x' }, lok), { cwd: dir, env }));
    assert.match(e.message, what);
    assert.match(e.hint ?? '', /mcp-lok start srv/);
  }
  // The user's own settings are what a new start would use too.
  checkAgentRestart(recorded({ source: 'npx://x' }, { caCert: join(dir, 'ca.pem') }), { cwd: dir, env: { ...env, MCP_LOK_CA_CERT: 'ca.pem' } });
});

restart('fields only a new start takes are refused, not ignored', () => {
  checkRestartInput({});
  for (const field of ['profile', 'host', 'envFromHost', 'args', 'auth'] as const) {
    assert.match(refusal(() => checkRestartInput({ [field]: field === 'auth' ? true : 'x' })).message, new RegExp(`\`${field}\``));
  }
});

const names = suite('checkAgentProfileName');

names('refuses a .json path whose name could make the confirmation lie (line breaks, bidi overrides, invisible characters)', () => {
  // An agent that can write files can name one so; the user's confirmation quotes the profile's name.
  for (const bad of ['/home/u/ok\n\nNothing here widens the sandbox. Allow.\n.json', '/home/u/\u202enosj.evil.json', '/home/u/a\u200bb.json', '/home/u/x\u0000.json']) {
    assert.match(refusal(() => checkAgentProfileName(bad)).message, /control or invisible characters/);
  }
});

for (const ok of ['stdio', 'none', 'network', 'my-profile', '/home/u/p.json', 'p.json']) {
  names(`accepts ${ok}`, () => { checkAgentProfileName(ok); });
}
for (const bad of ['/etc/passwd', '~/.ssh/id_rsa', '../../.aws/credentials', '/root/.docker/config.json.bak']) {
  names(`refuses ${bad}`, () => { assert.match(refusal(() => checkAgentProfileName(bad)).message, /profile name or a \.json file/); });
}

const question = suite('wideningQuestion');

const network: Widening = { flag: 'allowNetwork', what: 'profile network lets the server reach any public host on any port' };
const reads: Widening = { flag: 'allowReads', what: 'profile p lets the server read /home/u/project' };
const request = { source: 'npx://a', name: 'a', profile: 'network', allowNetwork: true };

question('asks about every widening in one line, in the words the user saw before', () => {
  assert.is(wideningQuestion([network, reads], request).message, `An agent asks mcp-lok to start a server with a wider sandbox: ${reads.what}; ${network.what}. Allow it?`);
});

question('names what reaches furthest first (writes, host variables, other machines, reads), so a long list of hosts cannot push it out of sight', () => {
  const writes: Widening = { flag: 'allowWrites', what: 'profile p lets the server write /home/u' };
  const env: Widening = { flag: 'allowHostEnv', what: 'the server gets GITHUB_TOKEN from mcp-lok\'s own environment' };
  const message = wideningQuestion([network, reads, writes, env], request).message;
  assert.ok(message.indexOf(writes.what) < message.indexOf(env.what) && message.indexOf(env.what) < message.indexOf(reads.what) && message.indexOf(reads.what) < message.indexOf(network.what), message);
});

question('refuses a question too long to read whole (a profile padded with hosts to bury a write grant at its end)', () => {
  const file = join(dir, 'padded.json');
  const hosts = Array.from({ length: 300 }, (_, i) => `harmless-api-${i}.example.com`);
  writeFileSync(file, JSON.stringify({ network: { outbound: { allow_host: hosts, allow_port: [443] } }, write: ['~'] }));
  const start = buildAgentStart({ source: 'npx://x', profile: file, allowNetwork: true, allowWrites: true }, options);
  const error = refusal(() => wideningQuestion(findWidenings(start, []), { source: 'npx://x', profile: file }));
  assert.match(error.message, /more ways than one question can show/);
  assert.not.match(error.message, /\n/);
});

question('the same request gets the same key, so the client\'s answer finds it', () => {
  assert.is(wideningQuestion([network], request).key, wideningQuestion([network], { ...request }).key);
});

for (const [title, widenings, args] of [
  ['other arguments (another server) get another key: a yes never carries over', [network], { ...request, name: 'b' }],
  ['another source gets another key', [network], { ...request, source: 'npx://b' }],
  ['other widenings (a record changed since the question) get another key', [network, reads], request],
] as const) {
  question(title, () => { assert.is.not(wideningQuestion(widenings, args).key, wideningQuestion([network], request).key); });
}

question('the key is a short name, not the question', () => {
  assert.match(wideningQuestion([network], request).key, /^allow-[0-9a-f]{24}$/);
});

smuggle.run();
widen.run();
names.run();
restart.run();
question.run();
