// The reaper: a tiny detached process that removes a sandbox when the shim that started it
// dies, even by `kill -9`, and even while the client still holds the shim's stdin open.
// It learns the container's id on its stdin and waits for that pipe to close: a closing
// shim says "done" first; anything else means the shim is gone and the container must go,
// and with it a volume it was filling (a first install's), unless the engine says it is in use.
import { rmSync } from 'node:fs';
import { engineRequest } from '../engine/http.js';
import type { EngineEndpoint } from '../engine/endpoint.js';
import { splitLines } from '../lines.js';

const endpoint = JSON.parse(process.argv[2] ?? 'null') as EngineEndpoint;
let target = process.argv[3] ?? '';
const dir = process.argv[4] ?? '';
const relays: number[] = [];
const volumes: string[] = [];
let done = false;

process.stdin.on('data', splitLines((line) => {
  if (line === 'done') done = true;
  else if (line.startsWith('id ')) target = line.slice(3);
  else if (line.startsWith('pid ')) relays.push(Number(line.slice(4)));
  else if (line.startsWith('volume ')) volumes.push(line.slice(7));
}));
process.stdin.on('error', () => {});
process.stdin.on('close', () => {
  if (done) process.exit(0);
  if (dir) rmSync(dir, { recursive: true, force: true });
  for (const pid of relays) { try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ } }
  if (!target) process.exit(0);
  // The engine refuses to remove a volume another container still uses (a later install's).
  const removeVolumes = (): Promise<unknown> => Promise.all(volumes.map((v) =>
    engineRequest(endpoint, 'DELETE', `/volumes/${encodeURIComponent(v)}`, undefined, { timeoutMs: 5000 }).catch(() => undefined)));
  const attempt = (left: number): void => {
    engineRequest(endpoint, 'DELETE', `/containers/${encodeURIComponent(target)}?force=1&v=1`, undefined, { timeoutMs: 5000 })
      .then(() => removeVolumes().then(() => process.exit(0)), () => (left > 0 ? setTimeout(() => attempt(left - 1), 500) : process.exit(1)));
  };
  attempt(10);
});
