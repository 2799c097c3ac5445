import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LokError } from '../../src/errors.js';
import { parseServerSource } from '../../src/request/source.js';
import { checkRecordedSpec } from '../../src/request/recorded-spec.js';
import { parseSupervisorRequest, type BackgroundSpec } from '../../src/app/supervisor-protocol.js';

/** A record's request as a `start` of `npx://x` with the stdio profile writes it. */
function spec(): BackgroundSpec {
  return JSON.parse(JSON.stringify({
    name: 'srv', sourceText: 'npx://x', transport: 'streamable-http', host: '127.0.0.1', port: 4000, targetPort: undefined, token: undefined,
    server: {
      source: { kind: 'npx', packages: [{ raw: 'x', name: 'x', selector: 'latest', kind: 'tag' }], command: undefined, allowInstall: true },
      args: [], env: {}, quiet: false, launcher: 'start',
      lok: { profile: 'stdio', env: [], name: 'srv', memoryBytes: 2 ** 30, cpus: 2, pids: 256, caCert: undefined, registry: undefined, refreshAfterMs: 86_400_000, engine: undefined, debug: false },
      profile: { name: 'stdio', source: 'built-in', profile: { read: [], write: [], outbound: { insecureAllowAll: false, transports: [], hosts: [], ports: [] } } },
    },
  })) as BackgroundSpec;
}

function damage(edit: (s: BackgroundSpec & Record<string, unknown>) => void): string {
  const s = spec() as BackgroundSpec & Record<string, unknown>;
  edit(s);
  try { checkRecordedSpec(s, 'srv'); } catch (error) { if (error instanceof LokError) return error.message; throw error; }
  throw new Error('expected the record to be refused');
}

const check = suite('checkRecordedSpec: a record edited on disk gains nothing');

check('takes a record as written', () => {
  const ok = checkRecordedSpec(spec(), 'srv');
  assert.is(ok.server.profile.name, 'stdio');
  assert.equal(ok.server.source, parseServerSource('npx://x'));
});

check('validates the profile again and runs the validated one', () => {
  const s = spec();
  s.server.profile.profile = { read: [{ host: '~/docs', container: '~/docs' }], write: [], outbound: { insecureAllowAll: false, transports: ['tcp'], hosts: ['API.example.com'], ports: [443] } };
  const ok = checkRecordedSpec(s, 'srv');
  assert.equal(ok.server.profile.profile.outbound.hosts, ['api.example.com']);
  assert.equal(ok.server.profile.profile.read, [{ host: '~/docs', container: '~/docs' }]);
});

for (const [title, edit, message] of [
  ['a listener beyond loopback without a token', (s: BackgroundSpec) => { s.host = '0.0.0.0'; }, /0\.0\.0\.0 without a token/],
  ['a host that is not an address', (s: BackgroundSpec) => { s.host = 'evil.example'; }, /host/],
  ['a malformed token', (s: BackgroundSpec) => { s.token = 'x'; }, /token/],
  ['another server\'s name', (s: BackgroundSpec) => { s.name = 'other'; }, /another server/],
  ['a container name other than its own (it names folders and files under the state folder)', (s: BackgroundSpec) => { s.server.lok.name = '../../../../tmp/x'; }, /another server/],
  ['an unknown transport', (s: BackgroundSpec) => { (s as { transport: string }).transport = 'stdio'; }, /transport/],
  ['a port out of range', (s: BackgroundSpec) => { s.port = 70000; }, /port/],
  ['a profile that is not a list of grants', (s: BackgroundSpec) => { (s.server.profile.profile as unknown as { read: string }).read = '/'; }, /profile/],
  ['a grant a profile file could not hold', (s: BackgroundSpec) => { s.server.profile.profile = { ...s.server.profile.profile, read: [{ host: '/srv', container: '/proc' }] }; }, /reserved/],
  ['a relative grant', (s: BackgroundSpec) => { s.server.profile.profile = { ...s.server.profile.profile, read: [{ host: 'docs', container: 'docs' }] }; }, /absolute/],
  ['a source that is not an image or npx:// package', (s: BackgroundSpec) => { s.sourceText = '--profile=network'; }, /source/],
  ['variables that are not text', (s: BackgroundSpec) => { (s.server.env as Record<string, unknown>).X = 1; }, /not text/],
  ['a process limit no option accepts', (s: BackgroundSpec) => { s.server.lok.pids = 10_000_000; }, /limits out of range/],
  ['a CPU limit no option accepts', (s: BackgroundSpec) => { s.server.lok.cpus = 1000; }, /limits out of range/],
  ['a memory limit that is not a size', (s: BackgroundSpec) => { (s.server.lok as { memoryBytes: unknown }).memoryBytes = '1g'; }, /limits out of range/],
  ['an engine that is not text', (s: BackgroundSpec) => { (s.server.lok as { engine: unknown }).engine = { host: 'x' }; }, /not text/],
  ['a request naming another server (whose home volume it would mount)', (s: BackgroundSpec) => { s.server.lok.name = 'other'; }, /names another server/],
  ['an unknown home scope', (s: BackgroundSpec) => { (s.server as { homeScope: unknown }).homeScope = 'user'; }, /home scope/],
  ['an --ephemeral that is not true or false', (s: BackgroundSpec) => { (s.server.lok as { ephemeral: unknown }).ephemeral = 'no'; }, /ephemeral/],
  ['a --pin-tools that is no mode', (s: BackgroundSpec) => { (s.server.lok as { pinTools: unknown }).pinTools = 'lax'; }, /--pin-tools that is not observe, enforce or off/],
] as const) {
  check(`refuses ${title}`, () => { assert.match(damage(edit), message); });
}

check('takes a record written before --ephemeral existed, and one with it', () => {
  assert.is(checkRecordedSpec(spec(), 'srv').server.lok.ephemeral, undefined);
  const s = spec();
  s.server.lok.ephemeral = true;
  assert.is(checkRecordedSpec(s, 'srv').server.lok.ephemeral, true);
});

check('takes a record written before --pin-tools existed (observed), and one with it', () => {
  assert.is(checkRecordedSpec(spec(), 'srv').server.lok.pinTools, undefined);
  const s = spec();
  s.server.lok.pinTools = 'enforce';
  assert.is(checkRecordedSpec(s, 'srv').server.lok.pinTools, 'enforce');
});

check('parses the source again from the text the record shows', () => {
  const s = spec();
  s.sourceText = 'npx://y@1.0.0';
  const ok = checkRecordedSpec(s, 'srv');
  assert.equal(ok.server.source, { kind: 'npx', packages: [{ raw: 'y@1.0.0', name: 'y', selector: '1.0.0', kind: 'version' }], command: undefined, allowInstall: true });
});

check('keeps a recorded request floating only when it floated, reads `never` (null in JSON) as Infinity, and gives older records the daily update check', () => {
  // A record from before pinning: the old default 24h, no update check. Nobody chose to float.
  const older = checkRecordedSpec(spec(), 'srv').server.lok;
  assert.is(older.refreshAfterMs, undefined);
  assert.is(older.updateCheckMs, 86_400_000);
  const chosen = spec();
  (chosen.server.lok as unknown as Record<string, unknown>).updateCheckMs = 86_400_000;
  const floating = checkRecordedSpec(chosen, 'srv').server.lok;
  assert.is(floating.refreshAfterMs, 86_400_000);
  assert.is(floating.updateCheckMs, 86_400_000);
  const s = spec();
  (s.server.lok as unknown as Record<string, unknown>).refreshAfterMs = undefined;
  (s.server.lok as unknown as Record<string, unknown>).updateCheckMs = null;
  const pinned = checkRecordedSpec(JSON.parse(JSON.stringify(s)), 'srv').server.lok;
  assert.is(pinned.refreshAfterMs, undefined);
  assert.is(pinned.updateCheckMs, Infinity);
  assert.match(damage((r) => { (r.server.lok as unknown as Record<string, unknown>).updateCheckMs = 'soon'; }), /a duration that is not one/);
  assert.match(damage((r) => { (r.server.lok as unknown as Record<string, unknown>).refreshAfterMs = -5; }), /a duration that is not one/);
});

check.run();

const protocol = suite('parseSupervisorRequest');

protocol('reads `never` durations, which JSON writes as null, as Infinity', () => {
  const s = spec();
  const sent = JSON.stringify({ spec: { ...s, server: { ...s.server, lok: { ...s.server.lok, refreshAfterMs: Infinity, updateCheckMs: Infinity } } }, restart: false });
  const lok = parseSupervisorRequest(sent).spec.server.lok;
  assert.is(lok.refreshAfterMs, Infinity);
  assert.is(lok.updateCheckMs, Infinity);
});

protocol.run();
