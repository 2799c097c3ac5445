import { execFileSync } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, open, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { pollCopy, relayDone, startTeeRelay } from '../../src/stdio/relay.js';

let dir = '';
const openFd = (path: string, flags: string): Promise<number> => new Promise((resolve, reject) => open(path, flags, (e, fd) => (e ? reject(e) : resolve(fd))));

/** A named pipe standing in for the server's stdout: its read end (for the relay) and write end (for the test). */
async function serverPipe(): Promise<{ read: number; write: number }> {
  const path = join(dir, 'out');
  execFileSync('mkfifo', [path]);
  const [read, write] = await Promise.all([openFd(path, 'r'), openFd(path, 'w')]);
  return { read, write };
}

const tee = suite('startTeeRelay and pollCopy');
tee.before.each(() => { dir = mkdtempSync(join(tmpdir(), 'lok-tee-')); });
tee.after.each(() => { rmSync(dir, { recursive: true, force: true }); });

tee('writes every byte to the client and a copy to the tap, which is read whole until its end', async () => {
  const server = await serverPipe();
  execFileSync('mkfifo', [join(dir, 'tap')]);
  const client = openSync(join(dir, 'client'), 'w');
  const started = await startTeeRelay(server.read, client, join(dir, 'tap'));
  assert.ok(started, 'tee did not start');
  const copies: Buffer[] = [];
  const copied = pollCopy(started.copyFd, (chunk) => copies.push(chunk));
  const text = Array.from({ length: 3000 }, (_, i) => `{"jsonrpc":"2.0","id":${i},"result":{}}\n`).join('');
  for (let at = 0; at < text.length; at += 7000) writeSync(server.write, text.slice(at, at + 7000));
  closeSync(server.write);
  await Promise.all([copied, relayDone(started.relay)]);
  closeSync(client);
  assert.is(readFileSync(join(dir, 'client'), 'utf8'), text);
  assert.is(Buffer.concat(copies).toString(), text);
});

tee('gives up when tee cannot open its copy, stopping tee and leaving the server\'s pipe open for a cat relay', async () => {
  const server = await serverPipe();
  const client = openSync(join(dir, 'client'), 'w');
  assert.is(await startTeeRelay(server.read, client, join(dir, 'no-such-folder', 'tap')), undefined);
  assert.ok(fstatSync(server.read).isFIFO(), 'the server\'s pipe was closed');
  closeSync(server.read);
  closeSync(server.write);
  closeSync(client);
});

tee.run();
