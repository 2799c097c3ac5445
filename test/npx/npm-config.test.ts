import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseNpmrc, readNpmSettings } from '../../src/npx/npm-config.js';

const parse = suite('parseNpmrc');

parse('reads keys, skips comments and sections, expands ${VARS}', () => {
  const text = '# c\n; c\n[x]\nregistry = "https://r.example/"\ncafile=${HOME}/ca.pem\n';
  assert.equal(parseNpmrc(text, { HOME: '/h' }), { registry: 'https://r.example/', cafile: '/h/ca.pem' });
});

parse.run();

const read = suite('readNpmSettings');

read('lets the user npmrc win over the global one and the environment win over both', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lok-npmrc-'));
  mkdirSync(join(dir, 'etc'));
  writeFileSync(join(dir, 'etc', 'npmrc'), 'cafile=/global/ca.pem\nregistry=https://global.example\n');
  writeFileSync(join(dir, '.npmrc'), 'registry=https://user.example/\n');
  const nodePath = join(dir, 'bin', 'node');
  assert.equal(readNpmSettings({}, dir, nodePath), { registry: 'https://user.example/', cafile: '/global/ca.pem', proxy: undefined });
  assert.equal(readNpmSettings({ npm_config_registry: 'https://env.example' }, dir, nodePath).registry, 'https://env.example/');
});

read('falls back to the public registry and no CA file', () => {
  assert.equal(readNpmSettings({}, '/nonexistent', '/nonexistent/bin/node'), { registry: 'https://registry.npmjs.org/', cafile: undefined, proxy: undefined });
});

read.run();
