// The egress sidecar, for engines in a VM or across TCP, where a socket on the user's machine
// cannot be mounted into a sandbox. It runs mcp-lok's own egress proxy (egress/proxy.js,
// compiled from src/egress) as the only container with a network, on a Unix socket in a
// volume that the server, which has no network, mounts read-only. The proxy decides.
// argv[2]: the socket path. MCP_LOK_EGRESS: JSON { rules, refuse } (the profile's outbound
// rules; the user's machine's addresses). stdout: {"ready":true}, then one JSON line per
// outbound attempt, which mcp-lok on the user's machine logs.
import { chmodSync, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { startEgressProxy } from './egress/proxy.js';

const [socketPath] = process.argv.slice(2);
const { rules, refuse = [] } = JSON.parse(process.env.MCP_LOK_EGRESS ?? '{}');

function read(path) {
  try { return readFileSync(path, 'utf8'); } catch { return ''; }
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

const own = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
const hostAddresses = [...new Set([...refuse, ...own, ...gateways()])];
const record = (entry) => { process.stdout.write(`${JSON.stringify(entry)}\n`); };

startEgressProxy({ socketPath, rules, hostAddresses, record }).then(() => {
  // The server's user is not this one; only the server and this container mount the volume.
  chmodSync(socketPath, 0o666);
  process.stdout.write('{"ready":true}\n');
}, (error) => {
  process.stderr.write(`mcp-lok egress sidecar: cannot listen on ${socketPath}: ${error.message}\n`);
  process.exit(1);
});
