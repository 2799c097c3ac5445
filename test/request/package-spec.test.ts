import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LokError } from '../../src/errors.js';
import { catchError } from '../support/catch-error.js';
import { findNameProblem, isSemverRange, parsePackageSpec, type PackageSpec } from '../../src/request/package-spec.js';


const parse = suite('parsePackageSpec');

for (const [spec, name, selector, kind] of [
  ['@modelcontextprotocol/server-memory', '@modelcontextprotocol/server-memory', 'latest', 'tag'],
  ['@playwright/mcp@latest', '@playwright/mcp', 'latest', 'tag'],
  ['cowsay', 'cowsay', 'latest', 'tag'],
  ['cowsay@', 'cowsay', 'latest', 'tag'],
  ['cowsay@1.2.3', 'cowsay', '1.2.3', 'version'],
  ['cowsay@v1.2.3', 'cowsay', '1.2.3', 'version'],
  ['@scope/name@2.0.0-beta.1', '@scope/name', '2.0.0-beta.1', 'version'],
  ['a@1.0.0+build.5', 'a', '1.0.0+build.5', 'version'],
  ['a@next', 'a', 'next', 'tag'],
  ['a@canary-2024.01', 'a', 'canary-2024.01', 'tag'],
  ['a@^1.2', 'a', '^1.2', 'range'],
  ['a@~1.2.3', 'a', '~1.2.3', 'range'],
  ['a@>=1 <2', 'a', '>=1 <2', 'range'],
  ['a@>= 1.2.0', 'a', '>= 1.2.0', 'range'],
  ['a@1.x', 'a', '1.x', 'range'],
  ['a@x', 'a', 'x', 'range'],
  ['a@*', 'a', '*', 'range'],
  ['a@v1', 'a', 'v1', 'range'],
  ['a@1', 'a', '1', 'range'],
  ['a@1.2.3 - 2.0.0', 'a', '1.2.3 - 2.0.0', 'range'],
  ['a@1.x || >=2.5.0', 'a', '1.x || >=2.5.0', 'range'],
  ['a.b-c_d', 'a.b-c_d', 'latest', 'tag'],
] as const) {
  parse(`reads ${spec} as ${name} at the ${kind} ${selector}`, () => {
    const expected: PackageSpec = { raw: spec, name, selector, kind };
    assert.equal(parsePackageSpec(spec), expected);
  });
}

for (const [spec, reason] of [
  ['./my-server', 'local paths'],
  ['../x', 'local paths'],
  ['.', 'local paths'],
  ['.hidden', 'local paths'],
  ['/abs/server', 'local paths'],
  ['~/server', 'local paths'],
  ['C:\\server', 'local paths'],
  ['file:../x', 'local paths'],
  ['server.tgz', 'local paths'],
  ['name@file:./x', 'local paths'],
  ['@scope/name@../x', 'local paths'],
  ['git+https://github.com/u/r.git', 'git repositories'],
  ['git://github.com/u/r.git', 'git repositories'],
  ['git+ssh://git@github.com/u/r.git', 'git repositories'],
  ['git@github.com:u/r.git', 'git repositories'],
  ['github:user/repo', 'git repositories'],
  ['gitlab:user/repo', 'git repositories'],
  ['user/repo', 'git repositories'],
  ['user/repo#main', 'git repositories'],
  ['name@user/repo', 'git repositories'],
  ['name@github:user/repo', 'git repositories'],
  ['https://example.com/server-1.0.0.tgz', 'tarball URLs'],
  ['http://u:p@example.com/x.tgz', 'tarball URLs'],
  ['name@https://example.com/x.tgz', 'tarball URLs'],
  ['npm:other@1', 'npm aliases'],
  ['name@npm:other@1', 'npm aliases'],
  ['@scope/name@npm:other', 'npm aliases'],
  ['name@workspace:*', 'workspace packages'],
  ['ftp://example.com/x', 'package sources other than the npm registry'],
  ['user/repo#semver:^1', 'git repositories'],
] as const) {
  parse(`refuses ${spec} because ${reason} are not supported yet`, () => {
    const error = catchError(() => parsePackageSpec(spec));
    assert.is(error.code, 'PACKAGE_SPEC_UNSUPPORTED');
    assert.is(error.exitCode, 2);
    assert.ok(error.message.startsWith(`Cannot run \`${spec}\`: ${reason}`), error.message);
    assert.ok(error.message.endsWith('; publish the package or use an npm registry name such as `@scope/name@1.2.3`.'));
    assert.not.match(error.message, /\n/);
    assert.ok(error.hint);
  });
}

parse('names the local path in the message npm users will recognise', () => {
  assert.is(
    catchError(() => parsePackageSpec('./my-server')).message,
    'Cannot run `./my-server`: local paths are not supported yet; publish the package or use an npm registry name such as `@scope/name@1.2.3`.',
  );
});

for (const spec of ['', 'Foo', '_x', '-p', '--help', '@scope', '@scope/', '@/x', '@scope/_x', '@a/b/c', 'a b', 'a!b', 'node_modules', 'a'.repeat(215), ' x', 'x@bad tag!', 'x@1.2.3.4.5', 'x@>=', 'x@1 ||', 'x@a b']) {
  parse(`rejects ${JSON.stringify(spec.slice(0, 20))} as invalid input naming the spec`, () => {
    const error = catchError(() => parsePackageSpec(spec));
    assert.is(error.code, 'INVALID_INPUT');
    assert.is(error.exitCode, 2);
    assert.ok(error.message.includes(`\`${spec.slice(0, 20)}`), error.message);
  });
}

parse('escapes control characters so a spec cannot forge output lines', () => {
  const error = catchError(() => parsePackageSpec('x\n\u001b[31mFAKE'));
  assert.not.match(error.message, /[\n\u001b]/);
});

parse.run();

const names = suite('findNameProblem');

for (const [name, problem] of [
  ['server-memory', undefined],
  ['@modelcontextprotocol/server-memory', undefined],
  ['a'.repeat(214), undefined],
  ['', 'it is empty'],
  ['a'.repeat(215), 'it is longer than 214 characters'],
  ['Server', 'it must be lowercase'],
  ['@Scope/x', 'it must be lowercase'],
  ['_x', 'it cannot start with `.`, `_` or `-`'],
  ['@s/.x', 'it cannot start with `.`, `_` or `-`'],
  ['-rf', 'it cannot start with `.`, `_` or `-`'],
  ['@s', 'a scoped name has the form `@scope/name`'],
  ['a~b', 'it may only contain lowercase letters, digits, `-`, `.` and `_`'],
  ['favicon.ico', 'it is a reserved name'],
] as const) {
  names(`says ${JSON.stringify(name.slice(0, 30))} ${problem ? `is invalid: ${problem}` : 'is valid'}`, () => {
    assert.is(findNameProblem(name), problem);
  });
}

names.run();

const ranges = suite('isSemverRange');

for (const [text, ok] of [
  ['^1.2', true],
  ['~> 1.2', true],
  ['>=1.0.0-rc.1 <2', true],
  ['1.2.3 - 2', true],
  ['1.x || 2.x || >=3', true],
  ['*', true],
  ['', false],
  ['latest', false],
  ['1 - ', false],
  ['>=', false],
  ['1 || ', false],
  ['1.2.3; rm -rf /', false],
] as const) {
  ranges(`${ok ? 'accepts' : 'rejects'} ${JSON.stringify(text)}`, () => {
    assert.is(isSemverRange(text), ok);
  });
}

ranges.run();
