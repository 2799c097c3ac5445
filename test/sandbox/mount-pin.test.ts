import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildPinCheck, escapeMountInfo, findMountSource, findNestedUnderWrite, parseMountInfo } from '../../src/sandbox/mount-pin.js';

const INFO = [
  '75 51 0:39 / / rw,relatime master:2 - overlay overlay rw',
  '80 75 8:1 /srv /srv rw,relatime - ext4 /dev/sda1 rw',
  '81 75 8:1 /home/me /home rw,relatime - ext4 /dev/sda1 rw',
  '82 81 8:17 / /home/me/big\\040disk rw - ext4 /dev/sdb1 rw',
].join('\n');

const escape = suite('escapeMountInfo');
for (const [path, escaped] of [['/a b', '/a\\040b'], ['/a\tb', '/a\\011b'], ['/a\nb', '/a\\012b'], ['/a\\b', '/a\\134b'], ['/plain', '/plain']] as const) {
  escape(`escapes ${JSON.stringify(path)} as the kernel does`, () => { assert.is(escapeMountInfo(path), escaped); });
}

const source = suite('findMountSource');
for (const [title, path, expected] of [
  ['a path on the root filesystem', '/srv2/x/.git', { device: '0:39', root: '/srv2/x/.git' }],
  ['a path on a bind mount of part of a filesystem', '/srv/p/.git', { device: '8:1', root: '/srv/p/.git' }],
  ['a path whose mount shows a sub-folder of its filesystem', '/home/p/.git', { device: '8:1', root: '/home/me/p/.git' }],
  ['the deepest mount, escaped', '/home/me/big disk/p/.git', { device: '8:17', root: '/p/.git' }],
  ['the last of mounts stacked on one place', '/srv/p', { device: '8:33', root: '/other/p' }],
] as const) {
  source(`finds ${title}`, () => {
    const info = title.includes('stacked') ? `${INFO}\n83 80 8:33 /other /srv rw - ext4 /dev/sdc1 rw` : INFO;
    assert.equal(findMountSource(parseMountInfo(info), path), expected);
  });
}
source('finds nothing without a mount at /', () => { assert.is(findMountSource(parseMountInfo('1 0 8:1 / /srv rw - ext4 x rw'), '/home/x'), undefined); });

const nested = suite('findNestedUnderWrite');
nested('takes bind mounts inside a writable one, not beside it, not the write grant itself', () => {
  const mounts = [
    { type: 'volume' as const, source: 'mcp-lok-pkg-x', target: '/opt/mcp-lok/pkgs', readOnly: true },
    { type: 'bind' as const, source: '/srv/p', target: '/work', readOnly: false },
    { type: 'bind' as const, source: '/srv/p/.git', target: '/work/.git', readOnly: true },
    { type: 'bind' as const, source: '/srv/p/data', target: '/data', readOnly: true },
    { type: 'bind' as const, source: '/srv/pp', target: '/pp', readOnly: true },
    { type: 'bind' as const, source: '/srv', target: '/srv', readOnly: true },
  ];
  assert.equal(findNestedUnderWrite(mounts).map((m) => m.target), ['/work/.git', '/data']);
  assert.equal(findNestedUnderWrite(mounts.filter((m) => m.readOnly)), []);
});

const check = suite('buildPinCheck');
check('runs no program found on PATH: npm puts the package\'s own bins first, and one named awk would run before the check', () => {
  const text = buildPinCheck([{ target: '/w', device: '8:1', root: '/srv/w' }]);
  assert.ok(text.includes('/bin/busybox awk '), text);
  assert.not.match(text.replace(/\/bin\/busybox awk /g, ''), /\bawk /);
});

check('is empty without pins, and quotes what it is given', () => {
  assert.is(buildPinCheck([]), '');
  const text = buildPinCheck([{ target: "/w/it's", device: '8:1', root: "/srv/it's" }]);
  assert.ok(text.includes(`lok_pin '/w/it'\\''s' '8:1 /srv/it'\\''s'; `), text);
  assert.match(text, /exit 126/);
});

escape.run();
source.run();
nested.run();
check.run();
