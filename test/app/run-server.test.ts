import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gatherHostFacts } from '../../src/app/run-server.js';
import { resolveLokOptions } from '../../src/request/options.js';
import type { ServerRequest } from '../../src/request/server-request.js';
import { BUILT_IN_PROFILES } from '../../src/sandbox/profile-validate.js';
import { testContext } from '../support/context.js';

const ca = suite('gatherHostFacts: the CA bundle mounted into networked sandboxes');
const dir = mkdtempSync(join(tmpdir(), 'lok-ca-'));
const CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const write = (name: string, text: string): string => { const path = join(dir, name); writeFileSync(path, text); return path; };
ca.after(() => rmSync(dir, { recursive: true, force: true }));

const ENGINE = { endpoint: { kind: 'unix' as const, socketPath: '/var/run/docker.sock', source: 'test' }, local: true };

/** The CA file a start would mount, with `env` as mcp-lok's environment and `caCert` as --ca-cert. */
function caFileOf(env: Record<string, string>, caCert?: string): string | undefined {
  const ctx = testContext({ home: dir, env: { npm_config_registry: 'http://127.0.0.1:9/', npm_config_userconfig: join(dir, 'none'), npm_config_globalconfig: join(dir, 'none'), ...env } });
  const req: ServerRequest = {
    source: { kind: 'npx', packages: [{ raw: 'x', name: 'x', selector: 'latest', kind: 'tag' }], command: undefined, allowInstall: true },
    args: [], lok: { ...resolveLokOptions({}, {}), caCert }, profile: { name: 'stdio', source: 'built-in', profile: BUILT_IN_PROFILES.stdio },
    env: {}, quiet: true, launcher: 'npx',
  };
  return gatherHostFacts(ctx, req, ENGINE).caFile;
}

ca('takes a file of PEM certificates, from NODE_EXTRA_CA_CERTS, npm\'s cafile or --ca-cert', () => {
  const path = write('corp.pem', CERT + CERT);
  assert.is(caFileOf({ NODE_EXTRA_CA_CERTS: path }), path);
  assert.is(caFileOf({ npm_config_cafile: path }), path);
  assert.is(caFileOf({}, path), path);
});

ca('never takes a private key or another file, whichever setting names it (a client config\'s env can)', () => {
  const key = write('id_ed25519', '-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----\n');
  const both = write('server.pem', `${CERT}-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n`);
  const other = write('credentials', '[default]\naws_secret_access_key = x\n');
  for (const path of [key, both, other]) {
    assert.is(caFileOf({ NODE_EXTRA_CA_CERTS: path }), undefined, path);
    assert.is(caFileOf({ npm_config_cafile: path }), undefined, path);
    assert.throws(() => caFileOf({}, path), /must be a readable file of PEM certificates, with no private key/);
  }
});

ca.run();
