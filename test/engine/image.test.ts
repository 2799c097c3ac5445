import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { computeImageTag, shortReason } from '../../src/engine/image.js';

const file = (name: string, content: string) => ({ name, content: Buffer.from(content) });
const FILES = [file('Dockerfile.node-alpine', 'FROM ${BASE}\n'), file('install.mjs', '// install\n')];
const BASE = 'node:24-alpine';

const tag = suite('computeImageTag');

tag('names the image mcp-lok/sandbox with 16 hex characters', () => {
  assert.match(computeImageTag(FILES, BASE), /^mcp-lok\/sandbox:[0-9a-f]{16}$/);
});

tag('gives the same tag for the same files and base', () => {
  assert.is(computeImageTag(FILES, BASE), computeImageTag(FILES.map((f) => ({ ...f, content: Buffer.from(f.content) })), BASE));
});

tag('does not depend on the order the files are listed in', () => {
  assert.is(computeImageTag([...FILES].reverse(), BASE), computeImageTag(FILES, BASE));
});

for (const [what, files] of [
  ['a changed Dockerfile', [file('Dockerfile.node-alpine', 'FROM ${BASE}\nUSER 0\n'), FILES[1]!]],
  ['a changed install script', [FILES[0]!, file('install.mjs', '// install v2\n')]],
  ['a renamed file', [FILES[0]!, file('install2.mjs', '// install\n')]],
  ['an added file', [...FILES, file('extra.txt', '')]],
  ['a removed file', [FILES[0]!]],
  ['bytes moved from a name into its content', [FILES[0]!, file('install.mj', 's// install\n')]],
] as const) {
  tag(`changes with ${what}`, () => {
    assert.is.not(computeImageTag([...files], BASE), computeImageTag(FILES, BASE));
  });
}

tag('changes with the base image name', () => {
  assert.is.not(computeImageTag(FILES, 'node:22-alpine'), computeImageTag(FILES, BASE));
});

tag.run();

const reason = suite('shortReason');

reason('drops the request preamble from a registry lookup failure', () => {
  const error = Object.assign(new Error('(HTTP code 500) server error - Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host'), {
    json: { message: 'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host' },
  });
  assert.is(shortReason(error), 'dial tcp: lookup registry-1.docker.io: no such host');
});

reason('caps long messages to one short line', () => {
  const text = shortReason(new Error('x'.repeat(500)));
  assert.ok(text.length <= 120);
  assert.ok(text.endsWith('...'));
});

reason.run();
