import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildDenyRules, findGrantViolation } from '../../src/sandbox/grant-policy.js';

const rules = buildDenyRules({ home: '/home/me', engineSocket: '/var/run/docker.sock', lokDirs: ['/home/me/.cache/mcp-lok', '/home/me/.config/mcp-lok'] });
const check = suite('findGrantViolation');

for (const [path, reason] of [
  ['/', /whole filesystem/],
  ['/home/me', /whole home directory/],
  ['/home', /contains your whole home directory/],
  ['/etc', /system directory/],
  ['/etc/ssl/certs', /inside a system directory/],
  ['/usr/local/bin', /inside a system directory/],
  ['/var/run', /system directory/],
  ['/home/me/.ssh', /credential store/],
  ['/home/me/.ssh/id_ed25519', /inside a credential store/],
  ['/home/me/.aws', /credential store/],
  ['/home/me/.npmrc', /credential store/],
  ['/home/me/.config', /contains a credential store/],
  ['/home/me/.config/mcp-lok/profiles', /mcp-lok's own state/],
  ['/home/me/.cache', /contains mcp-lok's own state/],
] as const) {
  check(`refuses ${path}`, () => {
    assert.match(findGrantViolation(path, rules) ?? '', reason);
  });
}

for (const path of ['/home/me/projects/app', '/home/me/Documents', '/tmp/work', '/srv/data', '/mnt/usb', '/home/me/.config/app-settings']) {
  check(`allows ${path}`, () => {
    assert.is(findGrantViolation(path, rules), undefined);
  });
}

check('refuses the engine socket and what contains it, wherever it lives', () => {
  const custom = buildDenyRules({ home: '/home/me', engineSocket: '/home/me/.colima/default/docker.sock', lokDirs: [] });
  assert.match(findGrantViolation('/home/me/.colima', custom) ?? '', /engine's socket/);
});

check.run();
