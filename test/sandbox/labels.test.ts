import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildLabels, readOwner, LABEL, type LabelInput } from '../../src/sandbox/labels.js';

const build = suite('buildLabels');

build('marks every container as mcp-lok\'s with its exact name', () => {
  const labels = buildLabels({ name: 'srv', role: 'run', launcher: 'npx', transport: 'stdio', profile: 'stdio', packages: ['a@1.0.0', 'b@2.0.0'], image: 'img', owner: undefined });
  assert.is(labels['mcp-lok'], 'true');
  assert.is(labels['mcp-lok-name'], 'srv');
  assert.is(labels[LABEL.package], 'a@1.0.0 b@2.0.0');
  assert.is(labels[LABEL.transport], 'stdio');
  assert.is(labels[LABEL.ownerPid], undefined);
});

build('records the owner process so orphans can be found', () => {
  const labels = buildLabels({ name: 'srv', role: 'run', launcher: 'npx', transport: 'stdio', profile: 'stdio', packages: [], image: 'img', owner: { pid: 42, startTicks: 'b:1', host: 'h' } });
  assert.equal(readOwner(labels), { pid: 42, startTicks: 'b:1', host: 'h' });
  assert.is(labels[LABEL.package], undefined);
});

build('names the package pin a server runs from, and nothing when it floats or is an image', () => {
  const base: LabelInput = { name: 'srv', role: 'run', launcher: 'npx', transport: 'stdio', profile: 'stdio', packages: ['a@1.0.0'], image: 'img', owner: undefined };
  assert.is(buildLabels({ ...base, pin: '0123456789abcdef' })[LABEL.pin], '0123456789abcdef');
  assert.not.ok(LABEL.pin in buildLabels(base));
  assert.not.ok(LABEL.pin in buildLabels({ ...base, pin: undefined }));
});

build.run();

const owner = suite('readOwner');

for (const [title, labels] of [
  ['no owner labels', {}],
  ['a pid that is not a number', { [LABEL.ownerPid]: 'x', [LABEL.ownerHost]: 'h' }],
  ['a zero pid', { [LABEL.ownerPid]: '0', [LABEL.ownerHost]: 'h' }],
  ['no host', { [LABEL.ownerPid]: '5' }],
] as const) {
  owner(`returns nothing for ${title}`, () => {
    assert.is(readOwner(labels as Record<string, string>), undefined);
  });
}

owner.run();
