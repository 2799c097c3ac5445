import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { commandFailure, findOnPath, localBaseTag, parseLddOutput } from '../../src/prepare/base-image.js';

const root = mkdtempSync(join(tmpdir(), 'mcp-lok-path-test-'));
const dir = (name: string): string => { const path = join(root, name); mkdirSync(path, { recursive: true }); return path; };
const program = (folder: string, name: string, mode = 0o755): string => {
  const path = join(folder, name);
  writeFileSync(path, '#!/bin/sh\n');
  chmodSync(path, mode);
  return path;
};

const plain = dir('plain');
const first = dir('first');
const second = dir('second');
const noExec = dir('no-exec');
const folders = dir('folders');
mkdirSync(join(folders, 'tool'));
const tool1 = program(first, 'tool');
program(second, 'tool');
const only2 = program(second, 'only-second');
program(noExec, 'tool', 0o644);
program(noExec, 'data', 0o644);

const find = suite('findOnPath');
find.after(() => rmSync(root, { recursive: true, force: true }));

for (const [what, name, path, expected] of [
  ['finds a program in the first folder that has it', 'tool', [plain, first, second].join(':'), tool1],
  ['looks further when earlier folders lack it', 'only-second', [first, second].join(':'), only2],
  ['skips a file that is not executable', 'tool', [noExec, first].join(':'), tool1],
  ['skips a folder with the program\'s name', 'tool', [folders, first].join(':'), tool1],
  ['skips empty entries, which would mean the current folder', 'tool', `::${first}`, tool1],
  ['finds nothing when no folder has an executable of that name', 'data', [noExec, first].join(':'), undefined],
  ['finds nothing without a PATH', 'tool', undefined, undefined],
] as Array<[string, string, string | undefined, string | undefined]>) {
  find(what, async () => {
    assert.is(await findOnPath(name, path), expected);
  });
}

find('skips relative folders, so the current folder never supplies a program', async () => {
  const cwd = process.cwd();
  process.chdir(root);
  try {
    assert.is(await findOnPath('tool', 'first'), undefined);
    assert.is(await findOnPath('tool', `first:${second}`), join(second, 'tool'));
  } finally {
    process.chdir(cwd);
  }
});

find.run();

const failure = suite('commandFailure');
const run = promisify(execFile);
const failed = async (file: string, args: string[]): Promise<unknown> => run(file, args).then(() => assert.unreachable('it ran'), (error: unknown) => error);

failure('names the exit code and the command', async () => {
  assert.is(commandFailure(await failed('tar', ['-cf', join(root, 'missing', 'x.tar'), '-C', root, '.'])), `Command failed with exit code 2: tar -cf ${join(root, 'missing', 'x.tar')} -C ${root} .`);
});

failure('names the errno when the program cannot start', async () => {
  assert.is(commandFailure(await failed(join(root, 'no-such-program'), ['a'])), `Command failed with ENOENT: ${join(root, 'no-such-program')} a`);
});

failure('falls back to the message of other errors', () => {
  assert.is(commandFailure(new Error('boom')), 'boom');
  assert.is(commandFailure('text'), 'text');
});

failure.run();

const ldd = suite('parseLddOutput');

ldd('returns each library and the loader, not vdso', () => {
  const text = [
    '\tlinux-vdso.so.1 (0x00007ffd)',
    '\tlibdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f)',
    '\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)',
    '\t/lib64/ld-linux-x86-64.so.2 (0x00007f)',
  ].join('\n');
  assert.equal(parseLddOutput(text), ['/lib/x86_64-linux-gnu/libdl.so.2', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
});

ldd.run();

const tag = suite('localBaseTag');

tag('names the stand-in after Node, npm and busybox', () => {
  const host = { nodeVersion: 'v20.20.2', npmVersion: '11.19.1', busyboxSize: 1982256 };
  assert.match(localBaseTag(host), /^mcp-lok\/node-local:[0-9a-f]{12}$/);
  assert.is(localBaseTag(host), localBaseTag({ ...host }));
  assert.is.not(localBaseTag({ ...host, nodeVersion: 'v24.1.0' }), localBaseTag(host));
});

tag.run();
