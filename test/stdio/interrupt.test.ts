import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { signalExitCode, STOP_SIGNALS, trapStopSignals } from '../../src/stdio/interrupt.js';

const exitCode = suite('signalExitCode');

for (const [signal, code] of [['SIGHUP', 129], ['SIGINT', 130], ['SIGKILL', 137], ['SIGTERM', 143]] as const) {
  exitCode(`${signal} ends with ${code}, as a shell reports it`, () => {
    assert.is(signalExitCode(signal), code);
  });
}

exitCode.run();

const trap = suite('trapStopSignals');

const counts = (): number[] => STOP_SIGNALS.map((s) => process.listenerCount(s));

trap('the first signal aborts and is remembered, without ending the process', () => {
  const before = counts();
  const t = trapStopSignals();
  assert.is(t.caught(), undefined);
  process.emit('SIGTERM', 'SIGTERM');
  assert.ok(t.signal.aborted);
  assert.is(t.caught(), 'SIGTERM');
  t.release();
  assert.equal(counts(), before);
});

trap('a second signal gives the signals back their previous handling', () => {
  // Another listener stands in for the default action, which would end this test process.
  const other = (): void => {};
  process.on('SIGINT', other);
  const before = counts();
  const t = trapStopSignals();
  process.emit('SIGINT', 'SIGINT');
  process.emit('SIGINT', 'SIGINT');
  assert.is(t.caught(), 'SIGINT');
  assert.equal(counts(), before);
  process.off('SIGINT', other);
});

trap.run();
