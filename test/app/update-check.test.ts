import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decideUpdateCheck, findNewer, keepWatchingForUpdates, newerVersionNotice, type PinnedStart } from '../../src/app/update-check.js';
import type { InstallRequest } from '../../src/prepare/install.js';
import { updatePinCheck } from '../../src/state/pins.js';
import { testContext } from '../support/context.js';
import type { PinCheck } from '../../src/state/pins.js';

const DAY = 86_400_000;
const NOW = 100 * DAY;
const PINNED = [{ name: '@scope/pkg', version: '1.2.0' }];
const NEWER: PinCheck['newest'] = [{ name: '@scope/pkg', version: '1.3.0' }];
const NOTICE = 'mcp-lok: @scope/pkg 1.3.0 is available (pinned 1.2.0); review it with: mcp-lok update @scope/pkg';

const decide = suite('decideUpdateCheck');

const CASES: Array<[string, { check: PinCheck; intervalMs?: number; exactOnly?: boolean; quiet?: boolean }, { notices: string[]; check: boolean }]> = [
  ['a pin never looked at: look now', { check: {} }, { notices: [], check: true }],
  ['looked at an hour ago: nothing to do (the warm path)', { check: { checkedAt: NOW - 3_600_000, newest: PINNED } }, { notices: [], check: false }],
  ['looked at a day ago: look again', { check: { checkedAt: NOW - DAY, newest: PINNED } }, { notices: [], check: true }],
  ['a newer version found, never said: say it', { check: { checkedAt: NOW - 60_000, newest: NEWER } }, { notices: [NOTICE], check: false }],
  ['a newer version said an hour ago: not again', { check: { checkedAt: NOW - 60_000, newest: NEWER, notifiedAt: NOW - 3_600_000 } }, { notices: [], check: false }],
  ['a newer version said a day ago: say it again, and look again', { check: { checkedAt: NOW - DAY, newest: NEWER, notifiedAt: NOW - DAY } }, { notices: [NOTICE], check: true }],
  ['-q: never say it', { check: { checkedAt: NOW - DAY, newest: NEWER }, quiet: true }, { notices: [], check: true }],
  ['--update-check never: neither', { check: { newest: NEWER }, intervalMs: Infinity }, { notices: [], check: false }],
  ['--update-check 0: look at every start, say it at every start', { check: { checkedAt: NOW, newest: NEWER, notifiedAt: NOW, attemptAt: NOW }, intervalMs: 0 }, { notices: [NOTICE], check: true }],
  ['exact versions: no look (nothing newer can match), a recorded notice still said', { check: { newest: NEWER }, exactOnly: true }, { notices: [NOTICE], check: false }],
  ['a look began five minutes ago and never answered: not yet again', { check: { checkedAt: NOW - 2 * DAY, attemptAt: NOW - 300_000 } }, { notices: [], check: false }],
  ['a look began an hour ago and never answered: again', { check: { checkedAt: NOW - 2 * DAY, attemptAt: NOW - 3_600_000 } }, { notices: [], check: true }],
  ['an older version found (a tag moved back): nothing to say', { check: { checkedAt: NOW - 60_000, newest: [{ name: '@scope/pkg', version: '1.1.0' }] } }, { notices: [], check: false }],
];

for (const [what, input, want] of CASES) {
  decide(what, () => {
    assert.equal(decideUpdateCheck({ now: NOW, intervalMs: input.intervalMs ?? DAY, check: input.check, packages: PINNED, exactOnly: input.exactOnly ?? false, quiet: input.quiet ?? false }), want);
  });
}

decide.run();

const newer = suite('findNewer and newerVersionNotice');

newer('finds, per package, a newest version above the pinned one', () => {
  const packages = [{ name: 'a', version: '1.0.0' }, { name: 'b', version: '2.0.0-rc.1' }, { name: 'c', version: '3.0.0' }];
  const found = [{ name: 'a', version: '1.0.1' }, { name: 'b', version: '2.0.0' }, { name: 'c', version: '3.0.0' }, { name: 'd', version: '9.9.9' }];
  assert.equal(findNewer(packages, found), [{ name: 'a', version: '1.0.1', pinned: '1.0.0' }, { name: 'b', version: '2.0.0', pinned: '2.0.0-rc.1' }]);
  assert.equal(findNewer(packages, undefined), []);
});

newer('says the new version, the pinned one and the command to review it, in one line', () => {
  assert.is(newerVersionNotice('@scope/pkg', '1.3.0', '1.2.0'), NOTICE);
});

newer.run();

const running = suite('keepWatchingForUpdates');

running('a server that keeps running says the newer version again once each interval has passed, and stops saying it when stopped', async () => {
  const home = mkdtempSync(join(tmpdir(), 'lok-update-watch-'));
  try {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const lines: string[] = [];
    const ctx = testContext({ home, now: () => now, log: (line) => { lines.push(line); } });
    const key = '0123456789abcdef';
    updatePinCheck(ctx.paths.state, key, { checkedAt: now, newest: [{ name: 'pkg', version: '2.0.0' }] });
    // An exact version: the look never asks the registry (no engine here); what it found is said.
    const pinned: PinnedStart = {
      key, packages: [{ name: 'pkg', version: '1.0.0' }],
      install: { updateCheckMs: 1000, quiet: false, packages: [{ raw: 'pkg@1.0.0', name: 'pkg', selector: '1.0.0', kind: 'version' }] } as unknown as InstallRequest,
    };
    const watch = keepWatchingForUpdates(ctx, { kind: 'unix', socketPath: '/nonexistent', source: 'test' }, pinned, 5);
    watch.started();
    const notice = newerVersionNotice('pkg', '2.0.0', '1.0.0');
    assert.equal(lines, [notice]);
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(lines, [notice], 'said again within the interval');
    now += 1001;
    // The next tick comes within a few ms; a slow machine only makes the wait longer.
    for (let waited = 0; lines.length < 2 && waited < 5000; waited += 10) await new Promise((r) => setTimeout(r, 10));
    assert.equal(lines, [notice, notice], 'not said again after the interval');
    await watch.stop();
    now += 5000;
    await new Promise((r) => setTimeout(r, 40));
    assert.is(lines.length, 2, 'said after stop');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

running.run();
