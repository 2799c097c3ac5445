import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { besideCodeFix, findReadOnlyWrite, readOnlyWriteNotice, watchReadOnlyWrites } from '../../src/app/write-hints.js';

const MEMORY = '@modelcontextprotocol/server-memory';
const TREE = '/opt/mcp-lok/pkgs/6bbe6b75d3d1855e/node_modules';

const known = suite('besideCodeFix');

known('moves server-memory\'s file into the home when its variable is unset, and says so', () => {
  assert.equal(besideCodeFix([MEMORY], {}, false), {
    env: { name: 'MEMORY_FILE_PATH', value: '/home/node/memory.jsonl' },
    notice: `mcp-lok: ${MEMORY} keeps memory.jsonl beside its code, which is read-only in the sandbox: MEMORY_FILE_PATH=/home/node/memory.jsonl keeps it in its home (/home/node, kept across runs) (-e MEMORY_FILE_PATH=PATH chooses another file).`,
  });
  assert.match(besideCodeFix([MEMORY], {}, true)?.notice ?? '', /in memory with --ephemeral/);
});

known('leaves the user\'s own choice alone: an absolute path silently, a relative one with what to set instead', () => {
  assert.is(besideCodeFix([MEMORY], { MEMORY_FILE_PATH: '/home/node/x.jsonl' }, false), undefined);
  // server-memory joins a relative path to its own folder: still beside its code.
  const relative = besideCodeFix([MEMORY], { MEMORY_FILE_PATH: 'memory.jsonl' }, false);
  assert.is(relative?.env, undefined);
  assert.match(relative?.notice ?? '', /use -e MEMORY_FILE_PATH=\/home\/node\/memory.jsonl/);
  assert.is(besideCodeFix(['@modelcontextprotocol/server-everything'], {}, false), undefined);
  assert.is(besideCodeFix([], {}, false), undefined);
});

known.run();

const find = suite('findReadOnlyWrite');

for (const [title, line, path] of [
  ['a Node error message', `Error: EROFS: read-only file system, open '${TREE}/${MEMORY}/dist/memory.jsonl'`, `${TREE}/${MEMORY}/dist/memory.jsonl`],
  ['a JSON-quoted path', `{"code":"EROFS","path":"${TREE}/x/config.json"}`, `${TREE}/x/config.json`],
  ['a path in backticks', `EROFS while writing \`${TREE}/x/state\``, `${TREE}/x/state`],
  ['EROFS elsewhere (the root filesystem): not the package', "EROFS: read-only file system, open '/etc/x'", undefined],
  ['a package path without EROFS', `ENOENT: no such file or directory, open '${TREE}/x/y'`, undefined],
  ['EROFS and the path on different lines', `EROFS: read-only file system\nat '${TREE}/x/y'`, undefined],
  ['EROFS as part of a word', `NOTEROFSX '${TREE}/x/y'`, undefined],
] as const) {
  find(`finds ${title}`, () => { assert.is(findReadOnlyWrite(line), path); });
}

find.run();

const notice = suite('readOnlyWriteNotice');

notice('names the file inside the package, why, and for a known server the variable to set', () => {
  assert.is(readOnlyWriteNotice(`${TREE}/${MEMORY}/dist/memory.jsonl.abc.tmp`, false),
    `mcp-lok: the server could not write ${MEMORY}/dist/memory.jsonl.abc.tmp: its installed package is read-only in the sandbox. To keep its files in its home (/home/node, kept across runs), add -e MEMORY_FILE_PATH=/home/node/memory.jsonl.`);
  assert.match(readOnlyWriteNotice(`${TREE}/other/data.db`, true), /^mcp-lok: the server could not write other\/data\.db: .* in its home \(\/home\/node, in memory with --ephemeral\), set the server's own option or variable/);
});

notice.run();

const watch = suite('watchReadOnlyWrites');

watch('passes every chunk on unchanged and at once, and says it once', () => {
  const out: Buffer[] = [];
  const seen: string[] = [];
  const onStderr = watchReadOnlyWrites((c) => out.push(c), (p) => seen.push(p));
  const chunks = ['starting\n', `Error: EROFS: read-only file system, open '${TREE}/x/a'\n`, `Error: EROFS: read-only file system, open '${TREE}/x/b'\n`, 'bye\n'].map((t) => Buffer.from(t));
  for (const c of chunks) onStderr(c);
  assert.equal(out, chunks);
  assert.equal(seen, [`${TREE}/x/a`]);
});

watch('finds a message split between chunks', () => {
  const seen: string[] = [];
  const onStderr = watchReadOnlyWrites(() => {}, (p) => seen.push(p));
  const text = `Error: EROFS: read-only file system, open '${TREE}/x/config.json'\n`;
  for (const part of [text.slice(0, 9), text.slice(9, 50), text.slice(50)]) onStderr(Buffer.from(part));
  assert.equal(seen, [`${TREE}/x/config.json`]);
});

watch('still finds it after a long stream that never said it', () => {
  const seen: string[] = [];
  const onStderr = watchReadOnlyWrites(() => {}, (p) => seen.push(p));
  for (let i = 0; i < 1000; i++) onStderr(Buffer.alloc(4096, 0x61));
  onStderr(Buffer.from(`EROFS '${TREE}/x/y'`));
  assert.equal(seen, [`${TREE}/x/y`]);
});

watch.run();
