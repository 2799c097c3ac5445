import { createServer } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { defaultServerName, reservePort } from '../../src/cli/commands/start.js';
import { catchErrorAsync } from '../support/catch-error.js';

const names = suite('defaultServerName');
for (const [source, name] of [
  ['npx://@modelcontextprotocol/server-memory', 'server-memory'],
  ['npx://@modelcontextprotocol/server-memory@2026.1.1', 'server-memory'],
  ['npx://cowsay@1', 'cowsay'],
  ['ghcr.io/org/my-server:1.2', 'my-server'],
  ['localhost:5000/img@sha256:abc', 'img'],
] as const) {
  names(`names ${source} ${name}`, () => assert.is(defaultServerName(source), name));
}
names.run();

const ports = suite('reservePort');
ports('finds a free port, and refuses one in use with one clear error', async () => {
  const port = await reservePort('127.0.0.1', undefined);
  assert.ok(port > 0);
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(port, '127.0.0.1', resolve));
  try {
    const error = await catchErrorAsync(() => reservePort('127.0.0.1', port));
    assert.is(error.code, 'PORT_IN_USE');
    assert.match(error.message, new RegExp(`Port ${port} on 127.0.0.1 is already in use`));
  } finally {
    busy.close();
  }
});
ports.run();
