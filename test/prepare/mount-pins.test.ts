import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { pinNestedMounts } from '../../src/prepare/mount-pins.js';

const base = realpathSync(mkdtempSync(join(tmpdir(), 'lok-pins-')));
process.once('exit', () => rmSync(base, { recursive: true, force: true }));
const grant = (work: string, inner: string) => [
  { type: 'bind' as const, source: work, target: '/work', readOnly: false },
  { type: 'bind' as const, source: inner, target: '/work/.git', readOnly: true },
];

const pin = suite('pinNestedMounts');

pin('pins what is at the path now: its device and its path within that filesystem', () => {
  const work = mkdtempSync(join(base, 'ok-'));
  mkdirSync(join(work, '.git'));
  const info = `1 0 0:39 / / rw - overlay x rw\n2 1 8:1 ${work} ${work} rw - ext4 /dev/x rw\n`;
  assert.equal(pinNestedMounts(grant(work, join(work, '.git')), () => info), [{ target: '/work/.git', device: '8:1', root: join(work, '.git') }]);
});

pin('takes nothing when no mount lies inside a write grant', () => {
  assert.equal(pinNestedMounts([{ type: 'bind', source: '/srv/a', target: '/a', readOnly: true }], () => { throw new Error('not read'); }), []);
});

for (const [title, make, why] of [
  ['a link put in its place', (work: string) => symlinkSync('/etc', join(work, '.git')), /cannot be opened \(ELOOP\), or it is now a link/],
  ['a path reached through a linked folder', (work: string) => { mkdirSync(join(work, 'real', '.git'), { recursive: true }); symlinkSync(join(work, 'real'), join(work, 'sub')); }, /it is now at .*real\/\.git/],
  ['a named pipe (opened without blocking)', (work: string) => execFileSync('mkfifo', [join(work, '.git')]), /no longer a folder or file/],
  ['a folder no mount of this machine holds', (work: string) => mkdirSync(join(work, '.git')), /no mount of this machine holds it/],
] as const) {
  pin(`refuses ${title}`, () => {
    const work = mkdtempSync(join(base, 'bad-'));
    make(work);
    const inner = title.includes('linked folder') ? join(work, 'sub', '.git') : join(work, '.git');
    assert.throws(() => pinNestedMounts(grant(work, inner), () => '1 0 8:1 /x /nowhere rw - ext4 /dev/x rw\n'), (error: Error) => why.test(error.message));
  });
}

pin.run();
