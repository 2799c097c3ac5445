// `mcp-lok export kubernetes` against a real cluster: the one KUBECONFIG names, only when it
// answers. The manifests are applied with a server-side dry run in a namespace of the test's own
// that enforces the restricted Pod Security Standard; then, when MCP_LOK_TEST_K8S_IMAGE names an
// image of server-memory the cluster can pull (`mcp-lok image build --push REF
// npx://@modelcontextprotocol/server-memory`) and the user may create Deployments, the server
// runs and its tools are listed through its Service (kubectl port-forward, on loopback).
// Where no cluster answers, no test is registered (a skipped suite must not count as a pass).
// lok-offline-data: registry.example.com, pod-security.kubernetes.io; image names in manifests the API server only checks (a dry run pulls nothing), and label keys
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const KUBECTL = process.env.MCP_LOK_TEST_KUBECTL ?? '/usr/bin/kubectl';
const MEMORY = 'npx://@modelcontextprotocol/server-memory';
const IMAGE = process.env.MCP_LOK_TEST_K8S_IMAGE;
const EGRESS_IMAGE = process.env.MCP_LOK_TEST_K8S_EGRESS_IMAGE ?? 'registry.example.com/mcp-lok/egress:test';

function kubectl(args: string[], stdin?: string, timeoutMs = 60_000): { status: number | null; stdout: string; stderr: string } {
  const res = spawnSync(KUBECTL, args, { input: stdin, encoding: 'utf8', timeout: timeoutMs });
  return { status: res.status, stdout: res.stdout ?? '', stderr: `${res.stderr ?? ''}${res.error ? String(res.error) : ''}` };
}

function exportManifests(args: string[]): string {
  const res = spawnSync(process.execPath, [join(ROOT, 'bin', 'mcp-lok'), 'export', 'kubernetes', ...args], { encoding: 'utf8' });
  assert.is(res.status, 0, res.stderr);
  return res.stdout;
}

/** Returns why the cluster tests cannot run here, or undefined when a cluster answers. */
function findSkipReason(): string | undefined {
  if (!process.env.KUBECONFIG) return 'KUBECONFIG is not set';
  const version = kubectl(['version', '--request-timeout=10s', '-o', 'json'], undefined, 20_000);
  if (version.status !== 0 || !/"serverVersion"/.test(version.stdout)) return `no cluster answers at KUBECONFIG=${process.env.KUBECONFIG} (${version.stderr.trim().split('\n').at(-1) ?? 'no answer'})`;
  return undefined;
}

const reason = findSkipReason();
if (reason) {
  console.warn(`kubernetes e2e: skipped, ${reason}.`);
} else {
  const cluster = suite('export kubernetes on a real cluster');
  const namespace = `mcp-lok-e2e-${randomBytes(4).toString('hex')}`;
  let created = false;

  cluster.before(() => {
    const res = kubectl(['create', 'namespace', namespace]);
    assert.is(res.status, 0, `creating the test's namespace: ${res.stderr}`);
    created = true;
    const labels = kubectl(['label', 'namespace', namespace, 'pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/warn=restricted']);
    assert.is(labels.status, 0, labels.stderr);
  });
  cluster.after(() => {
    if (created) kubectl(['delete', 'namespace', namespace, '--wait=false']);
  });

  for (const [title, args] of [
    ['the default profile', ['--image', IMAGE ?? 'registry.example.com/mcp-lok/memory:test', MEMORY]],
    ['an allowlist (egress proxy, its Service and policies)', ['--profile', join(ROOT, 'test', 'fixtures', 'k8s-allowlist.json'), '--image', IMAGE ?? 'registry.example.com/mcp-lok/memory:test', '--egress-image', EGRESS_IMAGE, '--secret', 'TOKEN=api/token', MEMORY]],
    ['a server from an image, over SSE', ['--transport', 'sse', '--target-port', '3000', 'registry.example.com/mcp/server:1']],
  ] as const) {
    cluster(`the API server accepts the manifests of ${title}, with no restricted-PSS warning`, () => {
      const manifests = exportManifests(['--namespace', namespace, ...args]);
      const res = kubectl(['apply', '--dry-run=server', '-f', '-'], manifests);
      assert.is(res.status, 0, res.stderr);
      const objects = manifests.split('\n').filter((l) => l === '---').length;
      assert.is(res.stdout.split('\n').filter((l) => /\(server dry run\)$/.test(l)).length, objects, res.stdout);
      assert.not.match(res.stderr, /violate PodSecurity/i, res.stderr);
    });
  }

  const allowed = IMAGE !== undefined && kubectl(['auth', 'can-i', 'create', 'deployments', '-n', namespace]).stdout.trim() === 'yes';
  if (!allowed) {
    console.warn(`kubernetes e2e: not running server-memory in the cluster: ${IMAGE === undefined ? 'MCP_LOK_TEST_K8S_IMAGE names no image of it' : 'this user may not create Deployments'}.`);
  } else {
    cluster('runs server-memory and lists its tools through its Service', async () => {
      const manifests = exportManifests(['--namespace', namespace, '--name', 'memory', '--image', IMAGE as string, MEMORY]);
      const apply = kubectl(['apply', '-f', '-'], manifests);
      assert.is(apply.status, 0, apply.stderr);
      const rollout = kubectl(['rollout', 'status', '-n', namespace, 'deployment/memory', '--timeout=300s'], undefined, 320_000);
      assert.is(rollout.status, 0, `${rollout.stderr}\n${kubectl(['describe', 'pods', '-n', namespace]).stdout}`);
      const forward = spawn(KUBECTL, ['port-forward', '-n', namespace, 'service/memory', ':8080', '--address', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
      try {
        const port = await new Promise<number>((resolve, reject) => {
          let out = '';
          forward.stdout.on('data', (chunk: Buffer) => {
            out += chunk.toString();
            const match = /127\.0\.0\.1:(\d+) ->/.exec(out);
            if (match) resolve(Number(match[1]));
          });
          forward.once('exit', (code) => reject(new Error(`kubectl port-forward exited with ${code}`)));
        });
        const client = new Client({ name: 'mcp-lok-k8s-e2e', version: '1.0.0' });
        await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
        try {
          const { tools } = await client.listTools();
          assert.ok(tools.some((t) => t.name === 'read_graph'), JSON.stringify(tools.map((t) => t.name)));
        } finally {
          await client.close();
        }
      } finally {
        forward.kill('SIGTERM');
      }
    });
  }

  cluster.run();
}
