// Inside a sandbox with an outbound allowlist: the sandbox has no network at all, only this
// listener on its own loopback (HTTP_PROXY points here), which hands each connection to
// mcp-lok's egress proxy through a Unix socket mounted from the host. The proxy decides.
import { writeFileSync } from 'node:fs';
import net from 'node:net';

const [socketPath, port, readyFile] = process.argv.slice(2);
net.createServer((client) => {
  const upstream = net.connect(socketPath);
  client.pipe(upstream);
  upstream.pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
}).listen(Number(port), '127.0.0.1', () => {
  // The server starts only once this listens, so its first request finds the proxy.
  if (readyFile) writeFileSync(readyFile, '');
});
