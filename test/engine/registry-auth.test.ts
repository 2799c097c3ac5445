import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeRegistryAuth, findRegistryAuth, registryOf } from '../../src/engine/registry-auth.js';

const registry = suite('registryOf');

for (const [ref, host] of [
  ['memory:1', 'docker.io'],
  ['team/memory:1', 'docker.io'],
  ['registry.example.com/team/memory:1', 'registry.example.com'],
  ['localhost/memory', 'localhost'],
  ['127.0.0.1:5000/memory:1', '127.0.0.1:5000'],
  ['myhost:5000/memory', 'myhost:5000'],
] as const) {
  registry(`${ref} is pushed to ${host}`, () => { assert.is(registryOf(ref), host); });
}

registry.run();

const find = suite('findRegistryAuth');
const basic = (text: string): string => Buffer.from(text).toString('base64');

find('reads an auths entry by host, whatever scheme or path its key has', () => {
  const config = { auths: { 'https://registry.example.com/v1/': { auth: basic('me:p:ss') } } };
  assert.equal(findRegistryAuth(config, 'registry.example.com'), { auth: { username: 'me', password: 'p:ss', serveraddress: 'registry.example.com' } });
  assert.is(findRegistryAuth(config, 'other.example.com'), undefined);
});

find('files Docker Hub under the key the docker CLI uses', () => {
  const config = { auths: { 'https://index.docker.io/v1/': { auth: basic('hub:secret') } } };
  assert.equal(findRegistryAuth(config, 'docker.io'), { auth: { username: 'hub', password: 'secret', serveraddress: 'https://index.docker.io/v1/' } });
});

find('prefers an identity token, and a credential helper over inline entries, as docker does', () => {
  assert.equal(findRegistryAuth({ auths: { 'r.example': { identitytoken: 'tok', auth: basic('a:b') } } }, 'r.example'), { auth: { identitytoken: 'tok', serveraddress: 'r.example' } });
  assert.equal(findRegistryAuth({ credHelpers: { 'r.example': 'ecr-login' }, credsStore: 'desktop', auths: { 'r.example': { auth: basic('a:b') } } }, 'r.example'), { helper: 'ecr-login', serverUrl: 'r.example' });
  assert.equal(findRegistryAuth({ credsStore: 'desktop' }, 'docker.io'), { helper: 'desktop', serverUrl: 'https://index.docker.io/v1/' });
});

find('never runs a helper whose name could be a path or options', () => {
  assert.is(findRegistryAuth({ credsStore: '../../bin/sh' }, 'r.example'), undefined);
  assert.is(findRegistryAuth({ credsStore: 'x y' }, 'r.example'), undefined);
});

find('ignores an entry without credentials', () => {
  assert.is(findRegistryAuth({ auths: { 'r.example': {} } }, 'r.example'), undefined);
  assert.is(findRegistryAuth({ auths: { 'r.example': { auth: basic('nocolon') } } }, 'r.example'), undefined);
});

find.run();

const encode = suite('encodeRegistryAuth');

encode('is base64url JSON, and {} without credentials (the engine needs the header)', () => {
  assert.is(Buffer.from(encodeRegistryAuth(undefined), 'base64url').toString(), '{}');
  const auth = { username: 'me', password: '??>>', serveraddress: 'r.example' };
  const value = encodeRegistryAuth(auth);
  assert.not.match(value, /[+/=]/);
  assert.equal(JSON.parse(Buffer.from(value, 'base64url').toString()), auth);
});

encode.run();
