// The same shim against Podman's Docker-compatible service (scripts/ensure-podman.sh starts
// it; scripts/test.mjs passes its address in MCP_LOK_TEST_PODMAN).
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { engineRequest } from '../../src/engine/http.js';
import { parseEngineUrl } from '../../src/engine/discover.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterLines, connectShim, EVERYTHING, MANAGER, MEMORY, runBin, SHIM, spawnBin, eventually } from './harness.js';

const address = process.env.MCP_LOK_TEST_PODMAN;
const podman = suite('mcp-lok-npx on Podman');

async function podmanContainers(name: string): Promise<unknown[]> {
  const engine = parseEngineUrl(address ?? '', 'MCP_LOK_TEST_PODMAN');
  const filters = encodeURIComponent(JSON.stringify({ label: [`mcp-lok-name=${name}`] }));
  return (await engineRequest<unknown[]>(engine, 'GET', `/containers/json?all=1&filters=${filters}`)).body;
}

if (!address) {
  // No test is registered: a skipped suite must not count as a pass.
  console.warn('Podman suite not run: no Podman service (scripts/ensure-podman.sh starts one; MCP_LOK_TEST_PODMAN names it).');
} else {
  const env = { MCP_LOK_ENGINE: address };

  podman('builds, installs and serves MCP over named pipes with the SDK client', async () => {
    const { client } = await connectShim(['-y', '-e', 'MEMORY_FILE_PATH=/home/node/memory.jsonl', MEMORY], env);
    try {
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === 'read_graph'));
      // The home directory is writable by the sandbox user under Podman too.
      await client.callTool({ name: 'create_entities', arguments: { entities: [{ name: 'lok', entityType: 'tool', observations: ['on podman'] }] } });
      const graph = await client.callTool({ name: 'read_graph', arguments: {} }) as { content: Array<{ text: string }> };
      assert.match(graph.content[0]?.text ?? '', /on podman/);
    } finally {
      await client.close();
    }
  });

  podman('serves MCP over the attach stream too', async () => {
    const init = `${JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })}\n`;
    const result = await runBin(SHIM, ['-y', MEMORY], { stdin: init, env: { ...env, MCP_LOK_BRIDGE: 'attach' }, holdStdinUntil: afterLines(1) });
    assert.is(result.code, 0, result.stderr);
    assert.match(result.stdout.toString(), /"id":0/);
  });

  podman('removes the container after kill -9', async () => {
    const name = `e2e-podman-kill-${randomBytes(3).toString('hex')}`;
    const child = spawnBin(SHIM, ['--name', name, '-y', MEMORY], env);
    let out = '';
    child.stdout?.on('data', (c: Buffer) => { out += c.toString(); });
    child.stdin?.write(`${JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })}\n`);
    await eventually(async () => out.includes('"id":0'), 60_000, 'the server to answer');
    assert.is((await podmanContainers(name)).length, 1);
    child.kill('SIGKILL');
    await eventually(async () => (await podmanContainers(name)).length === 0, 10_000, `${name} to be removed`);
    child.stdin?.destroy();
  });

  podman('serves a server that listens itself behind the proxy, restarts it when killed, and stop leaves nothing', async () => {
    const name = `e2e-podman-http-${randomBytes(3).toString('hex')}`;
    const engine = parseEngineUrl(address, 'MCP_LOK_TEST_PODMAN');
    try {
      const started = await runBin(MANAGER, ['start', '--name', name, `npx://${EVERYTHING}`, '--', 'streamableHttp'], { env, timeoutMs: 120_000 });
      assert.is(started.code, 0, started.stderr);
      const url = started.stdout.toString().trim().split(' ')[1] ?? '';
      const call = async (): Promise<string> => {
        const client = new Client({ name: 'e2e-podman', version: '1' });
        await client.connect(new StreamableHTTPClientTransport(new URL(url)));
        try {
          const result = await client.callTool({ name: 'echo', arguments: { message: 'on podman' } }) as { content: Array<{ text: string }> };
          return result.content[0]?.text ?? '';
        } finally {
          await client.close();
        }
      };
      assert.match(await call(), /on podman/);
      const server = (await podmanContainers(name) as Array<{ Id: string; Labels: Record<string, string> }>).find((c) => c.Labels['mcp-lok-role'] === 'run');
      assert.ok(server, 'no server container');
      await engineRequest(engine, 'POST', `/containers/${server.Id}/kill`);
      await eventually(async () => {
        const list = JSON.parse((await runBin(MANAGER, ['list', '--json'], { env })).stdout.toString()) as Array<{ name: string; state: string; restarts?: number }>;
        const mine = list.find((s) => s.name === name);
        return mine?.state === 'running' && (mine.restarts ?? 0) >= 1;
      }, 60_000, `${name} to be restarted`);
      assert.match(await call(), /on podman/);
      const stopped = await runBin(MANAGER, ['stop', name], { env });
      assert.is(stopped.code, 0, stopped.stderr);
      await eventually(async () => (await podmanContainers(name)).length === 0, 10_000, `${name}'s containers to be removed`);
    } finally {
      await runBin(MANAGER, ['rm', '-f', name], { env });
    }
  });

  podman('keeps a server\'s home volume across starts, the sandbox user\'s and mounted noexec, and rm --home removes it', async () => {
    const name = `e2e-podman-home-${randomBytes(3).toString('hex')}`;
    const keep = { ...env, MCP_LOK_EPHEMERAL: '0' };
    const args = ['--name', name, '-e', 'MEMORY_FILE_PATH=/home/node/memory.jsonl', '-y', MEMORY];
    const marker = `podman-home-${randomBytes(3).toString('hex')}`;
    try {
      const first = await connectShim(args, keep);
      try {
        await first.client.callTool({ name: 'create_entities', arguments: { entities: [{ name: marker, entityType: 'test', observations: ['kept'] }] } });
      } finally {
        await first.client.close();
      }
      const second = await connectShim(args, keep);
      try {
        const graph = await second.client.callTool({ name: 'read_graph', arguments: {} }) as { content: Array<{ text: string }> };
        assert.match(graph.content[0]?.text ?? '', new RegExp(marker));
      } finally {
        await second.client.close();
      }
      const listed = JSON.parse((await runBin(MANAGER, ['image', '--json'], { env })).stdout.toString()) as { homes: Array<{ name: string; server: string | null; noexec: boolean; user: string | null }> };
      const home = listed.homes.find((h) => h.server === name);
      assert.equal(home && { noexec: home.noexec, user: home.user }, { noexec: true, user: '1000:1000' });
      // Owned by the sandbox user, private: Podman's own folder for it, on this machine.
      const engine = parseEngineUrl(address, 'MCP_LOK_TEST_PODMAN');
      const info = (await engineRequest<{ Mountpoint: string }>(engine, 'GET', `/volumes/${home?.name ?? ''}`)).body;
      const st = statSync(info.Mountpoint);
      assert.equal([st.uid, st.gid, st.mode & 0o777], [1000, 1000, 0o700]);
    } finally {
      const removed = await runBin(MANAGER, ['rm', '--home', name], { env });
      assert.is(removed.code, 0, removed.stderr);
    }
  });
}

podman.run();
