import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseAllDocuments } from 'yaml';
import { parseAllowFrom, parseExportArgs, parseSecret, parseVolume, renderExportHelp } from '../../src/cli/export-args.js';
import { renderHelp } from '../../src/cli/help.js';
import { catchError } from '../support/catch-error.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MEMORY = 'npx://@modelcontextprotocol/server-memory@2025.9.25';

const values = suite('export kubernetes option values');
values('--volume takes GRANT=PVC and GRANT=configmap:NAME', () => {
  assert.equal(parseVolume('/data=data-pvc'), { grant: '/data', kind: 'pvc', name: 'data-pvc' });
  assert.equal(parseVolume('~/docs/=configmap:docs'), { grant: '~/docs', kind: 'configmap', name: 'docs' });
  assert.equal(parseVolume('/a=b=c'), { grant: '/a=b', kind: 'pvc', name: 'c' });
});
values('--secret takes NAME=SECRET/KEY', () => {
  assert.equal(parseSecret('GITHUB_TOKEN=github/token'), { env: 'GITHUB_TOKEN', secret: 'github', key: 'token' });
  assert.equal(parseSecret('A=s.x/.dockerconfigjson'), { env: 'A', secret: 's.x', key: '.dockerconfigjson' });
});
values('--allow-from takes namespace, pods:K=V and namespaces:K=V', () => {
  assert.equal(parseAllowFrom('namespace'), { kind: 'namespace' });
  assert.equal(parseAllowFrom('pods:app=agent,tier=x'), { kind: 'pods', labels: { app: 'agent', tier: 'x' } });
  assert.equal(parseAllowFrom('namespaces:kubernetes.io/metadata.name=ingress'), { kind: 'namespaces', labels: { 'kubernetes.io/metadata.name': 'ingress' } });
});
for (const [title, fn, message] of [
  ['a volume without a grant path', () => parseVolume('data=pvc'), /Expected `--volume` to be GRANT=PVC/],
  ['a volume with a bad claim name', () => parseVolume('/data=Data_PVC'), /Expected `--volume`/],
  ['a secret that looks like a value', () => parseSecret('TOKEN=ghp_abc123'), /Expected `--secret` to be NAME=SECRET\/KEY .*got `TOKEN=…`/],
  ['a secret key with a slash', () => parseSecret('A=s/k/e'), /Expected `--secret`/],
  ['a bad variable name in a secret', () => parseSecret('1A=s/k'), /Expected `--secret`/],
  ['an allow-from of another kind', () => parseAllowFrom('everyone'), /Expected `--allow-from`/],
  ['an allow-from with a bad label', () => parseAllowFrom('pods:app=a b'), /Expected `--allow-from`/],
] as const) {
  values(`refuses ${title} in one line, exit 2`, () => {
    const error = catchError(fn);
    assert.is(error.exitCode, 2);
    assert.match(error.message, message);
    assert.not.ok(error.message.includes('ghp_abc123'));
  });
}
values.run();

const parse = suite('parseExportArgs');
parse('reads export\'s options, start\'s shared ones, the source and the server\'s arguments', () => {
  const inv = parseExportArgs(['kubernetes', '--image', 'r.example.com/m:1', '--name', 'mem', '--memory', '512m', '--cpus', '0.5', '-e', 'A=1',
    '--secret', 'T=s/k', '--transport', 'sse', '--target-port', '9000', '--port', '80', '-n', 'mcp', '--json', MEMORY, '--', '--flag'], {});
  if (inv.kind !== 'export') throw new Error('not an export');
  assert.is(inv.sourceText, MEMORY);
  assert.equal(inv.args, ['--flag']);
  assert.is(inv.lok.name, 'mem');
  assert.is(inv.lok.memoryBytes, 512 * 2 ** 20);
  assert.is(inv.lok.cpus, 0.5);
  assert.equal(inv.lok.env, [{ name: 'A', value: '1' }]);
  assert.equal([inv.transport, inv.targetPort, inv.servicePort, inv.namespace, inv.json], ['sse', 9000, 80, 'mcp', true]);
  assert.equal(inv.sandboxFlags, ['--name', '--memory', '--cpus', '--transport', '--target-port']);
});
parse('shows help for nothing, -h, and --help among the options', () => {
  for (const argv of [[], ['-h'], ['kubernetes', '--help']]) assert.equal(parseExportArgs(argv, {}), { kind: 'help' });
});
for (const [argv, message] of [
  [['helm', MEMORY], /Expected what to export for: `kubernetes`, got `helm`/],
  [['kubernetes'], /Missing the server to export/],
  [['kubernetes', '--pids', '64', MEMORY], /`--pids` has no meaning in a Kubernetes export: Kubernetes sets the process limit per node/],
  [['kubernetes', '--auth', MEMORY], /`--auth` has no meaning in a Kubernetes export/],
  [['kubernetes', '--host', '0.0.0.0', MEMORY], /`--host` has no meaning in a Kubernetes export/],
  [['kubernetes', '--ephemeral', MEMORY], /`--ephemeral` has no meaning/],
  [['kubernetes', '--transport', 'stdio', MEMORY], /A server in a cluster is reached over HTTP/],
  [['kubernetes', '--bogus', MEMORY], /Unknown option `--bogus`/],
  [['kubernetes', '--image', 'Not An Image', MEMORY], /Expected `--image` to be an image reference/],
  [['kubernetes', '-n', 'Bad_NS', MEMORY], /Expected `-n` to be a namespace name/],
  [['kubernetes', '--json=1', MEMORY], /`--json` takes no value/],
] as const) {
  parse(`refuses ${argv.join(' ')} with exit 2`, () => {
    const error = catchError(() => parseExportArgs([...argv], {}));
    assert.is(error.exitCode, 2);
    assert.match(error.message, message);
  });
}
parse('lists export in the overview, and its help names every option it parses', () => {
  assert.match(renderHelp(), /\n {2}export +Print Kubernetes manifests/);
  const help = renderExportHelp();
  for (const flag of ['--image', '--egress-image', '--volume', '--secret', '--namespace', '--allow-from', '--port', '--json', '--transport', '--target-port', '--profile', '--env', '--name', '--memory', '--cpus']) {
    assert.ok(help.includes(flag), flag);
  }
});
parse.run();

/** Runs the real bin with its own empty home; nothing here talks to an engine or a cluster. */
function runBin(args: string[], home: string, cwd = home): { status: number | null; stdout: string; stderr: string } {
  const res = spawnSync(process.execPath, [join(ROOT, 'bin', 'mcp-lok'), ...args], {
    cwd, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: home, MCP_LOK_HOME: join(home, 'lok') },
  });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

const bin = suite('mcp-lok export kubernetes (the bin)');
let home = '';
bin.before(() => { home = mkdtempSync(join(tmpdir(), 'lok-export-')); });
bin.after(() => rmSync(home, { recursive: true, force: true }));

bin('prints YAML manifests on stdout only, and --json a List of the same objects', () => {
  writeFileSync(join(home, 'api.json'), JSON.stringify({ network: { outbound: { allow_host: ['api.github.com'], allow_port: [443] } } }));
  const args = ['export', 'kubernetes', '--profile', './api.json', '--image', 'r.example.com/m:1', '--egress-image', 'r.example.com/egress:1', MEMORY];
  const yaml = runBin(args, home);
  assert.is(yaml.status, 0, yaml.stderr);
  assert.is(yaml.stderr, '');
  const docs = parseAllDocuments(yaml.stdout).map((d) => d.toJSON() as { kind: string; metadata: { name: string } });
  assert.equal(docs.map((d) => `${d.kind}/${d.metadata.name}`), ['NetworkPolicy/server-memory', 'NetworkPolicy/server-memory-egress', 'Service/server-memory-egress', 'Deployment/server-memory-egress', 'Service/server-memory', 'Deployment/server-memory']);
  const json = runBin([...args.slice(0, 2), '--json', ...args.slice(2)], home);
  assert.is(json.status, 0, json.stderr);
  assert.equal((JSON.parse(json.stdout) as { items: unknown[] }).items, docs);
});

bin('prints exactly the manifests of README\'s worked example (the docs say what it does)', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf('<details><summary>the manifests</summary>');
  const shown = /```yaml\n([\s\S]*?)```\n/.exec(readme.slice(at))?.[1];
  assert.ok(at >= 0 && shown, 'README has no worked example');
  writeFileSync(join(home, 'github.json'), '{ "network": { "outbound": { "allow_host": ["api.github.com"], "allow_port": [443] } } }\n');
  const res = runBin(['export', 'kubernetes', '--name', 'github', '--namespace', 'mcp', '--profile', './github.json',
    '--image', 'registry.example.com/mcp/server-github:2025.4.8', '--egress-image', 'registry.example.com/mcp/mcp-lok-egress:0.1.0',
    '--secret', 'GITHUB_PERSONAL_ACCESS_TOKEN=github/token', 'npx://@modelcontextprotocol/server-github@2025.4.8'], home);
  assert.is(res.status, 0, res.stderr);
  assert.fixture(res.stdout, shown ?? '');
});

for (const [title, args, message] of [
  ['an npx:// server without --image', [MEMORY], /^mcp-lok: An npx:\/\/ server runs from an image with its package installed: build and push it with `mcp-lok image build --push REF npx:\/\/@modelcontextprotocol\/server-memory@2025\.9\.25`, then pass `--image REF`\.$/m],
  ['an allowlist without --egress-image', ['--profile', 'network', '--image', 'r/m:1', MEMORY], /--egress-proxy`, then pass `--egress-image REF`/],
  ['an unknown profile', ['--profile', 'nope', '--image', 'r/m:1', MEMORY], /Unknown permission profile "nope"/],
  ['a variable copied from the environment', ['-e', 'PATH', '--image', 'r/m:1', MEMORY], /`-e PATH` would copy its value from this environment into the manifest/],
  ['a bad source', ['not a source'], /Expected an image reference/],
] as const) {
  bin(`refuses ${title}: one line on stderr, exit 2, nothing on stdout`, () => {
    const res = runBin(['export', 'kubernetes', ...args], home);
    assert.is(res.status, 2, res.stderr);
    assert.is(res.stdout, '');
    assert.match(res.stderr, message);
    assert.not.ok(res.stderr.includes('    at '), 'no stack without --debug');
    assert.ok(res.stderr.trim().split('\n').length <= 2, res.stderr);
  });
}
bin.run();
