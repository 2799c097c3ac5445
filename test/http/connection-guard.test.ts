import { EventEmitter } from 'node:events';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { UncheckedConnections } from '../../src/http/connection-guard.js';

class FakeSocket extends EventEmitter {
  destroyed = false;
  destroy(): void { this.destroyed = true; this.emit('close'); }
}

const guard = suite('UncheckedConnections');

guard('closes the oldest unchecked connection past the limit, never one that passed, and forgets closed ones', () => {
  const unchecked = new UncheckedConnections(2);
  const [a, b, c, d, e] = [new FakeSocket(), new FakeSocket(), new FakeSocket(), new FakeSocket(), new FakeSocket()];
  unchecked.add(a);
  unchecked.add(b);
  unchecked.passed(a);
  unchecked.add(c);
  assert.equal([a.destroyed, b.destroyed, c.destroyed], [false, false, false]);
  unchecked.add(d);
  assert.equal([a.destroyed, b.destroyed, c.destroyed, d.destroyed], [false, true, false, false]);
  c.emit('close');
  unchecked.add(e);
  assert.is(d.destroyed, false);
  assert.is(unchecked.size, 2);
});

guard.run();
