import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildDenyRules, findGrantViolation, isInGitFolder, isInside } from '../../src/sandbox/grant-policy.js';

const rules = buildDenyRules({
  home: '/home/me', engineSockets: ['/var/run/docker.sock'], lokDirs: ['/home/me/.cache/mcp-lok', '/home/me/.config/mcp-lok'],
  tempDirs: ['/run/user/1000', '/home/me/scratch-tmp'],
});
const check = suite('findGrantViolation');

for (const [path, reason] of [
  ['/', /whole filesystem/],
  ['/home/me', /whole home directory/],
  ['/home', /contains your whole home directory/],
  ['/etc', /system directory/],
  ['/etc/ssl/certs', /inside a system directory/],
  ['/usr/local/bin', /inside a system directory/],
  ['/var/run', /system directory|temporary or runtime folder/],
  ['/home/me/.ssh', /credential store/],
  ['/home/me/.ssh/id_ed25519', /inside a credential store/],
  ['/home/me/.aws', /credential store/],
  ['/home/me/.npmrc', /credential store/],
  ['/home/me/.config', /contains a credential store/],
  ['/home/me/.config/mcp-lok/profiles', /mcp-lok's own state/],
  ['/home/me/.cache', /contains mcp-lok's own state/],
  // Temporary and runtime folders: other programs' sockets live there.
  ['/tmp', /temporary or runtime folder/],
  ['/tmp/work', /inside a temporary or runtime folder/],
  ['/tmp/tmux-1000', /inside a temporary or runtime folder/],
  ['/var/tmp', /temporary or runtime folder.*\(\/var\/tmp\)/],
  ['/private/tmp/x', /temporary or runtime folder/],
  ['/run/user/1000', /temporary or runtime folder/],
  ['/run/user/1000/bus', /temporary or runtime folder/],
  ['/dev/shm', /temporary or runtime folder/],
  ['/private/var/folders/xy/abc/T', /temporary or runtime folder/],
  ['/home/me/scratch-tmp/sub', /temporary or runtime folder/],
  // npx's cache, login scripts, programs you run by name.
  ['/home/me/.npm', /code your own tools run/],
  ['/home/me/.npm/_npx', /code your own tools run/],
  ['/home/me/.bashrc', /runs when you log in/],
  ['/home/me/.bash_profile', /runs when you log in/],
  ['/home/me/.profile', /runs when you log in/],
  ['/home/me/.zshrc', /runs when you log in/],
  ['/home/me/.zprofile', /runs when you log in/],
  ['/home/me/.config/autostart', /runs when you log in/],
  ['/home/me/.config/systemd/user', /runs when you log in/],
  ['/home/me/.local/bin', /runs when you log in/],
  ['/home/me/bin', /runs when you log in/],
  ['/home/me/Library/LaunchAgents', /runs when you log in/],
  // Browser profiles.
  ['/home/me/.mozilla/firefox', /browser profile/],
  ['/home/me/.config/google-chrome', /browser profile/],
  ['/home/me/.config/chromium/Default', /browser profile/],
  ['/home/me/.config/BraveSoftware', /browser profile/],
  ['/home/me/.config/microsoft-edge', /browser profile/],
  ['/home/me/Library/Application Support/Google/Chrome', /browser profile/],
  ['/home/me/Library/Application Support/Firefox/Profiles', /browser profile/],
  ['/home/me/Library/Safari', /browser profile/],
  // More credential stores.
  ['/home/me/.config/git/credentials', /credential store/],
  ['/home/me/.git-credentials', /credential store/],
  ['/home/me/.config/containers', /credential store/],
  ['/home/me/.local/share/containers/storage', /credential store/],
  ['/home/me/.vault-token', /credential store/],
  ['/home/me/.terraform.d', /credential store/],
  ['/home/me/.pgpass', /credential store/],
  // History files.
  ['/home/me/.bash_history', /shell history/],
  ['/home/me/.zsh_history', /shell history/],
  ['/home/me/.local/share/fish/fish_history', /shell history/],
  // Every engine's folder, not only the one in use.
  ['/home/me/.colima', /container engine's folder/],
  ['/home/me/.orbstack', /container engine's folder/],
  ['/home/me/.rd', /container engine's folder/],
  ['/home/me/.lima/default', /container engine's folder/],
  ['/home/me/.docker/desktop', /credential store/],
  ['/home/me/Library/Containers/com.docker.docker', /container engine's folder/],
  // Folders that contain any of these.
  ['/home/me/.local', /contains/],
  ['/home/me/Library', /contains/],
  ['/home/me/snap', /contains a browser profile/],
] as const) {
  check(`refuses ${path}`, () => {
    assert.match(findGrantViolation(path, rules) ?? '', reason);
  });
}

for (const path of ['/home/me/projects/app', '/home/me/Documents', '/srv/data', '/mnt/usb', '/home/me/.config/app-settings', '/home/me/binaries', '/home/me/.npm-notes', '/work/project']) {
  check(`allows ${path}`, () => {
    assert.is(findGrantViolation(path, rules), undefined);
  });
}

check('refuses every engine socket given and what contains it, wherever it lives', () => {
  const custom = buildDenyRules({ home: '/home/me', engineSockets: ['/srv/engines/podman.sock'], lokDirs: [], tempDirs: [] });
  assert.match(findGrantViolation('/srv/engines', custom) ?? '', /engine's socket/);
});

check('compares case-insensitively where the filesystem does, and exactly where it does not', () => {
  const mac = buildDenyRules({ home: '/Users/me', engineSockets: [], lokDirs: [], tempDirs: [] });
  for (const path of ['/Users/me/.SSH', '/users/ME/.ssh/id_rsa', '/Users/me/library/keychains', '/PRIVATE/TMP/x', '/Users/me/.Bashrc']) {
    assert.ok(findGrantViolation(path, mac, { caseInsensitive: true }), path);
  }
  assert.is(findGrantViolation('/Users/me/.SSH', mac, { caseInsensitive: false }), undefined);
  assert.is(findGrantViolation('/Users/me/Projects', mac, { caseInsensitive: true }), undefined);
});

check.run();

const git = suite('isInGitFolder');

git('finds a .git segment anywhere in the path, folded where the filesystem folds', () => {
  assert.ok(isInGitFolder('/home/me/app/.git'));
  assert.ok(isInGitFolder('/home/me/app/.git/hooks'));
  assert.not.ok(isInGitFolder('/home/me/app/.github'));
  assert.not.ok(isInGitFolder('/home/me/app'));
  assert.not.ok(isInGitFolder('/home/me/app/.GIT/hooks'));
  assert.ok(isInGitFolder('/home/me/app/.GIT/hooks', { caseInsensitive: true }));
});

git.run();

const inside = suite('isInside');
for (const [child, parent, expected] of [
  ['/home/me/.ssh', '/home/me', true],
  ['/home/me/.ssh/id', '/home/me', true],
  ['/home/me', '/home/me', false],
  ['/home/me2', '/home/me', false],
  ['/home', '/home/me', false],
  ['/x', '/', true],
  ['/', '/', false],
  ['/proc/1', '/proc', true],
  ['/processes', '/proc', false],
] as const) {
  inside(`${child} is ${expected ? '' : 'not '}strictly inside ${parent}`, () => assert.is(isInside(child, parent), expected));
}
inside.run();
