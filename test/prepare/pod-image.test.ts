import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LokError } from '../../src/errors.js';
import { clusterImageLabels, collectModules, egressDockerfile, packageDockerfile, podServerRecord, POD_ENTRIES, readPodCode } from '../../src/prepare/pod-image.js';
import { readServerRecord } from '../../src/pod/record.js';

const CODE_DIR = fileURLToPath(new URL('../../src/', import.meta.url));

const modules = suite('collectModules');

modules('follows relative imports, static, re-exported and dynamic, and skips node: modules', () => {
  const files: Record<string, string> = {
    'pod/a.js': "import { b } from './b.js';\nimport { readFileSync } from 'node:fs';\nexport { c } from '../c.js';\n",
    'pod/b.js': "export const b = 1; export const later = () => import('../http/d.js');\n",
    'c.js': "import './pod/b.js';\nexport const c = 2;\n",
    'http/d.js': 'export const d = 3;\n',
  };
  assert.equal(collectModules(['pod/a.js'], (p) => files[p] ?? ''), ['c.js', 'http/d.js', 'pod/a.js', 'pod/b.js']);
});

modules('refuses a module that imports a package: the image carries none of mcp-lok\'s dependencies', () => {
  const files: Record<string, string> = { 'pod/a.js': "import { z } from 'zod';\n" };
  try {
    collectModules(['pod/a.js'], (p) => files[p] ?? '');
    assert.unreachable('a package import was accepted');
  } catch (error) {
    assert.instance(error, LokError);
    assert.match((error as Error).message, /imports the package "zod"/);
  }
});

modules('the real in-pod entry points need only mcp-lok\'s own modules and Node\'s', () => {
  const files = readPodCode(CODE_DIR);
  const names = files.map((f) => f.name);
  for (const entry of POD_ENTRIES) assert.ok(names.includes(`pod/lib/${entry}`), entry);
  assert.ok(names.includes('pod/lib/http/session-bridge/process-backend.js'));
  assert.ok(names.includes('pod/lib/egress/proxy.js'));
  assert.ok(names.includes('pod/lib/sandbox/profile-validate.js'));
  // None of the machine-side code: the engine, the app layer, state.
  assert.not.ok(names.some((n) => /^pod\/lib\/(engine|app|state|cli|prepare)\//.test(n)), names.join(' '));
  assert.ok(names.includes('pod/lib/package.json'));
});

modules.run();

const files = suite('cluster image Dockerfiles and labels');

files('the package image copies one tree read-only (root owns COPY\'s files) and runs the bridge as uid 1000', () => {
  const text = packageDockerfile('0123456789abcdef');
  assert.match(text, /^COPY 0123456789abcdef\/ \/opt\/mcp-lok\/pkg\/$/m);
  assert.not.match(text, /--chown|chmod|RUN /);
  assert.match(text, /^USER 1000:1000$/m);
  assert.match(text, /^ENV HOME=\/home\/node$/m);
  assert.match(text, /^ENTRYPOINT \["node", "\/opt\/mcp-lok\/pod\/lib\/pod\/serve\.js"\]$/m);
  assert.match(text, /^CMD \[\]$/m);
  assert.throws(() => packageDockerfile('../etc'), /Not a tree directory/);
});

files('the egress image runs the proxy as uid 1000', () => {
  const text = egressDockerfile();
  assert.match(text, /^USER 1000:1000$/m);
  assert.match(text, /^ENTRYPOINT \["node", "\/opt\/mcp-lok\/pod\/lib\/pod\/egress\.js"\]$/m);
  assert.match(text, /^EXPOSE 3128$/m);
});

files('the record names the bin in the image\'s tree and the exact versions, and reads back', () => {
  const record = podServerRecord('0123456789abcdef', 'mcp-server-memory', [{ name: '@m/s', version: '1.2.3', integrity: 'sha512-x', bin: { s: 'i.js' } } as never]);
  assert.equal(record, { command: ['/opt/mcp-lok/pkg/node_modules/.bin/mcp-server-memory'], packages: [{ name: '@m/s', version: '1.2.3', integrity: 'sha512-x' }], tree: '0123456789abcdef' });
  assert.equal(readServerRecord(JSON.stringify(record)), record);
  assert.throws(() => podServerRecord('0123456789abcdef', '../../bin/sh', []), /cannot be run from an image/);
  assert.throws(() => readServerRecord('{"command":[],"packages":[],"tree":"x"}'), /names no command/);
});

files('labels: the kind, the versions as JSON, the tree and pin; never mcp-lok=true, so image rm leaves it', () => {
  const record = podServerRecord('0123456789abcdef', 'mem', [{ name: 'a', version: '1.0.0', integrity: 'sha512-a' }]);
  assert.equal(clusterImageLabels('package', '0.1.0', record, 'feedfacefeedface'), {
    'mcp-lok': 'cluster-image', 'mcp-lok-cluster-image': 'package', 'mcp-lok-version': '0.1.0',
    'mcp-lok-packages': '[{"name":"a","version":"1.0.0","integrity":"sha512-a"}]', 'mcp-lok-package': 'a@1.0.0',
    'mcp-lok-tree': '0123456789abcdef', 'mcp-lok-pin': 'feedfacefeedface',
  });
  assert.equal(clusterImageLabels('egress-proxy', '0.1.0'), { 'mcp-lok': 'cluster-image', 'mcp-lok-cluster-image': 'egress-proxy', 'mcp-lok-version': '0.1.0' });
});

files.run();
