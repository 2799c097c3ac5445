// Attacker's code in a real sandbox, installed from a registry and started by the real shim
// (the same create path as every server), tries to get out; every attempt must fail. The same
// probe in a plain `docker run` container must get out most of the time, proving the probes
// can tell a weak container from a strong one.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { scratchDir } from '../support/scratch.js';
import { ROOT, SHIM, afterLines, bridgeGateway, requireEngine, runBin } from './harness.js';
import { startFixtureRegistry, type FixtureRegistry } from './registry.js';
import {
  formatProbes, newestSandboxImage, parseProbes, removeFixtureVolumes, runDocker, startConnectionCounter, startDnsResponder,
  type ConnectionCounter, type DnsResponder, type Probe,
} from './escape-support.js';

const PROBE_PACKAGE = 'lok-fixture-probe';
const PROBE_DIR = join(ROOT, 'test', 'fixtures', 'packages', PROBE_PACKAGE);
const RUN_TIMEOUT_MS = 75_000;
/** Share of the attacks a plain `docker run` container must let through for the probes to count as able to fail. */
const PLAIN_ESCAPE_SHARE = 0.6;

/** Every attack the probe makes, with the behaviour the sandbox must show. */
const ATTACKS: Record<string, string> = {
  root: 'a sandboxed server cannot become root',
  capabilities: 'a sandboxed server holds no capability',
  'no-new-privs': 'a sandboxed server cannot gain privileges through setuid programs (no-new-privileges)',
  'write-rootfs': 'a sandboxed server cannot write to the root filesystem',
  'exec-tmp': 'a sandboxed server cannot run a file it wrote to /tmp or its home',
  'write-outside-grant': 'a sandboxed server cannot write in a read-only grant or beside its write grant',
  'read-beside-grant': 'a sandboxed server cannot read a host file beside its grant',
  'planted-symlink': 'a sandboxed server cannot read host files through a symlink it plants in its grant',
  'engine-socket': 'a sandboxed server cannot find or use the engine socket',
  mount: 'a sandboxed server cannot mount a filesystem',
  unshare: 'a sandboxed server cannot create user or mount namespaces',
  'proc-sys-write': 'a sandboxed server cannot open kernel settings in /proc for writing',
  'cgroup-write': 'a sandboxed server cannot open its own cgroup limits for writing',
  environment: 'a sandboxed server cannot read environment it was not given',
  'memory-limit': 'a sandboxed server cannot allocate memory without limit',
  'fork-limit': 'a sandboxed server cannot start processes without limit',
  routes: 'a sandboxed server has no interface but loopback and no route at all',
  'network-direct': 'a sandboxed server cannot connect to a listener on the engine\'s bridge gateway',
  'host-gateways': 'a sandboxed server cannot reach the host through any gateway its route table names',
  metadata: 'a sandboxed server has no route to the cloud metadata address',
  dns: 'a sandboxed server cannot resolve names, not even through a resolver on the gateway',
  'private-by-name': 'a sandboxed server cannot reach the host by the name Docker Desktop gives it',
};
const GRANT_CHECK = 'grant-works';

interface Setup {
  registry: FixtureRegistry;
  counter: ConnectionCounter;
  dns: DnsResponder;
  gateway: string;
  base: string;
  granted: string;
  readonly: string;
  beside: string;
  marker: string;
  secret: string;
  profile: string;
}

let setup: Setup | undefined;
let sandbox: { code: number | null; stderr: string; probes: Probe[] | Error; connections: string[]; queries: string[]; grantFile: string | undefined; ms: number } | undefined;
const plainName = `lok-escape-plain-${randomBytes(3).toString('hex')}`;

/** A name under the reserved `.test` domain: only the test's own DNS responder answers it. */
const DNS_NAME = 'probe.mcp-lok.test'; // lok-offline: looked up only where the test's responder or no route answers

/** The PROBE_* variables both runs get. */
function probeEnv(s: Setup): Record<string, string> {
  return {
    PROBE_GRANT: s.granted, PROBE_READONLY: s.readonly, PROBE_BESIDE: s.beside, PROBE_MARKER: s.marker,
    PROBE_HOST_IP: s.gateway, PROBE_HOST_PORT: String(s.counter.port),
    PROBE_DNS_SERVER: `${s.dns.address}:${s.dns.port}`, PROBE_DNS_NAME: DNS_NAME,
  };
}

/** Returns the sandbox run's result for one probe, failing with the run's output when it is missing. */
function sandboxProbe(name: string): Probe {
  assert.ok(sandbox, 'the sandbox run did not happen');
  if (sandbox.probes instanceof Error) throw sandbox.probes;
  const probe = sandbox.probes.find((p) => p.name === name);
  assert.ok(probe, `the probe reported nothing for ${name}:\n${sandbox.stderr.slice(-2000)}`);
  return probe;
}

const escape = suite('code in an mcp-lok sandbox cannot get out');

escape.before(async () => {
  await requireEngine();
  const gateway = await bridgeGateway();
  // Not in /tmp: temporary folders are refused as grants.
  const base = scratchDir('mcp-lok-escape-');
  const granted = join(base, 'granted');
  const readonly = join(base, 'readonly');
  mkdirSync(granted);
  chmodSync(granted, 0o777);
  mkdirSync(readonly);
  writeFileSync(join(readonly, 'notes.txt'), 'a read-only grant\n');
  const marker = `lok-marker-${randomBytes(12).toString('hex')}`;
  const beside = join(base, 'beside.txt');
  writeFileSync(beside, `${marker}\n`);
  const profile = join(base, 'profile.json');
  writeFileSync(profile, JSON.stringify({ write: [granted], read: [readonly] }));
  const registry = await startFixtureRegistry();
  const counter = await startConnectionCounter(gateway);
  const dns = await startDnsResponder(gateway, DNS_NAME, gateway);
  setup = { registry, counter, dns, gateway, base, granted, readonly, beside, marker, secret: `secret-${randomBytes(12).toString('hex')}`, profile };

  const args = ['--registry', registry.url, '--profile', profile];
  for (const [k, v] of Object.entries(probeEnv(setup))) args.push('-e', `${k}=${v}`);
  const started = Date.now();
  const before = counter.count();
  const queriesBefore = dns.queries().length;
  // The probe runs for seconds; its stdin stays open until it has printed its result. This test
  // adds the secret as a client's config would: --client-env off keeps it out (client-env.test.ts
  // shows that a secret the client itself inherited stays out with the default too).
  const result = await runBin(SHIM, ['--client-env', 'off', ...args, '-y', PROBE_PACKAGE], { env: { SECRET_NOT_GIVEN: setup.secret }, timeoutMs: RUN_TIMEOUT_MS, holdStdinUntil: afterLines(1) });
  const ms = Date.now() - started;
  const grantPath = join(granted, 'lok-probe-grant.txt');
  const grantFile = existsSync(grantPath) ? readFileSync(grantPath, 'utf8') : undefined;
  rmSync(grantPath, { force: true });
  let probes: Probe[] | Error;
  try { probes = parseProbes(result.stdout.toString(), result.stderr); } catch (e) { probes = e as Error; }
  sandbox = { code: result.code, stderr: result.stderr, probes, connections: counter.peers().slice(before), queries: dns.queries().slice(queriesBefore), grantFile, ms };
  if (!(probes instanceof Error)) console.log(`\n${formatProbes(`mcp-lok sandbox (${ms} ms, including install):`, probes)}`);
});

escape.after(async () => {
  await runDocker(['rm', '-f', plainName], 10_000).catch(() => undefined);
  await setup?.counter.close();
  await setup?.dns.close();
  await setup?.registry.close();
  if (setup) rmSync(setup.base, { recursive: true, force: true });
  await removeFixtureVolumes(PROBE_PACKAGE);
});

escape('the probe runs to completion through the shim and reports every attack', () => {
  assert.ok(sandbox);
  assert.is(sandbox.code, 0, sandbox.stderr);
  if (sandbox.probes instanceof Error) throw sandbox.probes;
  assert.equal(sandbox.probes.map((p) => p.name).sort(), [...Object.keys(ATTACKS), GRANT_CHECK].sort());
});

escape('a sandboxed server can still write inside its write grant, and the host sees the file', () => {
  const probe = sandboxProbe(GRANT_CHECK);
  assert.match(probe.detail, /^ok/, probe.detail);
  assert.is(sandbox?.grantFile, 'written by lok-fixture-probe\n');
});

for (const [name, title] of Object.entries(ATTACKS)) {
  escape(title, () => {
    const probe = sandboxProbe(name);
    assert.not.match(probe.detail, /^(probe error|unfinished)/, `the ${name} probe did not run: ${probe.detail}`);
    assert.is(probe.escaped, false, `${name} ESCAPED the sandbox: ${probe.detail}`);
  });
}

escape('the host saw no connection and no DNS query from the sandboxed server', () => {
  assert.ok(sandbox);
  assert.equal(sandbox.connections, [], `connections to the host port during the sandbox run: ${sandbox.connections.join(', ')}`);
  assert.equal(sandbox.queries, [], `DNS queries to the test's resolver during the sandbox run: ${sandbox.queries.join(', ')}`);
});

escape('a connection to the gateway\'s listener fails at once for want of a route (ENETUNREACH), not by timing out', () => {
  const probe = sandboxProbe('network-direct');
  assert.match(probe.detail, /ENETUNREACH/, probe.detail);
  assert.match(sandboxProbe('routes').detail, /^interfaces: lo; IPv4 routes: none; IPv6 routes: none$/);
});

escape('the same probes get out of a plain docker run container (so they can fail)', async () => {
  assert.ok(setup);
  const s = setup;
  const image = await newestSandboxImage();
  const env = { ...probeEnv(s), SECRET_NOT_GIVEN: s.secret };
  // On the default bridge, but every name it looks up stays here: the container's resolver is
  // its own loopback (nothing answers) and Docker Desktop's host name maps to the gateway.
  const args = ['run', '--rm', '--name', plainName, '--pull', 'never', '--user', '0:0', '--network', 'bridge',
    '--dns', '127.0.0.1', '--add-host', 'host.docker.internal:host-gateway',
    '-v', `${PROBE_DIR}:/probe:ro`, '-v', `${s.base}:${s.base}`,
    ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
    image, 'node', '/probe/probe.js'];
  const before = s.counter.count();
  const queriesBefore = s.dns.queries().length;
  const started = Date.now();
  const result = await runDocker(args, RUN_TIMEOUT_MS);
  const ms = Date.now() - started;
  assert.is(result.code, 0, result.stderr);
  const probes = parseProbes(result.stdout, result.stderr);
  console.log(`\n${formatProbes(`plain docker run (${ms} ms):`, probes)}`);
  const attacks = probes.filter((p) => p.name in ATTACKS);
  const escaped = attacks.filter((p) => p.escaped);
  console.log(`plain docker run: ${escaped.length} of ${attacks.length} attacks got out: ${escaped.map((p) => p.name).join(', ')}`);
  assert.is(attacks.length, Object.keys(ATTACKS).length);
  assert.ok(escaped.length >= Math.ceil(PLAIN_ESCAPE_SHARE * attacks.length), `only ${escaped.length} of ${attacks.length} attacks got out of a plain container`);
  // The listeners themselves must work, or "nothing reached them from the sandbox" proves nothing.
  const direct = probes.find((p) => p.name === 'network-direct');
  assert.ok(direct?.escaped, `the plain container did not reach the gateway's listener: ${direct?.detail}`);
  assert.ok(s.counter.count() > before, 'the plain container connected to the gateway\'s listener but the counter saw nothing');
  const dnsProbe = probes.find((p) => p.name === 'dns');
  assert.ok(dnsProbe?.escaped, `the plain container did not resolve through the test's DNS responder: ${dnsProbe?.detail}`);
  assert.ok(s.dns.queries().length > queriesBefore, 'the plain container resolved a name but the responder saw no query');
});

escape.run();
