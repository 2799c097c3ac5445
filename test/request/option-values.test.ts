import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  MIN_MEMORY_BYTES, parseBoolean, parseClientEnvMode, parseContainerName, parseCpus, parseDuration, parseEngineAddress, parseEnvEntry,
  parseHttpUrl, parseMemory, parsePids, parseText,
} from '../../src/request/option-values.js';

// Each parser gets a table of [input, expected]; undefined means the input is refused.
function tableSuite<T>(title: string, parse: (raw: string) => T | undefined, rows: ReadonlyArray<readonly [string, T | undefined]>): void {
  const s = suite(title);
  for (const [raw, expected] of rows) {
    s(`${expected === undefined ? 'refuses' : 'reads'} ${JSON.stringify(raw)}${expected === undefined ? '' : ` as ${JSON.stringify(expected) ?? String(expected)}`}`, () => {
      assert.equal(parse(raw), expected);
    });
  }
  s.run();
}

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

tableSuite('parseMemory', parseMemory, [
  ['512m', 512 * MiB],
  ['512M', 512 * MiB],
  ['512mb', 512 * MiB],
  ['512MB', 512 * MiB],
  ['1g', GiB],
  ['1.5g', 1.5 * GiB],
  ['268435456', 268435456],
  ['268435456b', 268435456],
  ['262144k', 256 * MiB],
  ['6m', MIN_MEMORY_BYTES],
  ['5m', undefined],
  ['6291455', undefined],
  ['0', undefined],
  ['lots', undefined],
  ['-512m', undefined],
  ['512t', undefined],
  ['512 m', undefined],
  ['', undefined],
  ['1e3g', undefined],
  ['99999999999999g', undefined],
]);

tableSuite('parseCpus', parseCpus, [
  ['1', 1],
  ['0.5', 0.5],
  ['.25', 0.25],
  ['1.75', 1.75],
  ['64', 64],
  ['0', undefined],
  ['0.00', undefined],
  ['0.001', undefined],
  ['64.01', undefined],
  ['-1', undefined],
  ['two', undefined],
  ['1e1', undefined],
]);

tableSuite('parsePids', parsePids, [
  ['16', 16],
  ['256', 256],
  ['32768', 32768],
  ['15', undefined],
  ['32769', undefined],
  ['1.5', undefined],
  ['many', undefined],
]);

tableSuite('parseDuration', parseDuration, [
  ['0', 0],
  ['30s', 30_000],
  ['15m', 900_000],
  ['12h', 43_200_000],
  ['7d', 604_800_000],
  ['never', Infinity],
  ['NEVER', Infinity],
  ['0s', 0],
  ['30', undefined],
  ['1.5h', undefined],
  ['1w', undefined],
  ['-1h', undefined],
  ['soon', undefined],
]);

tableSuite('parseEnvEntry', parseEnvEntry, [
  ['API_KEY', { name: 'API_KEY', value: undefined }],
  ['_x1', { name: '_x1', value: undefined }],
  ['MODE=fast', { name: 'MODE', value: 'fast' }],
  ['EMPTY=', { name: 'EMPTY', value: '' }],
  ['URL=a=b', { name: 'URL', value: 'a=b' }],
  ['MULTI=a\nb', { name: 'MULTI', value: 'a\nb' }],
  ['1BAD', undefined],
  ['BAD-NAME=x', undefined],
  ['=x', undefined],
  ['', undefined],
]);

tableSuite('parseContainerName', parseContainerName, [
  ['my-server', 'my-server'],
  ['A1_b.c-d', 'A1_b.c-d'],
  ['a'.repeat(63), 'a'.repeat(63)],
  ['a'.repeat(64), undefined],
  ['-x', undefined],
  ['.x', undefined],
  ['a/b', undefined],
  ['', undefined],
]);

tableSuite('parseHttpUrl', parseHttpUrl, [
  ['https://registry.npmjs.org', 'https://registry.npmjs.org/'],
  ['http://localhost:4873/', 'http://localhost:4873/'],
  ['https://npm.example.com/api/npm/', 'https://npm.example.com/api/npm/'],
  ['ftp://example.com', undefined],
  ['file:///etc/passwd', undefined],
  ['registry.npmjs.org', undefined],
  ['', undefined],
]);

tableSuite('parseEngineAddress', parseEngineAddress, [
  ['unix:///var/run/docker.sock', 'unix:///var/run/docker.sock'],
  ['/run/user/1000/podman/podman.sock', '/run/user/1000/podman/podman.sock'],
  ['tcp://127.0.0.1:2375', 'tcp://127.0.0.1:2375'],
  ['tcp://docker.internal:2376/', 'tcp://docker.internal:2376/'],
  ['tcp://[::1]:2375', 'tcp://[::1]:2375'],
  ['tcp://host', undefined],
  ['tcp://host:0', undefined],
  ['tcp://host:70000', undefined],
  ['unix://relative.sock', undefined],
  ['docker.sock', undefined],
  ['http://host:2375', undefined],
]);

tableSuite('parseBoolean', parseBoolean, [
  ['1', true],
  ['true', true],
  ['TRUE', true],
  ['yes', true],
  ['0', false],
  ['false', false],
  ['no', false],
  ['maybe', undefined],
]);

tableSuite('parseClientEnvMode', parseClientEnvMode, [
  ['auto', true],
  ['AUTO', true],
  ['on', true],
  ['off', false],
  ['0', false],
  ['all', undefined],
  ['', undefined],
]);

tableSuite('parseText', parseText, [
  ['stdio', 'stdio'],
  ['/home/me/profiles/web.json', '/home/me/profiles/web.json'],
  ['', undefined],
  ['  ', undefined],
  ['a\nb', undefined],
]);
