import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { findRunOption, parseRunArgs, runOptions } from '../../src/cli/run-args.js';
import { parseServerSource } from '../../src/request/source.js';
import { catchError } from '../support/catch-error.js';

const source = suite('parseServerSource');

for (const image of ['alpine', 'mcp-lok/sandbox:abc', 'ghcr.io/org/server:1.2.3', 'localhost:5000/a/b', 'registry.example.com/x@sha256:' + 'a'.repeat(64), 'my_org/my-image:v1.0-rc.1']) {
  source(`reads ${image} as an image`, () => {
    assert.equal(parseServerSource(image), { kind: 'image', image, allowPull: true });
  });
}

source('reads npx:// as an npm package', () => {
  const s = parseServerSource('npx://@modelcontextprotocol/server-memory@1.2.3');
  assert.is(s.kind, 'npx');
  if (s.kind === 'npx') {
    assert.is(s.packages[0]?.name, '@modelcontextprotocol/server-memory');
    assert.is(s.packages[0]?.selector, '1.2.3');
  }
});

for (const bad of ['Bad Image', 'UPPER/case', '-rf', 'a//b', 'image:tag:tag', 'x@sha256:short', '']) {
  source(`refuses ${JSON.stringify(bad)} with exit 2`, () => {
    assert.is(catchError(() => parseServerSource(bad)).exitCode, 2);
  });
}

source('refuses an npx:// spec npm could not run', () => {
  assert.is(catchError(() => parseServerSource('npx://./local')).code, 'PACKAGE_SPEC_UNSUPPORTED');
});

source.run();

const run = suite('parseRunArgs');

run('stops reading options at the server, like docker run', () => {
  const r = parseRunArgs(['--name', 'x', '-e', 'A=1', 'alpine', '--name', 'y'], {});
  assert.is(r.kind, 'run');
  if (r.kind === 'run') {
    assert.is(r.lok.name, 'x');
    assert.equal(r.lok.env, [{ name: 'A', value: '1' }]);
    assert.equal(r.args, ['--name', 'y']);
  }
});

run('drops one -- between the server and its arguments', () => {
  const r = parseRunArgs(['npx://cowsay', '--', '-f', 'tux'], {});
  if (r.kind === 'run') assert.equal(r.args, ['-f', 'tux']);
});

run('takes the shim\'s options and their environment variables', () => {
  const r = parseRunArgs(['--memory=2g', '--profile', 'network', 'alpine'], { MCP_LOK_CPUS: '1.5' });
  if (r.kind === 'run') {
    assert.is(r.lok.memoryBytes, 2 * 1024 ** 3);
    assert.is(r.lok.profile, 'network');
    assert.is(r.lok.cpus, 1.5);
  }
});

run('answers --help before anything else', () => {
  assert.equal(parseRunArgs(['--help', '--bogus'], {}), { kind: 'help' });
});

for (const [args, message] of [
  [[], /Missing the server/],
  [['--bogus', 'alpine'], /Unknown option `--bogus`/],
  [['-y', 'alpine'], /Unknown option `-y`/],
  [['--transport', 'carrier-pigeon', 'alpine'], /stdio, sse or streamable-http/],
  [['--port', '8080', 'alpine'], /belongs to the HTTP transports/],
  [['--auth', 'alpine'], /`--auth` belongs to the HTTP transports/],
  [['--transport', 'sse', '--port', '0', 'alpine'], /port from 1 to 65535/],
  [['--transport', 'sse', '--port', '70000', 'alpine'], /port from 1 to 65535/],
  [['--transport', 'sse', '--target-port', 'http', 'alpine'], /--target-port/],
  [['--transport', 'sse', '--host', 'example.com', 'alpine'], /IP address of this machine/],
  [['--memory', 'lots', 'alpine'], /--memory/],
  [['--name'], /Missing the value of `--name`/],
  [['--transport', 'sse', '--auth=yes', 'alpine'], /`--auth` takes no value/],
] as const) {
  run(`rejects ${args.join(' ') || 'nothing'} with exit 2`, () => {
    const error = catchError(() => parseRunArgs([...args], {}));
    assert.is(error.exitCode, 2);
    assert.match(error.message, message);
  });
}

run('takes the HTTP flags with an HTTP transport', () => {
  const r = parseRunArgs(['--transport', 'sse', '--port=8080', '--target-port', '3001', '--host', '0.0.0.0', 'img', '--', 'a'], {});
  assert.is(r.kind, 'run');
  if (r.kind === 'run') {
    assert.is(r.transport, 'sse');
    assert.equal(r.http, { host: '0.0.0.0', port: 8080, targetPort: 3001 });
    assert.equal(r.args, ['a']);
    assert.is(r.auth, false);
    assert.is(r.sourceText, 'img');
  }
  const a = parseRunArgs(['--auth', 'img'], {}, 'start');
  assert.ok(a.kind === 'run' && a.auth);
});

run('serves `start` over streamable HTTP by default, and says it defaulted', () => {
  const r = parseRunArgs(['npx://pkg'], {}, 'start');
  if (r.kind !== 'run') throw new Error('expected a run');
  assert.is(r.transport, 'streamable-http');
  assert.ok(r.transportDefaulted);
  assert.equal(r.http, { host: '127.0.0.1', port: undefined, targetPort: undefined });
});

run('takes --json for start only', () => {
  const r = parseRunArgs(['--json', 'npx://pkg'], {}, 'start');
  if (r.kind !== 'run') throw new Error('expected a run');
  assert.ok(r.json);
  assert.match(catchError(() => parseRunArgs(['--json', 'npx://pkg'], {})).message, /Unknown option `--json`/);
});

run('refuses stdio for a background server', () => {
  const error = catchError(() => parseRunArgs(['--transport', 'stdio', 'img'], {}, 'start'));
  assert.is(error.exitCode, 2);
  assert.match(error.message, /needs an HTTP transport/);
});

run('takes --debug=0 as a sandbox option with a value, like the shim', () => {
  const r = parseRunArgs(['--debug=0', 'img'], { MCP_LOK_DEBUG: '1' });
  assert.ok(r.kind === 'run' && !r.lok.debug);
});

run.run();

const table = suite('runOptions');

for (const command of ['run', 'start'] as const) {
  table(`gives every flag of ${command} to exactly one option`, () => {
    const flags = runOptions(command).flatMap((o) => [...o.def.flags]);
    assert.is(new Set(flags).size, flags.length);
    for (const flag of flags) assert.is(findRunOption(flag, command)?.def.flags.includes(flag), true, flag);
  });
}

table('takes none of npx\'s own flags: those are the shim\'s grammar', () => {
  for (const flag of ['-y', '--yes', '-p', '--package', '--no-install', '-v', '--version']) assert.is(findRunOption(flag, 'run'), undefined, flag);
});

table.run();
