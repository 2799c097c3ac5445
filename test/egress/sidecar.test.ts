import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EXIT } from '../../src/errors.js';
import { awaitSidecarReady, type Sidecar } from '../../src/egress/sidecar.js';
import { catchErrorAsync } from '../support/catch-error.js';

/** A started sidecar as awaitSidecarReady sees it: it exits when `exit` is called, and counts its stops. */
function sidecar(): { sidecar: Sidecar; exit: (code: number) => void; stops: () => number } {
  let exit!: (code: number) => void;
  const exited = new Promise<number>((resolve) => { exit = resolve; });
  let stops = 0;
  let stopping = false;
  return {
    sidecar: { id: 'abc', exited, stop: async () => { stops++; stopping = true; }, get stopping() { return stopping; } },
    exit,
    stops: () => stops,
  };
}

const NEVER = new Promise<void>(() => {});
const ready = suite('awaitSidecarReady');

ready('resolves once the sidecar says it is ready, and leaves it running', async () => {
  const s = sidecar();
  await awaitSidecarReady(s.sidecar, Promise.resolve(), 'the egress proxy', 60_000, () => '');
  assert.is(s.stops(), 0);
});

ready('stops nothing when the sidecar exits after it was ready', async () => {
  const s = sidecar();
  await awaitSidecarReady(s.sidecar, Promise.resolve(), 'the egress proxy', 60_000, () => '');
  s.exit(0);
  await s.sidecar.exited;
  assert.is(s.stops(), 0);
});

ready('when it exits first: stops it and says so, with its code and last words', async () => {
  const s = sidecar();
  s.exit(3);
  const error = await catchErrorAsync(() => awaitSidecarReady(s.sidecar, NEVER, 'the loopback sidecar', 60_000, () => ': cannot bind'));
  assert.is(error.code, 'ENGINE_ERROR');
  assert.is(error.exitCode, EXIT.engine);
  assert.is(error.message, 'The loopback sidecar exited (code 3) before it was ready: cannot bind.');
  assert.is(s.stops(), 1);
});

ready('when it takes too long: stops it and says how long it waited', async () => {
  const s = sidecar();
  const error = await catchErrorAsync(() => awaitSidecarReady(s.sidecar, NEVER, 'the egress proxy', 20, () => ''));
  assert.is(error.code, 'ENGINE_ERROR');
  assert.is(error.exitCode, EXIT.engine);
  assert.is(error.message, 'The egress proxy did not start within 0.02s.');
  assert.is(s.stops(), 1);
});

ready('when readiness itself fails: stops it and passes that error on', async () => {
  const s = sidecar();
  const failure = new Error('bad ready line');
  try {
    await awaitSidecarReady(s.sidecar, Promise.reject(failure), 'the egress proxy', 60_000, () => '');
    assert.unreachable('awaitSidecarReady resolved');
  } catch (error) {
    assert.is(error, failure);
  }
  assert.is(s.stops(), 1);
});

ready.run();
