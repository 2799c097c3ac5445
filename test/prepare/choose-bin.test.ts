import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LokError } from '../../src/errors.js';
import { catchError } from '../support/catch-error.js';
import { chooseBin, normalizeBinField } from '../../src/prepare/choose-bin.js';


const normalize = suite('normalizeBinField');

for (const [title, name, bin, expected] of [
  ['names a string bin after the package', 'cowsay', 'cli.js', { cowsay: 'cli.js' }],
  ['names a string bin after the package without its scope', '@modelcontextprotocol/server-memory', 'dist/index.js', { 'server-memory': 'dist/index.js' }],
  ['keeps an object bin, tidying ./ and backslashes', 'a', { a: './bin/a.js', 'a-cli': 'bin\\cli.js' }, { a: 'bin/a.js', 'a-cli': 'bin/cli.js' }],
  ['drops paths with .. segments', 'a', { a: '../../etc/passwd', b: 'bin/../../x', c: 'ok.js' }, { c: 'ok.js' }],
  ['drops absolute paths', 'a', { a: '/usr/bin/node', b: '\\\\server\\share', c: 'C:\\x.js' }, {}],
  ['drops a string bin that escapes', 'a', '../x.js', {}],
  ['drops bin names with slashes or control characters, and empty targets', 'a', { 'x/y': 'a.js', '..': 'a.js', 'ok\n': 'a.js', e: '', f: './', g: 1 }, {}],
  ['returns nothing for a missing, null or array bin', 'a', undefined, {}],
  ['returns nothing for null', 'a', null, {}],
  ['returns nothing for an array', 'a', ['a.js'], {}],
] as const) {
  normalize(`${title}`, () => {
    assert.equal(normalizeBinField(name, bin), expected);
  });
}

normalize('keeps a bin named __proto__ as a plain key without touching the prototype', () => {
  const out = normalizeBinField('a', JSON.parse('{"__proto__": "x.js", "a": "a.js"}'));
  assert.is(Object.getPrototypeOf(out), Object.prototype);
  assert.equal(Object.keys(out).sort(), ['__proto__', 'a']);
});

normalize.run();

const choose = suite('chooseBin');

const memory = { name: '@modelcontextprotocol/server-memory', bin: { 'mcp-server-memory': 'dist/index.js' } };
const multi = { name: '@scope/tool', bin: { tool: 'tool.js', 'tool-admin': 'admin.js' } };
const ambiguous = { name: 'kit', bin: { 'kit-a': 'a.js', 'kit-b': 'b.js' } };
const empty = { name: 'lib', bin: {} };

for (const [title, pkgs, command, expected] of [
  ['runs the only bin of a package, whatever its name', [memory], undefined, { pkg: memory.name, binName: 'mcp-server-memory', binPath: 'dist/index.js' }],
  ['runs the bin named like the package without its scope when there are several', [multi], undefined, { pkg: '@scope/tool', binName: 'tool', binPath: 'tool.js' }],
  ['looks only at the first package without a command', [memory, multi], undefined, { pkg: memory.name, binName: 'mcp-server-memory', binPath: 'dist/index.js' }],
  ['finds a named command in a later package', [memory, multi], 'tool-admin', { pkg: '@scope/tool', binName: 'tool-admin', binPath: 'admin.js' }],
  ['lets the first package win when two have the command', [{ name: 'a', bin: { x: 'a.js' } }, { name: 'b', bin: { x: 'b.js' } }], 'x', { pkg: 'a', binName: 'x', binPath: 'a.js' }],
] as const) {
  choose(title, () => {
    assert.equal(chooseBin(pkgs.map((p) => ({ name: p.name, bin: { ...p.bin } })), command), expected);
  });
}

choose('refuses a package with several bins and none named after it, listing them and suggesting -p', () => {
  const error = catchError(() => chooseBin([ambiguous], undefined));
  assert.is(error.code, 'BIN_NOT_FOUND');
  assert.is(error.exitCode, 127);
  assert.match(error.message, /kit-a, kit-b/);
  assert.match(error.hint ?? '', /-p kit kit-a/);
});

choose('refuses a package without executables', () => {
  const error = catchError(() => chooseBin([empty, memory], undefined));
  assert.is(error.code, 'BIN_NOT_FOUND');
  assert.is(error.exitCode, 127);
  assert.match(error.message, /^Package lib has no executable/);
});

choose('refuses a command no package provides, listing what they do provide', () => {
  const error = catchError(() => chooseBin([memory, multi], 'nope'));
  assert.is(error.code, 'BIN_NOT_FOUND');
  assert.is(error.exitCode, 127);
  assert.match(error.message, /`nope`/);
  assert.match(error.message, /mcp-server-memory \(@modelcontextprotocol\/server-memory\), tool \(@scope\/tool\), tool-admin \(@scope\/tool\)/);
  assert.match(error.hint ?? '', /-p <package> <bin>/);
});

choose('does not mistake inherited object properties for bins', () => {
  assert.is(catchError(() => chooseBin([memory], 'constructor')).code, 'BIN_NOT_FOUND');
  assert.is(catchError(() => chooseBin([{ name: 'constructor', bin: { a: 'a.js', b: 'b.js' } }], undefined)).code, 'BIN_NOT_FOUND');
});

choose.run();
