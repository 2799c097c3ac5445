import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { currentImageTag } from '../../src/app/images.js';
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
