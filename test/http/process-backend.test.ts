import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startStdioBridge, type BackendHandlers } from '../../src/http/session-bridge/bridge.js';
import { processBackend, type ProcessLaunch } from '../../src/http/session-bridge/process-backend.js';

const SDK_SERVER = fileURLToPath(new URL('../support/sdk-stdio-server.js', import.meta.url));
// Echoes each line upper-cased, and says its variable MARK on its first line.
const ECHO = "process.stdout.write(JSON.stringify({mark:process.env.MARK??null,lok:process.env.MCP_LOK_POD_TOKEN??null})+'\\n');require('readline').createInterface({input:process.stdin}).on('line',(l)=>process.stdout.write(l.toUpperCase()+'\\n'))";
// Ignores its stdin's end and SIGTERM: only SIGKILL stops it.
const STUBBORN = "process.on('SIGTERM',()=>{});process.stdin.resume();process.stdin.on('end',()=>{});process.stdout.write('up\\n');setInterval(()=>{},1000)";

function launch(script: string, extra: Partial<ProcessLaunch> = {}): ProcessLaunch {
  return { command: process.execPath, args: ['-e', script], env: { MARK: 'm1', PATH: process.env.PATH ?? '' }, cwd: process.cwd(), onStderr: () => {}, log: () => {}, stopGraceMs: 300, ...extra };
}

interface Recorder { handlers: BackendHandlers; lines: string[]; ended: Promise<string>; next: (count: number) => Promise<void> }

function recorder(accept = true): Recorder {
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  let endWith!: (message: string) => void;
  const ended = new Promise<string>((resolve) => { endWith = resolve; });
  return {
    lines, ended,
    handlers: { onMessage: (line) => { lines.push(line); for (const w of waiters.splice(0)) w(); return accept; }, onEnd: (m) => endWith(m) },
    next: async (count) => { while (lines.length < count) await new Promise<void>((resolve) => waiters.push(resolve)); },
  };
}

const backend = suite('processBackend');

backend('starts the server as a child with the environment given (never the bridge\'s), and relays its lines both ways', async () => {
  const r = recorder();
  const session = await processBackend(launch(ECHO))(r.handlers, { sessionId: 's1' });
  await r.next(1);
  assert.equal(JSON.parse(r.lines[0] ?? ''), { mark: 'm1', lok: null });
  session.send('{"hello":"world"}');
  await r.next(2);
  assert.is(r.lines[1], '{"HELLO":"WORLD"}');
  await session.close();
  assert.match(await r.ended, /the server exited: code 0/);
});

backend('stops a server that ignores its stdin\'s end and SIGTERM with SIGKILL', async () => {
  const r = recorder();
  const session = await processBackend(launch(STUBBORN))(r.handlers, { sessionId: 's2' });
  await r.next(1);
  await session.close();
  assert.match(await r.ended, /signal SIGKILL/);
});

// Starts a helper in its own process group (as servers start browsers and language servers), says its pid, and exits when its stdin ends.
const PARENT = "const c=require('child_process').spawn(process.execPath,['-e','setInterval(()=>{},1000)'],{stdio:'ignore'});process.stdout.write(JSON.stringify({helper:c.pid})+'\\n');process.stdin.resume();process.stdin.on('end',()=>process.exit(0))";

/** Whether a process runs (a zombie waiting for its reaper does not). */
const alive = (pid: number): boolean => {
  try { process.kill(pid, 0); } catch { return false; }
  try { return !/^\d+ \(.*\) Z /s.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; }
};

backend('stops what the server started when the session ends, though the server itself exits at once', async () => {
  const r = recorder();
  const session = await processBackend(launch(PARENT))(r.handlers, { sessionId: 's5' });
  await r.next(1);
  const { helper } = JSON.parse(r.lines[0] ?? '{}') as { helper: number };
  assert.ok(alive(helper));
  await session.close();
  await r.ended;
  const left = alive(helper);
  if (left) process.kill(helper, 'SIGKILL');
  assert.not.ok(left, 'the server\'s helper outlived its session');
});

backend('fails the session\'s open with the reason when the server cannot start', async () => {
  const error = await processBackend(launch('', { command: '/nonexistent/server' }))(recorder().handlers, { sessionId: 's3' }).then(() => undefined, (e: Error) => e);
  assert.match(String(error?.message), /ENOENT/);
});

backend('stops reading a server whose client is not reading, until resume', async () => {
  const r = recorder(false);
  const session = await processBackend(launch(ECHO))(r.handlers, { sessionId: 's4' });
  await r.next(1);
  session.send('a');
  session.resume();
  await r.next(2);
  assert.is(r.lines[1], 'A');
  await session.close();
});

backend.run();

const bridged = suite('the session bridge over processBackend');

bridged('gives each client session a server process of its own', async () => {
  const bridge = await startStdioBridge({
    transport: 'streamable-http', listen: { host: '127.0.0.1', port: 0 }, anyPort: true,
    openBackend: processBackend({ command: process.execPath, args: [SDK_SERVER], env: { PATH: process.env.PATH ?? '' }, cwd: process.cwd(), onStderr: () => {}, log: () => {} }),
  });
  const clients = [new Client({ name: 'a', version: '1' }), new Client({ name: 'b', version: '1' })];
  try {
    await Promise.all(clients.map((c) => c.connect(new StreamableHTTPClientTransport(new URL(bridge.url)))));
    const ids = await Promise.all(clients.map(async (c) => {
      const tools = await c.listTools();
      assert.ok(tools.tools.some((t) => t.name === 'whoami'));
      const result = await c.callTool({ name: 'whoami', arguments: {} }) as { content: Array<{ text: string }> };
      return result.content[0]?.text;
    }));
    assert.ok(ids[0] && ids[1] && ids[0] !== ids[1], `one server for both sessions: ${JSON.stringify(ids)}`);
    assert.is(bridge.sessionCount(), 2);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await bridge.close();
  }
  assert.is(bridge.sessionCount(), 0);
});

bridged.run();
