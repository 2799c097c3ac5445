// A home volume is only ever its own server's, against the real engine: a volume of the name a
// server's home would have, made for another package (as a package named to match another's
// 48-bit hash would find), is refused and left alone. Every volume made here is removed again.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { planHome } from '../../src/app/plan.js';
import type { ServerSource } from '../../src/request/server-request.js';
import { createVolume, inspectVolume, removeVolume } from '../../src/engine/containers.js';
import { ensureHome, homeDataVolume, removeHomeVolume } from '../../src/prepare/home.js';
import { ensureSandboxImage } from '../../src/prepare/images.js';
import { getPaths } from '../../src/state/paths.js';
import { testContext } from '../support/context.js';
import { ENGINE, requireEngine, tempDir } from './harness.js';

const npx = (name: string): ServerSource => ({ kind: 'npx', packages: [{ raw: name, name, selector: 'latest', kind: 'tag' }], command: undefined, allowInstall: true });

const owner = suite('ensureHome: a home of the same name made for another server is not this one\'s');
const ctxHome = tempDir('mcp-lok-home-owner-e2e-');
const made: string[] = [];
owner.before(requireEngine);
owner.after(async () => {
  for (const v of made) await removeHomeVolume(ENGINE, v, getPaths({ MCP_LOK_HOME: ctxHome }).state);
  rmSync(ctxHome, { recursive: true, force: true });
});

owner('refuses the home of another package whose volume name it shares, and leaves it alone', async () => {
  const ctx = testContext({ home: ctxHome, engine: () => Promise.resolve(ENGINE) });
  const image = await ensureSandboxImage(ENGINE, { log: () => {} });
  const user = { uid: 1000, gid: 1000 };
  const victim = planHome(npx(`lok-home-victim-${randomBytes(3).toString('hex')}`), undefined, user);
  made.push(victim.volume);
  const home = await ensureHome(ctx, ENGINE, victim, image);
  // Another package whose home would have the same name: the hash in the name is 48 bits.
  const colliding = { ...planHome(npx(`lok-home-other-${randomBytes(3).toString('hex')}`), undefined, user), volume: victim.volume };
  try {
    const got = await ensureHome(ctx, ENGINE, colliding, image);
    assert.unreachable(`it was given ${got.volume}, the other package's home`);
  } catch (error) {
    assert.match(String(error), /cannot be used: a volume of that name is the home of "lok-home-victim-/);
  }
  // The same server still gets it, and it is still there.
  assert.equal(await ensureHome(ctx, ENGINE, victim, image), home);
  assert.ok(await inspectVolume(ENGINE, victim.volume));
  // Nor does another --name, user or an agent's start of the same package get it.
  for (const other of [planHome(npx(victim.labels['mcp-lok-package'] ?? ''), 'other', user), planHome(npx(victim.labels['mcp-lok-package'] ?? ''), undefined, { uid: 1001, gid: 1001 }), planHome(npx(victim.labels['mcp-lok-package'] ?? ''), undefined, user, true, 'agent')]) {
    try {
      await ensureHome(ctx, ENGINE, { ...other, volume: victim.volume }, image);
      assert.unreachable(`${other.owner} was given it`);
    } catch (error) {
      assert.match(String(error), /is the home of/);
    }
  }
});

owner('removing a home removes its files\' volume, and never another volume that has that name', async () => {
  const state = getPaths({ MCP_LOK_HOME: ctxHome }).state;
  const ctx = testContext({ home: ctxHome, engine: () => Promise.resolve(ENGINE) });
  const image = await ensureSandboxImage(ENGINE, { log: () => {} });
  // A noexec home: its files are in NAME-data, which goes with it.
  const home = planHome(npx(`lok-home-rm-${randomBytes(3).toString('hex')}`), undefined, { uid: 1000, gid: 1000 });
  made.push(home.volume);
  const got = await ensureHome(ctx, ENGINE, home, image);
  assert.ok(await removeHomeVolume(ENGINE, home.volume, state));
  assert.is(await inspectVolume(ENGINE, home.volume), undefined);
  if (got.noexec) assert.is(await inspectVolume(ENGINE, homeDataVolume(home.volume)), undefined);
  // A plain home beside a volume of someone else's that happens to be named NAME-data.
  const plain = planHome(npx(`lok-home-rm-${randomBytes(3).toString('hex')}`), undefined, { uid: 1000, gid: 1000 });
  made.push(plain.volume);
  await ensureHome(ctx, ENGINE, plain, image, { overlay: false });
  const bystander = homeDataVolume(plain.volume);
  await createVolume(ENGINE, bystander, { 'lok-e2e': 'bystander' });
  try {
    assert.ok(await removeHomeVolume(ENGINE, plain.volume, state));
    assert.is(await inspectVolume(ENGINE, plain.volume), undefined);
    assert.ok(await inspectVolume(ENGINE, bystander), 'a volume that is not the home\'s files was removed with it');
  } finally {
    await removeVolume(ENGINE, bystander);
  }
});

owner.run();
