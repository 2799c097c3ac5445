// When the sandbox must refuse what a server was given, the client's log says what to change:
// a host folder given as an argument names the profile entry that grants it (and that entry
// works), and egress refusals of a server that then exits reach the client's stderr.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { scratchDir } from '../support/scratch.js';
import { startEgressWorld, type EgressWorld } from './egress-world.js';
import { afterLines, requireEngine, runBin, SHIM, shimEnv, tempDir } from './harness.js';

interface Seen { args: string[]; seen: Record<string, boolean> }

let world: EgressWorld;
const hints = suite('refusals that say what to change');

hints.before(async () => {
  await requireEngine();
  world = await startEgressWorld(/^lok-fixture-(env|fetch)/);
});
hints.after(async () => { await world?.close(); });

async function runEnvFixture(flags: string[], args: string[]): Promise<{ seen: Seen; stderr: string }> {
  const result = await runBin(SHIM, ['--registry', world.registry.url, ...flags, '-y', 'lok-fixture-env', ...args], { holdStdinUntil: afterLines(1) });
  assert.is(result.code, 0, result.stderr);
  return { seen: JSON.parse(result.stdout.toString()) as Seen, stderr: result.stderr };
}

hints('a host folder given as an argument names the profile entry that grants it, and that entry works', async () => {
  const project = scratchDir('project-');
  chmodSync(project, 0o777);
  const before = await runEnvFixture([], [project]);
  assert.is(before.seen.seen[project], false);
  const line = before.stderr.split('\n').find((l) => l.includes(`"${project}"`)) ?? '';
  assert.match(line, /^mcp-lok: the server's argument ".*" is a host folder that profile stdio does not grant, so the server cannot see it; to grant it, save (\{"write": \[".*"\]\}) \("read" for read-only\) in a profile file and pass --profile FILE before the package\.$/);
  // Doing what the line says grants it, and the line is gone.
  const snippet = /save (\{.*?\]\})/.exec(line)?.[1] ?? '';
  const profile = join(tempDir('mcp-lok-hint-'), 'project.json');
  writeFileSync(profile, snippet);
  const after = await runEnvFixture(['--profile', profile], [project]);
  assert.is(after.seen.seen[project], true);
  assert.not.ok(after.stderr.includes('is a host folder'), after.stderr);
});

hints('a host folder of a user\'s profile file, given as an option value, names that file', async () => {
  const project = scratchDir('other-');
  const profile = join(tempDir('mcp-lok-hint-'), 'mine.json');
  writeFileSync(profile, JSON.stringify({ read: [scratchDir('granted-')] }));
  const { seen, stderr } = await runEnvFixture(['--profile', profile], [`--root=${project}`]);
  assert.equal(seen.args, [`--root=${project}`]);
  assert.match(stderr, new RegExp(`argument "${project}" is a host folder that profile ${profile} does not grant.*add "${project}" to "write" \\("read" for read-only\\) in "${profile}"\\.`));
});

hints('a temporary folder given as an argument says no profile may grant it', async () => {
  const temp = mkdtempSync(join(tmpdir(), 'mcp-lok-hint-tmp-'));
  try {
    const { stderr } = await runEnvFixture([], [temp]);
    assert.match(stderr, /is a host folder that no profile may grant \(it is inside a temporary or runtime folder/);
    assert.not.ok(stderr.includes('"write"'), stderr);
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
});

hints('egress refusals of a server that then exits reach the client\'s stderr, naming the change', async () => {
  const profile = join(tempDir('mcp-lok-hint-'), 'api.json');
  writeFileSync(profile, JSON.stringify({ network: { outbound: { allow_host: [world.gateway], allow_port: [world.port] } } }));
  // An SDK client holds the server's stdin and reads its stderr into its log, as clients do.
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [SHIM, '--registry', world.registry.url, '--profile', profile, '-y', 'lok-fixture-fetch',
      `connect:${world.gateway}:${world.port + 1}`, 'connect:not-listed.mcp-lok.test:443'], // lok-offline: refused by the egress proxy before it resolves anything
    env: shimEnv(), stderr: 'pipe',
  });
  let log = '';
  transport.stderr?.on('data', (c: Buffer) => { log += c.toString(); });
  const closed = new Promise<void>((resolve) => { transport.onclose = () => resolve(); });
  transport.onerror = () => undefined;
  await transport.start();
  await closed;
  assert.match(log, new RegExp(`egress denied: .*to allow it, add ${world.port + 1} to network\\.outbound\\.allow_port in profile ${profile}`));
  assert.match(log, /egress denied: .*not-listed\.mcp-lok\.test.*allow_host/);
});

hints.run();
