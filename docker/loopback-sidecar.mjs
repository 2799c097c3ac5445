// The sidecar whose network namespace a server joins: it has no network (loopback only), and
// the server shares that loopback, never its files. It can carry two forwarders:
// - ingress: a Unix socket mounted from the host (mcp-lok's reverse proxy connects there) to the
//   server's port, for a server that listens itself;
// - egress: 127.0.0.1:PORT (HTTP_PROXY points there) to the egress proxy's Unix socket, mounted
//   read-only, so a server from any image (no shell or Node of its own) reaches exactly what its
//   profile allows, and has no route anywhere else.
// argv[2]: JSON { ingress?: { socket, port }, egress?: { socket, port } }. stdout: {"ready":true}
// once every listener is up.
import net from 'node:net';

const config = JSON.parse(process.argv[2] ?? '{}');

function forward(client, connectTo) {
  client.setNoDelay(true);
  const upstream = net.connect(connectTo);
  upstream.setNoDelay(true);
  client.pipe(upstream);
  upstream.pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
}

function listen(server, ...where) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(...where, resolve);
  });
}

const listening = [];
if (config.ingress) {
  listening.push(listen(net.createServer((c) => forward(c, { host: '127.0.0.1', port: Number(config.ingress.port) })), config.ingress.socket));
}
if (config.egress) {
  listening.push(listen(net.createServer((c) => forward(c, { path: config.egress.socket })), Number(config.egress.port), '127.0.0.1'));
}
Promise.all(listening).then(() => {
  process.stdout.write('{"ready":true}\n');
}, (error) => {
  process.stderr.write(`mcp-lok loopback sidecar: cannot listen: ${error.message}\n`);
  process.exit(1);
});
