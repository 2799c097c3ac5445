import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { judgeEngineVersion, readEngineVersion } from '../../src/app/doctor.js';
import { renderChecks } from '../../src/cli/commands/doctor.js';

const version = suite('engine versions');

version('reads Docker\'s and Podman\'s /version answers', () => {
  assert.equal(readEngineVersion({ Version: '20.10.24+dfsg1', ApiVersion: '1.41', Components: [{ Name: 'Engine', Version: '20.10.24' }] }, false), { kind: 'docker', version: '20.10.24+dfsg1', apiVersion: '1.41' });
  assert.equal(readEngineVersion({ Version: '4.3.1', ApiVersion: '1.41', Components: [{ Name: 'Podman Engine', Version: '4.3.1' }] }, false).kind, 'podman');
  assert.equal(readEngineVersion({}, true), { kind: 'podman', version: 'unknown', apiVersion: undefined });
});

const cases: Array<[string, 'docker' | 'podman', string, 'ok' | 'warn']> = [
  ['Docker 19.03 is too old', 'docker', '19.03.15', 'warn'],
  ['Docker 20.10 is fine', 'docker', '20.10.24+dfsg1', 'ok'],
  ['Docker 29 is fine', 'docker', '29.1.0', 'ok'],
  ['Podman 3 is too old', 'podman', '3.4.4', 'warn'],
  ['Podman 4.3 is fine', 'podman', '4.3.1', 'ok'],
];
for (const [name, kind, v, status] of cases) {
  version(name, () => {
    const judged = judgeEngineVersion({ kind, version: v, apiVersion: undefined });
    assert.is(judged.status, status);
    if (status === 'warn') assert.match(judged.fix ?? '', /^Update/);
  });
}

const render = suite('renderChecks');

render('prints each problem with its fix, and a verdict', () => {
  const text = renderChecks([
    { id: 'engine', title: 'Container engine', status: 'fail', summary: 'No container engine answered.', fix: 'Start Docker.' },
    { id: 'shim', title: 'mcp-lok-npx', status: 'ok', summary: '/usr/bin/mcp-lok-npx', fix: 'never shown' },
  ], false);
  assert.match(text, /PROBLEM\s+Container engine\s+No container engine answered\.\n\s+fix: Start Docker\./);
  assert.not.match(text, /never shown/);
  assert.match(text, /1 problem: servers will not run until it is fixed\.\n$/);
});

render('shows a summary\'s control characters as text, each check on its own line', () => {
  const text = renderChecks([
    { id: 'clients', title: 'Clients', status: 'warn', summary: 'Cursor 0/1 wrapped (not valid JSON\nok       Sandbox  forged \u001b[2K\u009b)', fix: 'Fix\r it.' },
  ], false);
  assert.not.match(text, /[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
  assert.not.match(text, /^ok {7}Sandbox/m);
  assert.match(text, /JSON\\x0aok {7}Sandbox  forged \\x1b\[2K\\x9b\)/);
});

version.run();
render.run();
