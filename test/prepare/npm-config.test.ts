import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chooseNpmProxy, parseNpmrc, parseProxyUrl, readNpmSettings } from '../../src/prepare/npm-config.js';

const parse = suite('parseNpmrc');

parse('reads keys, skips comments and sections, expands ${VARS}', () => {
  const text = '# c\n; c\n[x]\nregistry = "https://r.example/"\ncafile=${HOME}/ca.pem\n';
  assert.equal(parseNpmrc(text, { HOME: '/h' }), { registry: 'https://r.example/', cafile: '/h/ca.pem' });
});

parse.run();

const read = suite('readNpmSettings');

read('lets the user npmrc win over the global one and the environment win over both', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lok-npmrc-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
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

const proxies = suite('chooseNpmProxy and parseProxyUrl');

proxies('reads https-proxy, proxy and noproxy from npm\'s settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lok-npmrc-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, '.npmrc'), 'proxy=http://plain.example:3128\nhttps-proxy=http://secure.example:3129\nnoproxy=localhost, .corp.example\n');
  const settings = readNpmSettings({}, dir, join(dir, 'bin', 'node'));
  assert.is(chooseNpmProxy(settings, 'https://registry.npmjs.org/'), 'http://secure.example:3129');
  assert.is(chooseNpmProxy(settings, 'http://registry.example/'), 'http://plain.example:3128');
  assert.is(chooseNpmProxy(settings, 'https://npm.corp.example/'), undefined);
  assert.is(chooseNpmProxy(settings, 'http://localhost:4873/'), undefined);
  assert.is(chooseNpmProxy(readNpmSettings({ npm_config_proxy: 'http://only.example:8080' }, '/nonexistent', '/nonexistent/bin/node'), 'https://registry.npmjs.org/'), 'http://only.example:8080');
  assert.is(chooseNpmProxy(readNpmSettings({}, '/nonexistent', '/nonexistent/bin/node'), 'https://registry.npmjs.org/'), undefined);
});

proxies('turns a proxy URL into its address and Proxy-Authorization', () => {
  assert.equal(parseProxyUrl('http://proxy.corp.example:3128'), { host: 'proxy.corp.example', port: 3128 });
  assert.equal(parseProxyUrl('http://10.0.0.1'), { host: '10.0.0.1', port: 80 });
  assert.equal(parseProxyUrl('http://[fd00::1]:8080/'), { host: 'fd00::1', port: 8080 });
  assert.equal(parseProxyUrl('http://me%40corp:p%3Ass@proxy.example:3128'), { host: 'proxy.example', port: 3128, authorization: `Basic ${Buffer.from('me@corp:p:ss').toString('base64')}` });
});

for (const bad of ['https://proxy.example:3128', 'socks5://proxy.example:1080', 'proxy.example:3128', 'not a url']) {
  proxies(`refuses ${bad} with one line saying what to do`, () => {
    try {
      parseProxyUrl(bad);
      assert.unreachable('accepted');
    } catch (error) {
      assert.is((error as { code?: string }).code, 'INVALID_INPUT');
      assert.match((error as Error).message, /proxy/);
    }
  });
}

proxies.run();
