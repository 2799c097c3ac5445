import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { imageShortName, isContainerName, slugName } from '../../src/sandbox/names.js';

const check = suite('isContainerName');
for (const [name, expected] of [
  ['my-server', true],
  ['A1_b.c-d', true],
  ['x', true],
  ['a'.repeat(63), true],
  ['a'.repeat(64), false],
  ['', false],
  ['-x', false],
  ['.x', false],
  ['_x', false],
  ['..', false],
  ['a/b', false],
  ['../etc', false],
  ['a b', false],
  ['a\n', false],
  ['é', false],
  ['--rm', false],
] as const) {
  check(`${expected ? 'accepts' : 'refuses'} ${JSON.stringify(name.slice(0, 20))}`, () => assert.is(isContainerName(name), expected));
}
check.run();

const slug = suite('slugName');
for (const [text, max, expected] of [
  ['cowsay', 40, 'cowsay'],
  ['@modelcontextprotocol/server-memory', 40, 'modelcontextprotocol-server-memory'],
  ['@x/' + 'y'.repeat(80), 40, `x-${'y'.repeat(38)}`],
  ['server-memory', 50, 'server-memory'],
  ['my image!!name', 50, 'my-image-name'],
  ['@.x', 40, 'x'],
  ['@/x', 40, 'x'],
  ['...__--a', 40, 'a'],
  ['', 40, 'server'],
  ['@@@', 40, 'server'],
  ['ü', 40, 'server'],
  ['a'.repeat(70), 50, 'a'.repeat(50)],
] as const) {
  slug(`makes ${JSON.stringify(text.slice(0, 30))} into ${JSON.stringify(expected.slice(0, 30))}`, () => assert.is(slugName(text, max), expected));
}
slug('always gives a name that passes isContainerName', () => {
  for (const text of ['', '-', '.a', '@s/p@1.2.3', 'a b c', 'x'.repeat(200), '\u0000\n/../', 'ok_name.v2']) {
    for (const max of [1, 40, 50, 63]) assert.ok(isContainerName(slugName(text, max)), `${JSON.stringify(text)} ${max}`);
  }
});
slug.run();

const image = suite('imageShortName');
for (const [ref, expected] of [
  ['registry.mcp-lok.test/org/my-server:1.2', 'my-server'],
  ['localhost:5000/img@sha256:abc', 'img'],
  ['localhost:5000/img:2@sha256:abc', 'img'],
  ['alpine', 'alpine'],
  ['alpine:3', 'alpine'],
  ['library/node:24-alpine', 'node'],
  ['', ''],
] as const) {
  image(`names ${ref || '(empty)'} ${expected || '(empty)'}`, () => assert.is(imageShortName(ref), expected));
}
image.run();
