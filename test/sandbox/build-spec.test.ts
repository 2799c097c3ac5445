import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildContainerSpec, buildEnvList, type SandboxPlan } from '../../src/sandbox/build-spec.js';

const plan = (over: Partial<SandboxPlan> = {}): SandboxPlan => ({
  name: 'mcp-lok-test',
  image: 'mcp-lok/sandbox:abc',
  cmd: ['/opt/mcp-lok/pkgs/x/node_modules/.bin/server', '--flag'],
  env: { TOKEN: 'secret' },
  mounts: [{ type: 'volume', source: 'mcp-lok-pkg-1', target: '/opt/mcp-lok/pkgs', readOnly: true }],
  memoryBytes: 512 * 1024 * 1024,
  cpus: 1.5,
  pids: 256,
  nofile: 4096,
  network: 'none',
  labels: { 'mcp-lok': 'true' },
  interactive: true,
  autoRemove: true,
  ...over,
});

const spec = suite('buildContainerSpec');

spec('runs as a numeric non-root user with every capability dropped', () => {
  const body = buildContainerSpec(plan());
  assert.is(body.User, '1000:1000');
  assert.equal(body.HostConfig.CapDrop, ['ALL']);
  assert.equal(body.HostConfig.CapAdd, []);
  assert.is(body.HostConfig.Privileged, false);
  assert.ok(body.HostConfig.SecurityOpt.includes('no-new-privileges:true'));
});

spec('keeps the root filesystem read-only with noexec tmpfs for /tmp and home', () => {
  const body = buildContainerSpec(plan());
  assert.is(body.HostConfig.ReadonlyRootfs, true);
  assert.match(body.HostConfig.Tmpfs['/tmp'] ?? '', /noexec/);
  assert.match(body.HostConfig.Tmpfs['/home/node'] ?? '', /noexec/);
  assert.match(body.HostConfig.Tmpfs['/home/node'] ?? '', /uid=1000,gid=1000/);
});

spec('sets init, pids, memory without extra swap, cpus and open-file limits', () => {
  const body = buildContainerSpec(plan());
  assert.is(body.HostConfig.Init, true);
  assert.is(body.HostConfig.PidsLimit, 256);
  assert.is(body.HostConfig.Memory, 512 * 1024 * 1024);
  assert.is(body.HostConfig.MemorySwap, body.HostConfig.Memory);
  assert.is(body.HostConfig.NanoCpus, 1.5e9);
  assert.equal(body.HostConfig.Ulimits, [{ Name: 'nofile', Soft: 4096, Hard: 4096 }]);
});

spec('speaks Podman where it differs: a process-count limit and its own tmpfs owner option', () => {
  const body = buildContainerSpec(plan({ podman: true }));
  assert.equal(body.HostConfig.Ulimits[1], { Name: 'nproc', Soft: 4096, Hard: 4096 });
  assert.match(body.HostConfig.Tmpfs['/home/node'] ?? '', /,U,/);
  assert.not.match(body.HostConfig.Tmpfs['/home/node'] ?? '', /uid=/);
  assert.is(buildContainerSpec(plan()).HostConfig.Ulimits.length, 1);
});

spec('mounts a home volume in place of the in-memory home, never filled from the image', () => {
  const body = buildContainerSpec(plan({ home: { volume: 'mcp-lok-home-x-0123', noexec: true } }));
  assert.is(body.HostConfig.Tmpfs['/home/node'], undefined);
  assert.match(body.HostConfig.Tmpfs['/tmp'] ?? '', /noexec/);
  assert.equal(body.HostConfig.Mounts[0], { Type: 'volume', Source: 'mcp-lok-home-x-0123', Target: '/home/node', ReadOnly: false, VolumeOptions: { NoCopy: true } });
  assert.is(body.HostConfig.Binds, undefined);
  // Still read-only everywhere else, no capability, nobody's root.
  assert.is(body.HostConfig.ReadonlyRootfs, true);
  assert.equal(body.HostConfig.CapAdd, []);
  assert.is(body.User, '1000:1000');
});

spec('under Podman mounts the home volume noexec, nosuid and nodev as an option of the mount', () => {
  const body = buildContainerSpec(plan({ podman: true, home: { volume: 'mcp-lok-home-x-0123', noexec: true } }));
  assert.equal(body.HostConfig.Binds, ['mcp-lok-home-x-0123:/home/node:rw,noexec,nosuid,nodev,nocopy']);
  assert.is(body.HostConfig.Mounts.some((m) => m.Target === '/home/node'), false);
  assert.is(body.HostConfig.Tmpfs['/home/node'], undefined);
  const plain = buildContainerSpec(plan({ podman: true, home: { volume: 'v', noexec: false } }));
  assert.equal(plain.HostConfig.Binds, ['v:/home/node:rw,nosuid,nodev,nocopy']);
});

spec('mounts a home volume elsewhere (to make it) and keeps the in-memory home then', () => {
  const body = buildContainerSpec(plan({ home: { volume: 'v', noexec: true }, homeTarget: '/opt/mcp-lok/home-init' }));
  assert.match(body.HostConfig.Tmpfs['/home/node'] ?? '', /noexec/);
  assert.equal(body.HostConfig.Mounts[0], { Type: 'volume', Source: 'v', Target: '/opt/mcp-lok/home-init', ReadOnly: false, VolumeOptions: { NoCopy: true } });
});

spec('has no network, no published ports and no engine socket by default', () => {
  const body = buildContainerSpec(plan());
  assert.is(body.HostConfig.NetworkMode, 'none');
  assert.is(body.NetworkDisabled, true);
  assert.equal(body.HostConfig.PortBindings, {});
  assert.equal(body.ExposedPorts, {});
  assert.is(body.HostConfig.PublishAllPorts, false);
  assert.ok(body.HostConfig.Mounts.every((m) => !m.Source.includes('docker.sock')));
});

spec('uses the bridge network only when the plan asks for it', () => {
  const body = buildContainerSpec(plan({ network: 'bridge' }));
  assert.is(body.HostConfig.NetworkMode, 'bridge');
  assert.is(body.NetworkDisabled, false);
});

spec('ignores the image entrypoint and runs the command as given', () => {
  const body = buildContainerSpec(plan());
  assert.equal(body.Entrypoint, []);
  assert.equal(body.Cmd, ['/opt/mcp-lok/pkgs/x/node_modules/.bin/server', '--flag']);
});

spec('keeps stdin open once for an attached client, and closed otherwise', () => {
  const open = buildContainerSpec(plan());
  assert.is(open.OpenStdin, true);
  assert.is(open.StdinOnce, true);
  assert.is(open.Tty, false);
  const closed = buildContainerSpec(plan({ interactive: false }));
  assert.is(closed.OpenStdin, false);
  assert.is(closed.AttachStdin, false);
});

spec('mounts exactly the planned mounts with their read-only flags', () => {
  const body = buildContainerSpec(plan());
  assert.equal(body.HostConfig.Mounts, [{ Type: 'volume', Source: 'mcp-lok-pkg-1', Target: '/opt/mcp-lok/pkgs', ReadOnly: true }]);
});

spec('mounts another container\'s volumes only when the plan names it (the egress sidecar\'s socket, read-only)', () => {
  assert.is('VolumesFrom' in buildContainerSpec(plan()).HostConfig, false);
  assert.is('VolumesFrom' in buildContainerSpec(plan({ volumesFrom: [] })).HostConfig, false);
  const body = buildContainerSpec(plan({ volumesFrom: ['abc123:ro'] }));
  assert.equal(body.HostConfig.VolumesFrom, ['abc123:ro']);
  // The server still has no network and no other mounts: the socket is its only way out.
  assert.is(body.HostConfig.NetworkMode, 'none');
  assert.equal(body.HostConfig.Mounts, [{ Type: 'volume', Source: 'mcp-lok-pkg-1', Target: '/opt/mcp-lok/pkgs', ReadOnly: true }]);
});

spec('gives an anonymous volume (no name) to a mount without a source', () => {
  const body = buildContainerSpec(plan({ mounts: [{ type: 'volume', source: '', target: '/run/mcp-lok', readOnly: false }] }));
  assert.equal(body.HostConfig.Mounts, [{ Type: 'volume', Source: '', Target: '/run/mcp-lok', ReadOnly: false }]);
});

spec('does not let the engine keep a copy of the traffic in its logs', () => {
  assert.is(buildContainerSpec(plan()).HostConfig.LogConfig.Type, 'none');
});

spec.run();

const env = suite('buildEnvList');

env('gives the fixed set plus the user names and nothing else', () => {
  const list = buildEnvList({ TOKEN: 'x' });
  const names = list.map((e) => e.split('=')[0]).sort();
  assert.equal(names, ['HOME', 'NO_UPDATE_NOTIFIER', 'PATH', 'TMPDIR', 'TOKEN', 'npm_config_audit', 'npm_config_fund', 'npm_config_update_notifier']);
});

env('lets a user value replace a fixed one', () => {
  const list = buildEnvList({ HOME: '/elsewhere' });
  assert.ok(list.includes('HOME=/elsewhere'));
  assert.is(list.filter((e) => e.startsWith('HOME=')).length, 1);
});

env('keeps values with = signs and newlines intact', () => {
  assert.ok(buildEnvList({ A: 'x=y\nz' }).includes('A=x=y\nz'));
});

env.run();
