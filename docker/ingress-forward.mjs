// Beside a server that listens itself: this sidecar shares the server's network namespace
// (which has no network, only loopback) and hands each connection arriving on a Unix socket
// mounted from the host to the server's port. mcp-lok's reverse proxy on the host connects
// here; the server publishes no port and nothing outside this machine can reach it.
import net from 'node:net';

const [socketPath, port] = process.argv.slice(2);
net.createServer((client) => {
  client.setNoDelay(true);
  const upstream = net.connect(Number(port), '127.0.0.1');
  upstream.setNoDelay(true);
  client.pipe(upstream);
  upstream.pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
}).listen(socketPath);
