import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { scratchDir } from '../support/scratch.js';
import { LOK_HOME, MANAGER, SHIM, connectShim, lokContainers, requireEngine, runBin, tempDir } from './harness.js';

const FILESYSTEM = '@modelcontextprotocol/server-filesystem';
type ToolResult = { content: Array<{ text: string }>; isError?: boolean };

/** Returns a folder the sandbox user can use (not in /tmp, which is refused), holding one file, and a profile granting it. */
function grantedFolder(mode: 'read' | 'write'): { dir: string; profile: string } {
  const dir = scratchDir(`mcp-lok-grant-${mode}-`);
  chmodSync(dir, 0o777);
  writeFileSync(join(dir, 'notes.txt'), 'hello from the host\n');
  const profile = join(tempDir('mcp-lok-profile-'), 'profile.json');
  writeFileSync(profile, JSON.stringify({ [mode]: [dir] }));
  return { dir, profile };
}

const grants = suite('mcp-lok-npx with filesystem grants (server-filesystem)');

grants.before(requireEngine);

grants('reads a read-only grant and cannot write to it', async () => {
  const { dir, profile } = grantedFolder('read');
  const { client, stderr } = await connectShim(['--profile', profile, '-y', FILESYSTEM, dir]);
  try {
    const read = await client.callTool({ name: 'read_text_file', arguments: { path: join(dir, 'notes.txt') } }) as ToolResult;
    assert.is(read.content[0]?.text, 'hello from the host\n');
    const write = await client.callTool({ name: 'write_file', arguments: { path: join(dir, 'new.txt'), content: 'x' } }) as ToolResult;
    assert.ok(write.isError, 'a write to a read-only grant succeeded');
    assert.match(write.content[0]?.text ?? '', /EROFS|read-only/);
    assert.not.ok(existsSync(join(dir, 'new.txt')));
    assert.match(stderr(), /read-only .*mcp-lok-grant-read/);
    const listed = JSON.parse((await runBin(MANAGER, ['list', '--json'])).stdout.toString()) as Array<{ profile: string; allows: string[] }>;
    const mine = listed.find((s) => s.profile === profile);
    assert.ok(mine?.allows.some((a) => a.startsWith('read-only: ') && a.includes(dir)), JSON.stringify(mine));
  } finally {
    await client.close();
  }
});

grants('writes where a write grant says, and the host sees the file', async () => {
  const { dir, profile } = grantedFolder('write');
  const { client } = await connectShim(['--profile', profile, '-y', FILESYSTEM, dir]);
  try {
    const write = await client.callTool({ name: 'write_file', arguments: { path: join(dir, 'from-sandbox.txt'), content: 'written inside' } }) as ToolResult;
    assert.not.ok(write.isError, write.content[0]?.text);
    assert.is(readFileSync(join(dir, 'from-sandbox.txt'), 'utf8'), 'written inside');
  } finally {
    await client.close();
  }
});

grants('sees nothing beside a grant', async () => {
  const parent = scratchDir('mcp-lok-beside-');
  const granted = join(parent, 'granted');
  mkdirSync(granted);
  writeFileSync(join(parent, 'secret.txt'), 'not for the server');
  const profile = join(parent, 'profile.json');
  writeFileSync(profile, JSON.stringify({ read: [granted] }));
  const { client } = await connectShim(['--profile', profile, '-y', FILESYSTEM, parent]);
  try {
    const read = await client.callTool({ name: 'read_text_file', arguments: { path: join(parent, 'secret.txt') } }) as ToolResult;
    assert.ok(read.isError);
    assert.not.match(read.content[0]?.text ?? '', /not for the server/);
  } finally {
    await client.close();
  }
});

grants.run();

const refused = suite('mcp-lok-npx refuses profiles that would expose too much');

refused.before(requireEngine);

async function assertRefused(profile: unknown, pattern: RegExp, env: Record<string, string> = {}): Promise<void> {
  const dir = tempDir('mcp-lok-bad-profile-');
  const path = join(dir, 'profile.json');
  writeFileSync(path, typeof profile === 'string' ? profile : JSON.stringify(profile));
  const before = (await lokContainers()).length;
  const result = await runBin(SHIM, ['--profile', path, '-y', FILESYSTEM, '/tmp'], { env: { MCP_LOK_HOME: LOK_HOME, ...env } });
  assert.is(result.code, 125, result.stderr);
  assert.is(result.stdout.length, 0);
  assert.is(result.stderr.trim().split('\n').length, 1, result.stderr);
  assert.match(result.stderr, pattern);
  assert.is((await lokContainers()).length, before);
}

refused('refuses the home directory, credential stores and system directories', async () => {
  await assertRefused({ read: ['~'] }, /whole home directory/);
  await assertRefused({ read: ['~/.ssh'] }, /credential store|does not exist/);
  await assertRefused({ write: ['/etc'] }, /system directory/);
  await assertRefused({ read: ['/var/run/docker.sock'] }, /system directory|engine's socket/);
});

refused('checks the resolved path, so a planted symlink cannot widen a grant', async () => {
  const dir = tempDir('mcp-lok-symlink-');
  symlinkSync('/etc', join(dir, 'innocent'));
  await assertRefused({ read: [join(dir, 'innocent')] }, /resolves to \/etc.*system directory/);
});

refused('names the JSON path of a mistake', async () => {
  await assertRefused({ read: ['relative/path'] }, /\$\.read\[0\].*absolute/);
  await assertRefused('{"read": [], "read": []}', /duplicate key "read"/);
  await assertRefused({ network: { outbound: { allow_transport: ['udp'] } } }, /UDP cannot be allowed/);
  await assertRefused({ nework: {} }, /\$\.nework: unknown key/);
});

refused.run();
