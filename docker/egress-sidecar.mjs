// The egress sidecar, for engines in a VM or across TCP, where a socket on the user's machine
// cannot be mounted into a sandbox. It runs mcp-lok's own egress proxy (lib/egress/proxy.js,
// compiled from src/egress) as the only container with a network, on a Unix socket in a
// volume that the server (or its loopback sidecar), which has no network, mounts read-only.
// argv[2]: the socket path. stdin: one JSON line { rules, refuse, upstreamProxy? } (the
// profile's outbound rules; the user's machine's addresses; the user's own proxy, whose
// credentials must not show in the container's configuration). stdout: {"ready":true}, then
// one JSON line per outbound attempt, which mcp-lok on the user's machine logs.
import { chmodSync, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { startEgressProxy } from './lib/egress/proxy.js';

const [socketPath] = process.argv.slice(2);

function read(path) {
  try { return readFileSync(path, 'utf8'); } catch { return ''; }
}

function readConfig() {
  return new Promise((resolve, reject) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk) => {
      text += chunk;
      const end = text.indexOf('\n');
      if (end >= 0) { process.stdin.pause(); resolve(JSON.parse(text.slice(0, end))); }
    });
    process.stdin.on('end', () => (text.trim() ? resolve(JSON.parse(text)) : reject(new Error('no configuration on stdin'))));
  });
}

// The gateways of this container's network are the VM (or the machine) the engine runs on.
function gateways() {
  const found = [];
  for (const line of read('/proc/net/route').split('\n').slice(1)) {
    const hex = line.trim().split(/\s+/)[2];
    if (!hex || !/^[0-9A-F]{8}$/i.test(hex) || /^0+$/.test(hex)) continue;
    found.push([6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16)).join('.'));
  }
  for (const line of read('/proc/net/ipv6_route').split('\n')) {
    const hex = line.trim().split(/\s+/)[4];
    if (!hex || !/^[0-9a-f]{32}$/i.test(hex) || /^0+$/.test(hex)) continue;
    found.push(hex.match(/.{4}/g).join(':'));
  }
  return found;
}

const record = (entry) => { process.stdout.write(`${JSON.stringify(entry)}\n`); };

readConfig().then(({ rules, refuse = [], upstreamProxy }) => {
  const own = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
  const hostAddresses = [...new Set([...refuse, ...own, ...gateways()])];
  return startEgressProxy({ socketPath, rules, hostAddresses, record, upstreamProxy });
}).then(() => {
  // The server's user is not this one; only the server's side and this container mount the volume.
  chmodSync(socketPath, 0o666);
  process.stdout.write('{"ready":true}\n');
}, (error) => {
  process.stderr.write(`mcp-lok egress sidecar: cannot start on ${socketPath}: ${error.message}\n`);
  process.exit(1);
});
