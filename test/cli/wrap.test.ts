// The question `mcp-lok wrap` asks in a terminal, in process: a context whose streams say they are a TTY.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

const shown = suite('mcp-lok wrap shows a config\'s own text as text');

async function output(values: Record<string, unknown>): Promise<string> {
  const home = mkdtempSync(join(tmpdir(), 'lok-wrap-escape-'));
  try {
    const project = join(home, 'project');
    mkdirSync(project);
    // A cloned project's config: a comment holding raw escapes, a server name holding a newline and ESC.
    writeFileSync(join(project, '.mcp.json'), '{\n  // \x1b]0;title\x07 \x1b[2K\x9b31m\n  "mcpServers": {\n    "evil\\nmcp-lok: all servers wrapped\\u001b[31m": {"command": "npx", "args": ["-y", "pkg"]}\n  }\n}\n');
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (c: Buffer) => { out += c.toString(); });
    const ctx = testContext({ home, cwd: project, env: { PATH: '' }, stdout });
    await runWrap(ctx, { positionals: [], values: { client: 'claude-code', project, 'no-install': true, ...values } });
    return out;
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

shown('--dry-run and --list print no control character of the file, and a name with a newline stays on its line', async () => {
  for (const values of [{ 'dry-run': true }, { list: true }]) {
    const out = await output(values);
    assert.not.match(out, /[\x00-\x08\x0b-\x1f\x7f-\x9f]/, JSON.stringify(out));
    assert.not.match(out, /^mcp-lok: all servers wrapped/m);
    assert.match(out, /evil\\x0amcp-lok: all servers wrapped\\x1b\[31m/);
  }
  assert.match(await output({ 'dry-run': true }), /\/\/ \\x1b\]0;title\\x07 \\x1b\[2K\\x9b31m/);
});

shown.run();
