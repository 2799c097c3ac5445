import { createServer, type Server } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EXIT, LokError } from '../../src/errors.js';
import { listenError } from '../../src/http/listen-error.js';

const errno = (code: string | undefined): NodeJS.ErrnoException => Object.assign(new Error(`listen ${code ?? 'failed'}`), code === undefined ? {} : { code });

const errors = suite('listenError');

errors('turns a port in use into PORT_IN_USE, naming the port and address, with how to choose another', () => {
  const error = listenError(errno('EADDRINUSE'), { host: '127.0.0.1', port: 8080 });
  assert.instance(error, LokError);
  const lok = error as LokError;
  assert.is(lok.code, 'PORT_IN_USE');
  assert.is(lok.exitCode, EXIT.failure);
  assert.is(lok.message, 'Port 8080 on 127.0.0.1 is already in use.');
  assert.is(lok.hint, 'Choose another --port, or leave it out to get a free one.');
});

for (const code of ['EADDRNOTAVAIL', 'EACCES']) {
  errors(`turns ${code} into a usage error naming the address and the code`, () => {
    const lok = listenError(errno(code), { host: 'localhost', port: 80 }) as LokError;
    assert.instance(lok, LokError);
    assert.is(lok.code, 'INVALID_INPUT');
    assert.is(lok.exitCode, EXIT.usage);
    assert.is(lok.message, `Cannot listen on localhost:80 (${code}).`);
    assert.match(lok.hint ?? '', /--host/);
  });
}

for (const code of ['EMFILE', 'EINVAL', undefined]) {
  errors(`passes ${code ?? 'an error without a code'} through unchanged`, () => {
    const original = errno(code);
    assert.is(listenError(original, { host: '127.0.0.1', port: 1 }), original);
  });
}

errors('maps the error a real listener gets on a port in use', async () => {
  const listen = (port: number): Promise<Server> => new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => resolve(server));
  });
  const busy = await listen(0);
  const port = (busy.address() as { port: number }).port;
  try {
    const error = await listen(port).then((s) => { s.close(); return undefined; }, (e: unknown) => e);
    const lok = listenError(error, { host: '127.0.0.1', port }) as LokError;
    assert.is(lok.code, 'PORT_IN_USE');
  } finally {
    busy.close();
  }
});

errors.run();
