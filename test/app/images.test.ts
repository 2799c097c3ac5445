import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { currentImageTag, describeHomeOwner, describeHomes } from '../../src/app/images.js';
import { computeImageTag, DEFAULT_BASE_IMAGE, DOCKER_DIR, EGRESS_CODE_DIR, readContextFiles } from '../../src/prepare/images.js';

const tag = suite('currentImageTag');

tag('is the tag the start path builds: the shipped docker folder and egress code on the default base', () => {
  assert.match(currentImageTag(), /^mcp-lok\/sandbox:[0-9a-f]{16}$/);
  assert.is(currentImageTag(), computeImageTag(readContextFiles(DOCKER_DIR, EGRESS_CODE_DIR), DEFAULT_BASE_IMAGE));
});

tag('is the same on every call (reading the files changes nothing)', () => {
  assert.is(currentImageTag(), currentImageTag());
});

tag.run();

const homes = suite('describeHomes');
const vol = (name: string, labels: Record<string, string>) => ({ Name: name, Labels: { 'mcp-lok': 'true', ...labels } });

homes('lists each home with what it belongs to, its user and whether it is noexec; the files behind one are part of it', () => {
  const volumes = [
    vol('mcp-lok-pkg-1', { 'mcp-lok-kind': 'packages', 'mcp-lok-package': 'x@1' }),
    vol('mcp-lok-home-memory-1', { 'mcp-lok-kind': 'home', 'mcp-lok-package': '@modelcontextprotocol/server-memory', 'mcp-lok-name': 'memory', 'mcp-lok-home-user': '1000:1000', 'mcp-lok-home-noexec': 'true' }),
    vol('mcp-lok-home-memory-1-data', { 'mcp-lok-kind': 'home-data', 'mcp-lok-home-of': 'mcp-lok-home-memory-1', 'mcp-lok-home-user': '1000:1000' }),
    vol('mcp-lok-home-app-2', { 'mcp-lok-kind': 'home', 'mcp-lok-image': 'org/app', 'mcp-lok-home-user': '501:20', 'mcp-lok-home-noexec': 'false' }),
    vol('mcp-lok-home-gone-3-data', { 'mcp-lok-kind': 'home-data', 'mcp-lok-home-of': 'mcp-lok-home-gone-3', 'mcp-lok-home-user': '1000:1000' }),
  ];
  const listed = describeHomes(volumes);
  assert.equal(listed, [
    { name: 'mcp-lok-home-app-2', package: null, image: 'org/app', server: null, user: '501:20', noexec: false, agent: false },
    { name: 'mcp-lok-home-gone-3-data', package: null, image: null, server: null, user: '1000:1000', noexec: false, agent: false },
    { name: 'mcp-lok-home-memory-1', package: '@modelcontextprotocol/server-memory', image: null, server: 'memory', user: '1000:1000', noexec: true, agent: false },
  ]);
  assert.equal(listed.map(describeHomeOwner), ['org/app', 'the files of a home that is gone', '@modelcontextprotocol/server-memory, --name memory']);
});

homes.run();
