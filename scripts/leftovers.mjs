// Prints, one JSON line, what of mcp-lok's is alive now: containers and networks labelled
// mcp-lok=true on the engine at the socket given, servers' home volumes (the tests make them
// only on purpose, and remove them), and supervisor processes. scripts/test.mjs
// compares a snapshot (run from the repository's root) from before the run with one from after it: whatever is new leaked.
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { resolve } from 'node:path';

const socketPath = process.argv[2] ?? '/var/run/docker.sock';

function get(path) {
  return new Promise((resolve) => {
    const req = http.get({ socketPath, path, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => { try { resolve(JSON.parse(body)); } catch { resolve([]); } });
    });
    req.on('error', () => resolve([]));
    req.on('timeout', () => { req.destroy(); resolve([]); });
  });
}

const filters = encodeURIComponent(JSON.stringify({ label: ['mcp-lok=true'] }));
const containers = (await get(`/containers/json?all=1&filters=${filters}`)).map((c) => `container ${c.Names?.[0] ?? c.Id}`);
const networks = (await get(`/networks?filters=${filters}`)).map((n) => `network ${n.Name}`);
// Package volumes and npm's cache are caches the runs share; homes are a server's files.
const volumes = await get(`/volumes?filters=${filters}`);
const homes = (Array.isArray(volumes?.Volumes) ? volumes.Volumes : [])
  .filter((v) => ['home', 'home-data'].includes(v.Labels?.['mcp-lok-kind'])).map((v) => `volume ${v.Name}`);
let supervisors = [];
try {
  supervisors = execFileSync('pgrep', ['-af', resolve('dist/src/supervisor/main.js')], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map((l) => `supervisor ${l}`);
} catch { /* none */ }
process.stdout.write(`${JSON.stringify([...containers, ...networks, ...homes, ...supervisors])}\n`);
