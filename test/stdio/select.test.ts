import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chooseStdioChannel } from '../../src/stdio/select.js';
import type { EngineEndpoint } from '../../src/engine/endpoint.js';

const unix = (socketPath: string): EngineEndpoint => ({ kind: 'unix', socketPath, source: 't' });
const choose = suite('chooseStdioChannel');

for (const [title, endpoint, platform, expected] of [
  ['a native Linux daemon gets named pipes', unix('/var/run/docker.sock'), 'linux', 'fifo'],
  ['rootless Docker gets named pipes', unix('/run/user/1000/docker.sock'), 'linux', 'fifo'],
  ['Docker Desktop on Linux (a VM) gets attach', unix('/home/u/.docker/desktop/docker.sock'), 'linux', 'attach'],
  ['any engine on macOS gets attach', unix('/var/run/docker.sock'), 'darwin', 'attach'],
  ['a TCP engine gets attach', { kind: 'tcp', host: 'h', port: 1, tls: false, source: 't' }, 'linux', 'attach'],
] as const) {
  choose(title, () => {
    assert.is(chooseStdioChannel(endpoint as EngineEndpoint, {}, '/home/u', platform as NodeJS.Platform), expected);
  });
}

choose('a home of / does not put every socket inside it: a native Linux daemon still gets named pipes', () => {
  assert.is(chooseStdioChannel(unix('/var/run/docker.sock'), {}, '/', 'linux'), 'fifo');
  assert.is(chooseStdioChannel(unix('/home/u-other/docker.sock'), {}, '/home/u', 'linux'), 'fifo');
});

choose('lets MCP_LOK_BRIDGE override and rejects unknown values', () => {
  assert.is(chooseStdioChannel(unix('/var/run/docker.sock'), { MCP_LOK_BRIDGE: 'attach' }, '/h', 'linux'), 'attach');
  assert.throws(() => chooseStdioChannel(unix('/x'), { MCP_LOK_BRIDGE: 'pipes' }, '/h', 'linux'), /MCP_LOK_BRIDGE/);
});

choose.run();
