// A child process for run-container.test.ts, so that nothing but runContainer's own work keeps its
// event loop alive (as in mcp-lok-npx): it runs one server with the named-pipe bridge on its own
// stdio and a copy of the server's output, prints what runContainer returned, and exits with it.
// Argv: the sandbox image, the container's name, the parent folder of its pipes, and `hold-tap`
// to keep a writer on the copy's pipe, so the copy has not ended when the server's exit is known.
import { constants, openSync } from 'node:fs';
import { buildContainerSpec } from '../../src/sandbox/build-spec.js';
import { FIFO_MOUNT } from '../../src/sandbox/hardening.js';
import { buildLabels } from '../../src/sandbox/labels.js';
import { currentOwner } from '../../src/state/owner.js';
import { createFifos, removeFifos, wrapWithFifos } from '../../src/stdio/fifo.js';
import { runContainer } from '../../src/stdio/run-container.js';
import { ENGINE } from './harness.js';

const [image = '', name = '', parent = '', hold = ''] = process.argv.slice(2);
const fifos = await createFifos(parent, name, { tap: true });
if (hold === 'hold-tap' && fifos.tap) openSync(fifos.tap, constants.O_RDWR | constants.O_NONBLOCK);
const body = buildContainerSpec({
  name, image, cmd: wrapWithFifos(['/bin/sh', '-c', 'echo up; exit 5']), env: {},
  mounts: [{ type: 'bind', source: fifos.dir, target: FIFO_MOUNT, readOnly: true }],
  memoryBytes: 256 * 1024 ** 2, cpus: 1, pids: 64, nofile: 1024, network: 'none', interactive: false, autoRemove: true,
  labels: buildLabels({ name, role: 'run', launcher: 'run', transport: 'stdio', profile: 'stdio', packages: [], image, owner: currentOwner() }),
});
const tap = Object.assign((chunk: Buffer) => { process.stderr.write(`copy: ${chunk.toString()}`); }, { end: () => {} });
const code = await runContainer(ENGINE, name, body, {
  fds: { stdin: 0, stdout: 1 }, onStdout: () => {}, tapStdout: tap, onStderr: (chunk) => { process.stderr.write(chunk); },
}, { channel: { kind: 'fifo', fifos }, reaper: false, handleSignals: false });
await removeFifos(fifos);
process.stderr.write(`runContainer returned ${code}\n`, () => process.exit(code));
