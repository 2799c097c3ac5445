import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { packTar, stripTarEnd, tarHeader, type TarFile } from '../../src/engine/tar.js';
import { LokError } from '../../src/errors.js';

const LONG_DIR = `${'d'.repeat(60)}/${'e'.repeat(60)}`;
const FILES: TarFile[] = [
  { name: 'Dockerfile', content: Buffer.from('FROM scratch\n') },
  { name: 'empty.txt', content: Buffer.alloc(0) },
  { name: 'lib/egress/proxy.js', content: Buffer.from('x'.repeat(513)), mode: 0o755, uid: 1000, gid: 1001 },
  { name: 'exactly-512', content: Buffer.alloc(512, 0x61) },
  { name: `${LONG_DIR}/${'f'.repeat(90)}.txt`, content: Buffer.from('long name\n') },
  { name: 'unicode-ä.txt', content: Buffer.from([0, 1, 2, 255]), mtime: 1_700_000_000 },
];

const temps: string[] = [];
const temp = (): string => { const dir = mkdtempSync(join(tmpdir(), 'mcp-lok-tar-test-')); temps.push(dir); return dir; };

const header = suite('tarHeader');

header('is one 512-byte block whose checksum the fields add up to', () => {
  const block = tarHeader({ name: 'a.txt', content: Buffer.from('hello') });
  assert.is(block.length, 512);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  assert.is(parseInt(block.subarray(148, 154).toString('ascii'), 8), sum);
  assert.is(block.subarray(257, 265).toString('latin1'), 'ustar\u000000');
  assert.is(parseInt(block.subarray(124, 135).toString('ascii'), 8), 5);
  assert.is(block.subarray(156, 157).toString('ascii'), '0');
});

header('splits a long path into prefix and name at a slash', () => {
  const name = `${LONG_DIR}/${'f'.repeat(90)}.txt`;
  const block = tarHeader({ name, content: Buffer.alloc(0) });
  const field = (from: number, length: number): string => block.subarray(from, from + length).toString('utf8').replace(/\0.*$/s, '');
  assert.is(`${field(345, 155)}/${field(0, 100)}`, name);
});

for (const [what, file] of [
  ['an empty path', { name: '', content: Buffer.alloc(0) }],
  ['an absolute path', { name: '/etc/passwd', content: Buffer.alloc(0) }],
  ['a path that climbs out', { name: 'lib/../../x', content: Buffer.alloc(0) }],
  ['a path with an empty part', { name: 'lib//x', content: Buffer.alloc(0) }],
  ['a path with a NUL', { name: 'a\0b', content: Buffer.alloc(0) }],
  ['a name part longer than 100 bytes', { name: 'x'.repeat(101), content: Buffer.alloc(0) }],
  ['a mode beyond 0o7777', { name: 'x', content: Buffer.alloc(0), mode: 0o10000 }],
  ['a negative uid', { name: 'x', content: Buffer.alloc(0), uid: -1 }],
] as Array<[string, TarFile]>) {
  header(`refuses ${what}`, () => {
    try {
      tarHeader(file);
      assert.unreachable('made a header');
    } catch (error) {
      assert.instance(error, LokError);
      assert.match((error as LokError).message, /^Cannot put a file into a tar archive: /);
    }
  });
}

header.run();

const pack = suite('packTar');
pack.after(() => { for (const dir of temps) rmSync(dir, { recursive: true, force: true }); });

pack('ends with two zero blocks and keeps every entry on 512-byte boundaries', () => {
  const tar = packTar(FILES);
  assert.is(tar.length % 512, 0);
  assert.ok(tar.subarray(tar.length - 1024).every((b) => b === 0));
  assert.is(packTar([]).length, 1024);
});

pack('gives the same bytes for the same files', () => {
  assert.ok(packTar(FILES).equals(packTar(FILES.map((f) => ({ ...f, content: Buffer.from(f.content) })))));
});

pack('lists every file with its mode, owner and size in the system tar', () => {
  const dir = temp();
  writeFileSync(join(dir, 'ctx.tar'), packTar(FILES));
  const lines = execFileSync('tar', ['-tvf', join(dir, 'ctx.tar'), '--numeric-owner', '--quoting-style=literal'], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' } }).trim().split('\n');
  assert.is(lines.length, FILES.length);
  for (const [i, file] of FILES.entries()) {
    const [perms, owner, size, , , name] = lines[i]!.split(/\s+/);
    assert.is(name, file.name);
    assert.is(perms, file.mode === 0o755 ? '-rwxr-xr-x' : '-rw-r--r--');
    assert.is(owner, `${file.uid ?? 0}/${file.gid ?? 0}`);
    assert.is(Number(size), file.content.length);
  }
});

pack('extracts to the same bytes, modes and times with the system tar', () => {
  const dir = temp();
  writeFileSync(join(dir, 'ctx.tar'), packTar(FILES));
  const out = join(dir, 'out');
  execFileSync('mkdir', [out]);
  execFileSync('tar', ['-xf', join(dir, 'ctx.tar'), '-C', out, '--no-same-owner']);
  for (const file of FILES) {
    const path = join(out, file.name);
    assert.ok(readFileSync(path).equals(file.content), file.name);
    assert.is(statSync(path).mode & 0o7777, file.mode ?? 0o644, file.name);
    assert.is(statSync(path).mtimeMs / 1000, file.mtime ?? 0, file.name);
  }
});

pack('holds directories with their owner and mode, which the system tar lists and extracts as directories', () => {
  const dir = temp();
  const entries: TarFile[] = [
    { name: 'home', content: Buffer.alloc(0), directory: true, mode: 0o700, uid: 4321, gid: 4322 },
    { name: 'data/upper', content: Buffer.alloc(0), directory: true },
  ];
  writeFileSync(join(dir, 'dirs.tar'), packTar(entries));
  const lines = execFileSync('tar', ['-tvf', join(dir, 'dirs.tar'), '--numeric-owner'], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' } }).trim().split('\n');
  assert.equal(lines.map((l) => { const [perms, owner, , , , name] = l.split(/\s+/); return [perms, owner, name]; }), [
    ['drwx------', '4321/4322', 'home/'],
    ['drwxr-xr-x', '0/0', 'data/upper/'],
  ]);
  const out = join(dir, 'out');
  execFileSync('mkdir', [out]);
  execFileSync('tar', ['-xf', join(dir, 'dirs.tar'), '-C', out, '--no-same-owner']);
  assert.ok(statSync(join(out, 'home')).isDirectory());
  assert.is(statSync(join(out, 'home')).mode & 0o7777, 0o700);
});

pack('refuses a directory with content', () => {
  try {
    packTar([{ name: 'd', content: Buffer.from('x'), directory: true }]);
    assert.unreachable('packed');
  } catch (error) {
    assert.instance(error, LokError);
  }
});

pack.run();

const strip = suite('stripTarEnd');

strip('drops the closing blocks, so two archives joined list every entry of both in the system tar', () => {
  const first = packTar([{ name: 'tree/a.js', content: Buffer.from('x'.repeat(700)) }, { name: 'tree/empty', content: Buffer.alloc(0) }]);
  const second = packTar([{ name: 'Dockerfile', content: Buffer.from('FROM x\n') }]);
  const joined = Buffer.concat([stripTarEnd(first), second]);
  assert.is(stripTarEnd(first).length, first.length - 1024);
  const dir = temp();
  writeFileSync(join(dir, 'joined.tar'), joined);
  assert.equal(execFileSync('tar', ['-tf', join(dir, 'joined.tar')], { encoding: 'utf8' }).trim().split('\n'), ['tree/a.js', 'tree/empty', 'Dockerfile']);
});

strip('stops at the first zero block even when padding to a record follows (GNU tar, 10 KiB records)', () => {
  const dir = temp();
  writeFileSync(join(dir, 'f.txt'), 'hello\n');
  const gnu = execFileSync('tar', ['-cf', '-', '-C', dir, 'f.txt']);
  assert.is(gnu.length % 10240, 0);
  assert.is(stripTarEnd(gnu).length, 1024);
});

strip('refuses an archive cut short, or whose size field is not a number', () => {
  const tar = packTar([{ name: 'a', content: Buffer.alloc(600) }]);
  assert.throws(() => stripTarEnd(tar.subarray(0, 512 + 512)), /ends without its closing blocks/);
  const broken = Buffer.from(tar);
  broken.write('zzzzzzzzzzz', 124, 'ascii');
  assert.throws(() => stripTarEnd(broken), /no octal size/);
});

strip.run();
