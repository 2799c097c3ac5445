import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { exportKubernetes, type KubernetesExportInput } from '../../src/app/export.js';
import type { BackgroundSpec } from '../../src/app/supervisor-protocol.js';
import { resolveLokOptions } from '../../src/request/options.js';
import { writeRecord } from '../../src/state/records.js';
import { catchError } from '../support/catch-error.js';
import { testContext } from '../support/context.js';

/** A background server's record as `start --name mem -e API_KEY=... --memory 512m --transport sse` writes it. */
function recordedSpec(): BackgroundSpec {
  return JSON.parse(JSON.stringify({
    name: 'mem', sourceText: 'npx://x@1.0.0', transport: 'sse', host: '127.0.0.1', port: 4000, targetPort: undefined, token: undefined,
    server: {
      source: { kind: 'npx', packages: [{ raw: 'x@1.0.0', name: 'x', selector: '1.0.0', kind: 'version' }], command: undefined, allowInstall: true },
      args: ['--flag'], env: { API_KEY: 'recorded-secret-value' }, quiet: false, launcher: 'start',
      lok: { profile: 'stdio', env: [], name: 'mem', memoryBytes: 512 * 2 ** 20, cpus: 1, pids: 256, caCert: undefined, registry: undefined, engine: undefined, debug: false },
      profile: { name: 'stdio', source: 'built-in', profile: { read: [], write: [], outbound: { insecureAllowAll: false, transports: [], hosts: [], ports: [] } } },
    },
  })) as BackgroundSpec;
}

function input(sourceText: string, overrides: Partial<KubernetesExportInput> = {}): KubernetesExportInput {
  return {
    sourceText, args: [], transport: undefined, targetPort: undefined, lok: resolveLokOptions({}, {}), sandboxFlags: [],
    image: 'registry.example.com/x:1', egressImage: undefined, volumes: [], secrets: [], namespace: undefined, allowFrom: [], servicePort: undefined,
    ...overrides,
  };
}

const recorded = suite('exportKubernetes of a background server');
let home = '';
recorded.before(() => {
  home = mkdtempSync(join(tmpdir(), 'lok-export-app-'));
  const ctx = testContext({ home });
  writeRecord(ctx.paths.state, { name: 'mem', spec: recordedSpec(), transport: 'sse', host: '127.0.0.1', port: 4000, url: 'http://127.0.0.1:4000/sse', mode: 'bridge', source: 'npx://x@1.0.0', profile: 'stdio', allows: [], supervisor: undefined } as never);
});
recorded.after(() => rmSync(home, { recursive: true, force: true }));

recorded('exports it as it was started: source, arguments, transport, limits; its variable from the Secret named', () => {
  const objects = exportKubernetes(testContext({ home }), input('mem', { secrets: [{ env: 'API_KEY', secret: 'mem', key: 'api-key' }] }));
  const deployment = objects.find((o) => o.kind === 'Deployment') as IDeployment;
  const c = deployment.spec!.template.spec!.containers[0]!;
  assert.is(deployment.metadata?.name, 'mem');
  assert.equal(c.args, ['--flag']);
  assert.equal(c.resources?.limits, { memory: '512Mi', cpu: '1' });
  assert.equal(c.env?.find((e) => e.name === 'MCP_LOK_POD_TRANSPORT')?.value, 'sse');
  assert.equal(c.env?.find((e) => e.name === 'API_KEY'), { name: 'API_KEY', valueFrom: { secretKeyRef: { name: 'mem', key: 'api-key' } } });
  assert.not.ok(JSON.stringify(objects).includes('recorded-secret-value'));
});

recorded('refuses a recorded variable without a --secret for it, and never prints its value', () => {
  const error = catchError(() => exportKubernetes(testContext({ home }), input('mem')));
  assert.is(error.exitCode, 2);
  assert.match(error.message, /^mem was started with the variable API_KEY, whose values are never printed: give each with `--secret NAME=SECRET\/KEY`/);
  assert.not.ok(error.message.includes('recorded-secret-value'));
});

recorded('a sandbox option makes the positional a source: an image of that name, not the record', () => {
  const objects = exportKubernetes(testContext({ home }), input('mem', { sandboxFlags: ['--memory'], image: undefined }));
  assert.is((objects.find((o) => o.kind === 'Deployment') as IDeployment).spec!.template.spec!.containers[0]!.image, 'mem');
});

recorded.run();

const enforce = suite('exportKubernetes and --pin-tools enforce (a cluster has no tool pinning)');
let enforceHome = '';
enforce.before(() => {
  enforceHome = mkdtempSync(join(tmpdir(), 'lok-export-enforce-'));
  const ctx = testContext({ home: enforceHome });
  const spec = recordedSpec();
  spec.name = 'strict';
  spec.server.env = {};
  spec.server.lok = { ...spec.server.lok, name: 'strict', pinTools: 'enforce' };
  writeRecord(ctx.paths.state, { name: 'strict', spec, transport: 'sse', host: '127.0.0.1', port: 4001, url: 'http://127.0.0.1:4001/sse', mode: 'bridge', source: 'npx://x@1.0.0', profile: 'stdio', allows: [], supervisor: undefined } as never);
  writeFileSync(join(enforceHome, 'enforce.json'), '{"pin_tools":"enforce"}');
});
enforce.after(() => rmSync(enforceHome, { recursive: true, force: true }));

enforce('is refused in one line, not dropped without a word: from a profile, from MCP_LOK_PIN_TOOLS, from a background server\'s record', () => {
  const ctx = testContext({ home: enforceHome });
  for (const [what, given] of [
    ['a profile', input('npx://x@1.0.0', { lok: resolveLokOptions({ profile: [join(enforceHome, 'enforce.json')] }, {}) })],
    ['MCP_LOK_PIN_TOOLS', input('npx://x@1.0.0', { lok: resolveLokOptions({}, { MCP_LOK_PIN_TOOLS: 'enforce' }) })],
    ['a record', input('strict')],
  ] as const) {
    const error = catchError(() => exportKubernetes(ctx, given));
    assert.is(error.exitCode, 2, what);
    assert.match(error.message, /enforce/, what);
    assert.match(error.message, /cannot carry|has no tool pinning/, what);
    assert.not.match(error.message, /\n/, what);
  }
  // The default (observe) is not carried either, as the README says, and exports.
  assert.ok(exportKubernetes(ctx, input('npx://x@1.0.0')).length > 0);
});

enforce.run();

const token = suite('exportKubernetes of a server whose clients send a bearer token');
let tokenHome = '';
token.before(() => {
  tokenHome = mkdtempSync(join(tmpdir(), 'lok-export-token-'));
  const ctx = testContext({ home: tokenHome });
  for (const [name, sourceText, source] of [
    ['guarded', 'npx://x@1.0.0', recordedSpec().server.source],
    ['guarded-img', 'ghcr.io/o/s:1', { kind: 'image', image: 'ghcr.io/o/s:1' }],
  ] as const) {
    const spec = recordedSpec();
    spec.name = name;
    spec.sourceText = sourceText;
    spec.server.source = source as BackgroundSpec['server']['source'];
    spec.server.env = {};
    spec.server.lok = { ...spec.server.lok, name };
    spec.token = 'a'.repeat(32);
    writeRecord(ctx.paths.state, { name, spec, transport: 'sse', host: '127.0.0.1', port: 4002, url: 'http://127.0.0.1:4002/sse', mode: 'bridge', source: sourceText, profile: 'stdio', allows: [], supervisor: undefined } as never);
  }
});
token.after(() => rmSync(tokenHome, { recursive: true, force: true }));

token('is refused in one line rather than exported open: an npx:// pod needs MCP_LOK_POD_TOKEN from a Secret, an image --allow-from', () => {
  const ctx = testContext({ home: tokenHome });
  const npx = catchError(() => exportKubernetes(ctx, input('guarded')));
  assert.is(npx.exitCode, 2);
  assert.match(npx.message, /^guarded takes a bearer token on this machine; its pod would take none\.$/);
  assert.match(npx.hint ?? '', /--secret MCP_LOK_POD_TOKEN=SECRET\/KEY/);
  const objects = exportKubernetes(ctx, input('guarded', { secrets: [{ env: 'MCP_LOK_POD_TOKEN', secret: 'guarded', key: 'token' }] }));
  const env = (objects.find((o) => o.kind === 'Deployment') as IDeployment).spec!.template.spec!.containers[0]!.env;
  assert.equal(env?.find((e) => e.name === 'MCP_LOK_POD_TOKEN'), { name: 'MCP_LOK_POD_TOKEN', valueFrom: { secretKeyRef: { name: 'guarded', key: 'token' } } });
  assert.not.ok(JSON.stringify(objects).includes('a'.repeat(32)), 'the machine\'s token is in the manifests');
  const image = catchError(() => exportKubernetes(ctx, input('guarded-img', { image: undefined })));
  assert.match(image.message, /a server's own image checks none in a cluster/);
  assert.ok(exportKubernetes(ctx, input('guarded-img', { image: undefined, allowFrom: [{ kind: 'pods', labels: { app: 'agent' } }] })).length > 0);
});

token.run();
