// The question `mcp-lok wrap` asks in a terminal, in process: a context whose streams say they are a TTY.
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runWrap } from '../../src/cli/commands/wrap.js';
import { testContext } from '../support/context.js';

const FIXTURE = join(process.cwd(), 'test', 'fixtures', 'client-configs', 'home', '.cursor', 'mcp.json');

function terminal(): PassThrough & { isTTY: boolean } {
  return Object.assign(new PassThrough(), { isTTY: true });
}

async function answer(reply: string): Promise<{ code: number; file: string; asked: string }> {
  const home = mkdtempSync(join(tmpdir(), 'lok-wrap-ask-'));
  try {
    cpSync(FIXTURE, join(home, '.cursor', 'mcp.json'));
    const stdin = terminal();
    const stderr = terminal();
    let asked = '';
    stderr.on('data', (c: Buffer) => { asked += c.toString(); if (asked.includes('[y/N]')) stdin.write(reply); });
    const ctx = testContext({ home, env: { PATH: '' }, stdin, stderr, stdout: new PassThrough() });
    const code = await runWrap(ctx, { positionals: [], values: { client: 'cursor', 'no-install': true } });
    return { code, file: readFileSync(join(home, '.cursor', 'mcp.json'), 'utf8'), asked };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

const ask = suite('mcp-lok wrap in a terminal');

ask('shows the change, asks, and writes on yes', async () => {
  const { code, file, asked } = await answer('y\n');
  assert.is(code, 0);
  assert.match(asked, /context7 +would be wrapped/);
  assert.match(asked, /^\+\t\t\t"command": ".*mcp-lok-npx",$/m);
  assert.ok(file.includes('mcp-lok-npx'));
});

ask('writes nothing on no (or anything but yes)', async () => {
  const original = readFileSync(FIXTURE, 'utf8');
  for (const reply of ['n\n', '\n', 'sure\n']) {
    const { code, file } = await answer(reply);
    assert.is(code, 1);
    assert.is(file, original);
  }
});

ask.run();
