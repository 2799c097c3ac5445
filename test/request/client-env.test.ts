import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chooseClientEnv, isNeverForwarded, parseEnvironBlock, parsePsEnvironment, SDK_INHERITED_ENV, type ParentRead } from '../../src/request/client-env.js';
import { FIXED_ENV } from '../../src/sandbox/hardening.js';
import { EGRESS_PROXY_ENV } from '../../src/egress/wiring.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** A parent whose environment, as it started, was `env`. */
function parent(env: Record<string, string>, program = 'node'): ParentRead {
  return { ok: true, program, has: (name, value) => env[name] === value };
}

const SHELL_ENV = { HOME: '/home/me', PATH: '/usr/bin:/bin', USER: 'me', GITHUB_TOKEN: 'shell-secret', AWS_SECRET_ACCESS_KEY: 'aws', LANG: 'C.UTF-8' };

const choose = suite('chooseClientEnv');

choose('passes what a whole-environment client added and none of what it inherited', () => {
  const own = { ...SHELL_ENV, CONFIG_KEY: 'from-config', _: '/usr/bin/mcp-lok-npx' };
  assert.equal(chooseClientEnv(own, parent(SHELL_ENV)), { kind: 'added', env: { CONFIG_KEY: 'from-config' } });
});

choose('passes a variable the config set to another value than the client has', () => {
  const own = { ...SHELL_ENV, GITHUB_TOKEN: 'config-token' };
  assert.equal(chooseClientEnv(own, parent(SHELL_ENV)), { kind: 'added', env: { GITHUB_TOKEN: 'config-token' } });
});

choose('takes a variable the config set to the very value the client has for inherited (say it with -e)', () => {
  assert.equal(chooseClientEnv({ ...SHELL_ENV }, parent(SHELL_ENV)), { kind: 'added', env: {} });
});

choose('passes the config\'s variables of an SDK client, whose allowlist is never passed', () => {
  const own = { HOME: '/home/me', LOGNAME: 'me', PATH: '/usr/bin:/bin', SHELL: '/bin/zsh', TERM: 'xterm', USER: 'me', API_KEY: 'k' };
  const client = { ...SHELL_ENV, LOGNAME: 'me', SHELL: '/bin/zsh', TERM: 'xterm' };
  assert.equal(chooseClientEnv(own, parent(client)), { kind: 'added', env: { API_KEY: 'k' } });
});

choose('never passes mcp-lok\'s own, npm\'s, the sandbox\'s or the loader\'s variables, even when added', () => {
  const own = {
    ...SHELL_ENV, MCP_LOK_PROFILE: 'network', MCP_LOK_HOME: '/x', npm_config_registry: 'http://127.0.0.1:4873/', NODE_OPTIONS: '--require /host/hook.js',
    LD_PRELOAD: '/host/lib.so', HTTPS_PROXY: 'http://127.0.0.1:3128', https_proxy: 'http://127.0.0.1:3128', TMPDIR: '/var/folders/x', NODE_EXTRA_CA_CERTS: '/ca.pem',
    KEEP: 'yes',
  };
  assert.equal(chooseClientEnv(own, parent(SHELL_ENV)), { kind: 'added', env: { KEEP: 'yes' } });
});

choose('never passes a name -e could not take: one with a newline or an escape would forge a stderr line', () => {
  const own = { ...SHELL_ENV, 'X\nmcp-lok: the server is sandboxed': 'v', 'Y\u001b[2K': 'v', 'A-B': 'v', '': 'v', KEEP: 'yes' };
  assert.equal(chooseClientEnv(own, parent(SHELL_ENV)), { kind: 'added', env: { KEEP: 'yes' } });
});

choose('cannot tell, and passes nothing, when the parent cannot be read', () => {
  const out = chooseClientEnv({ ...SHELL_ENV, CONFIG_KEY: 'x' }, { ok: false, reason: 'no /proc' });
  assert.equal(out, { kind: 'unknown', reason: 'no /proc' });
});

choose('has nothing to say when every variable is one that is never passed', () => {
  assert.equal(chooseClientEnv({ HOME: '/h', PATH: '/bin', MCP_LOK_DEBUG: '1' }, { ok: false, reason: 'no /proc' }), { kind: 'added', env: {} });
});

choose('cannot tell when a shell started it: its startup files export variables its environment never had', () => {
  const out = chooseClientEnv({ ...SHELL_ENV, FROM_BASHRC: 'secret' }, parent(SHELL_ENV, 'bash'));
  assert.is(out.kind, 'unknown');
  assert.match(out.kind === 'unknown' ? out.reason : '', /shell \(bash\)/);
});

choose('cannot tell when the shell is installed under a versioned or other name', () => {
  for (const program of ['zsh-5.9', 'ksh93', 'bash-static', 'rbash', 'yash', 'oksh']) {
    assert.is(chooseClientEnv({ ...SHELL_ENV, FROM_RC: 'secret' }, parent(SHELL_ENV, program)).kind, 'unknown', program);
  }
  assert.equal(chooseClientEnv({ ...SHELL_ENV, K: 'v' }, parent(SHELL_ENV, 'node22')), { kind: 'added', env: { K: 'v' } });
});

choose('cannot tell when npx or npm started it: npm passes the config\'s variables on as its own', () => {
  const own = { ...SHELL_ENV, CONFIG_KEY: 'x', npm_execpath: '/usr/lib/node_modules/npm/bin/npm-cli.js' };
  const npm = { ...SHELL_ENV, CONFIG_KEY: 'x' };
  const out = chooseClientEnv(own, parent(npm));
  assert.is(out.kind, 'unknown');
  assert.match(out.kind === 'unknown' ? out.reason : '', /npx or npm/);
});

choose('still passes what a client added when npm started the client itself, long before', () => {
  const session = { ...SHELL_ENV, npm_execpath: '/npm-cli.js' };
  assert.equal(chooseClientEnv({ ...session, CONFIG_KEY: 'x' }, parent(session)), { kind: 'added', env: { CONFIG_KEY: 'x' } });
});

choose('cannot tell when the client\'s PATH changed after it started, as when it loads the user\'s shell settings', () => {
  const loaded = { ...SHELL_ENV, PATH: '/home/me/.nvm/bin:/usr/bin:/bin', OPENAI_API_KEY: 'from-zshrc' };
  const out = chooseClientEnv(loaded, parent(SHELL_ENV));
  assert.is(out.kind, 'unknown');
  assert.match(out.kind === 'unknown' ? out.reason : '', /PATH differs/);
});

choose.run();

const never = suite('isNeverForwarded');

never('covers the SDK\'s allowlist, the sandbox\'s fixed variables and the egress proxy\'s, in any case', () => {
  for (const name of [...SDK_INHERITED_ENV, ...Object.keys(FIXED_ENV), ...Object.keys(EGRESS_PROXY_ENV), 'HOSTNAME', 'NODE_EXTRA_CA_CERTS']) {
    assert.ok(isNeverForwarded(name), name);
    assert.ok(isNeverForwarded(name.toLowerCase()), name.toLowerCase());
  }
});

never('lists exactly the SDK\'s own allowlist, POSIX and Windows', () => {
  const source = readFileSync(join(ROOT, 'node_modules/@modelcontextprotocol/sdk/dist/esm/client/stdio.js'), 'utf8');
  const block = /DEFAULT_INHERITED_ENV_VARS = ([\s\S]*?);\n/.exec(source)?.[1] ?? '';
  const names = [...block.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1]);
  assert.ok(names.length >= 12, block);
  assert.equal([...new Set(names)].sort(), [...SDK_INHERITED_ENV].sort());
});

never('lets ordinary configuration through', () => {
  for (const name of ['GITHUB_PERSONAL_ACCESS_TOKEN', 'API_KEY', 'NODE_ENV', 'LANG', 'BRAVE_API_KEY', 'npmish', 'MCP_LOKI']) assert.not.ok(isNeverForwarded(name), name);
});

never.run();

const environ = suite('parseEnvironBlock');

environ('finds NAME=VALUE entries of a NUL-separated block, values with = and newlines included', () => {
  const has = parseEnvironBlock(Buffer.from('A=1\0B=x=y\0KEY=-----BEGIN\nline\0EMPTY=\0noequals\0'));
  assert.ok(has('A', '1'));
  assert.ok(has('B', 'x=y'));
  assert.ok(has('KEY', '-----BEGIN\nline'));
  assert.ok(has('EMPTY', ''));
  assert.not.ok(has('A', '2'));
  assert.not.ok(has('C', ''));
  assert.not.ok(has('noequals', ''));
});

environ('holds each value of a name given twice', () => {
  const has = parseEnvironBlock(Buffer.from('A=1\0A=2\0'));
  assert.ok(has('A', '1'));
  assert.ok(has('A', '2'));
});

environ('reads this process\'s own /proc environ as the kernel writes it', () => {
  if (process.platform !== 'linux') return;
  const has = parseEnvironBlock(readFileSync('/proc/self/environ'));
  const [name, value] = Object.entries(process.env).find(([n, v]) => v !== undefined && n !== '_') ?? ['', ''];
  assert.ok(has(name, value ?? ''), name);
});

environ.run();

const ps = suite('parsePsEnvironment');

const PS_LINE = '/Applications/Claude.app/Contents/MacOS/Claude --flag HOME=/Users/me PATH=/usr/bin:/bin:/usr/sbin:/sbin USER=me SECRET=a b c __CF_USER_TEXT_ENCODING=0x1F5:0x0:0x0\n';

ps('finds the parent\'s variables by name and exact value, even with spaces in values', () => {
  const has = parsePsEnvironment(PS_LINE);
  assert.ok(has);
  assert.ok(has?.('HOME', '/Users/me'));
  assert.ok(has?.('PATH', '/usr/bin:/bin:/usr/sbin:/sbin'));
  assert.ok(has?.('SECRET', 'a b c'));
  assert.ok(has?.('__CF_USER_TEXT_ENCODING', '0x1F5:0x0:0x0'));
  assert.not.ok(has?.('HOME', '/Users'));
  assert.not.ok(has?.('CONFIG_KEY', 'x'));
});

ps('errs toward the parent\'s where spaces make the line ambiguous (a value that is a word-prefix of the parent\'s)', () => {
  assert.ok(parsePsEnvironment(PS_LINE)?.('SECRET', 'a b'));
});

ps('counts a value ps would escape as the parent\'s, so it is never passed by mistake', () => {
  const has = parsePsEnvironment(PS_LINE);
  assert.ok(has?.('PEM', '-----BEGIN\nKEY'));
  assert.ok(has?.('NAME', 'caf\u00e9'));
});

ps('says the environment is not shown when ps prints only the command line', () => {
  assert.is(parsePsEnvironment('/bin/zsh -l\n'), undefined);
  assert.is(parsePsEnvironment(''), undefined);
});

ps.run();
