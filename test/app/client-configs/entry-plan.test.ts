import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readJsonDocument } from '../../../src/app/client-configs/json-document.js';
import { decideUnwrap, decideWrap, isShimCommand, npxPrefixLength, wrapEdits, type ShimCommand } from '../../../src/app/client-configs/entry-plan.js';
import { applyEdits } from '../../../src/app/client-configs/text-edits.js';
import type { WrapRecord } from '../../../src/state/wrap-records.js';

const SHIM: ShimCommand = { command: '/usr/local/bin/mcp-lok-npx', prefix: [] };
const WINDOWS_SHIM: ShimCommand = { command: 'C:\\Program Files\\nodejs\\node.exe', prefix: ['C:\\npm\\node_modules\\mcp-lok\\bin\\mcp-lok-npx'] };

function load(entry: string): { text: string; doc: ReturnType<typeof readJsonDocument> } {
  const text = `{\n  "mcpServers": {\n    "s": ${entry}\n  }\n}\n`;
  return { text, doc: readJsonDocument(text, { format: 'json', serversKey: 'mcpServers' }) };
}

function decide(entry: string, shim = SHIM): ReturnType<typeof decideWrap> {
  const { doc } = load(entry);
  const found = doc.entries[0];
  if (!found) throw new Error('no entry');
  return decideWrap(found, shim, {});
}

const wrap = suite('decideWrap');

const wrapped: Array<[string, string, string[]]> = [
  ['npx', '{"command": "npx", "args": ["-y", "pkg"]}', ['-y', 'pkg']],
  ['npx by its full path', '{"command": "/opt/node/bin/npx", "args": ["pkg", "--flag"]}', ['pkg', '--flag']],
  ['npx.cmd on Windows', '{"command": "C:\\\\Program Files\\\\nodejs\\\\npx.cmd", "args": ["-y", "pkg"]}', ['-y', 'pkg']],
  ['cmd /c npx', '{"command": "cmd", "args": ["/c", "npx", "-y", "pkg"]}', ['-y', 'pkg']],
  ['each env key as -e, in order', '{"command": "npx", "args": ["-y", "pkg"], "env": {"B_KEY": "1", "A_KEY": "2"}}', ['-e', 'B_KEY', '-e', 'A_KEY', '-y', 'pkg']],
  ['npx options kept', '{"command": "npx", "args": ["--yes", "--package", "pkg", "pkg-cli", "--port", "1"]}', ['--yes', '--package', 'pkg', 'pkg-cli', '--port', '1']],
  ['PATH and npm settings not forwarded', '{"command": "npx", "args": ["pkg"], "env": {"PATH": "/x", "HOME": "/h", "npm_config_registry": "r", "KEY": "k"}}', ['-e', 'KEY', 'pkg']],
];

for (const [name, entry, args] of wrapped) {
  wrap(`wraps ${name}`, () => {
    const decision = decide(entry);
    assert.is(decision.kind, 'wrap');
    if (decision.kind !== 'wrap') return;
    assert.is(decision.command, SHIM.command);
    assert.equal(decision.args, args);
  });
}

const skipped: Array<[string, string, RegExp]> = [
  ['node', '{"command": "node", "args": ["server.js"]}', /runs node, not npx/],
  ['docker', '{"command": "docker", "args": ["run", "-i", "img"]}', /mcp-lok run IMAGE/],
  ['uvx', '{"command": "uvx", "args": ["mcp-server-time"]}', /Python/],
  ['a shell', '{"command": "bash", "args": ["-c", "npx pkg"]}', /runs bash, not npx/],
  ['a URL', '{"type": "http", "url": "http://127.0.0.1:1/mcp"}', /connects to a URL/],
  ['npx without a package', '{"command": "npx", "args": []}', /without a package/],
  ['npx -c (a shell command)', '{"command": "npx", "args": ["-c", "echo hi"]}', /mcp-lok-npx would refuse its arguments: The npx option `-c`/],
  ['a git package', '{"command": "npx", "args": ["github:user/repo"]}', /mcp-lok-npx would refuse its arguments/],
  ['args that are not strings', '{"command": "npx", "args": ["pkg", 3]}', /not a list of strings/],
];

for (const [name, entry, reason] of skipped) {
  wrap(`leaves ${name} alone, saying why`, () => {
    const decision = decide(entry);
    assert.is(decision.kind, 'skip');
    if (decision.kind === 'skip') assert.match(decision.reason, reason);
  });
}

wrap('sees a wrapped entry as wrapped, by any path or as node\'s script', () => {
  assert.is(decide('{"command": "/x/mcp-lok-npx", "args": ["pkg"]}').kind, 'wrapped');
  assert.ok(isShimCommand('C:\\nodejs\\node.exe', ['C:\\npm\\mcp-lok\\bin\\mcp-lok-npx', 'pkg']));
  assert.not.ok(isShimCommand('node', ['server.js']));
});

wrap('on Windows, starts node with the script first', () => {
  const decision = decide('{"command": "npx", "args": ["pkg"], "env": {"K": "v"}}', WINDOWS_SHIM);
  assert.equal(decision.kind === 'wrap' && [decision.command, decision.args], [WINDOWS_SHIM.command, [...WINDOWS_SHIM.prefix, '-e', 'K', 'pkg']]);
});

wrap('notes what it cannot forward: bad names, envFile', () => {
  const decision = decide('{"command": "npx", "args": ["pkg"], "env": {"MY-VAR": "x"}, "envFile": "${workspaceFolder}/.env"}');
  assert.is(decision.kind, 'wrap');
  if (decision.kind === 'wrap') {
    assert.equal(decision.forwarded, []);
    assert.match(decision.notes.join('\n'), /"MY-VAR" is not a name/);
    assert.match(decision.notes.join('\n'), /envFile/);
  }
});

wrap('leaves mcp-lok-npx\'s own MCP_LOK_* settings to mcp-lok-npx: never forwarded to the server with -e', () => {
  const decision = decide('{"command": "npx", "args": ["-y", "pkg"], "env": {"MCP_LOK_PROFILE": "network", "mcp_lok_memory": "2g", "KEY": "k"}}');
  assert.is(decision.kind, 'wrap');
  if (decision.kind !== 'wrap') return;
  assert.equal(decision.args, ['-e', 'KEY', '-y', 'pkg']);
  assert.equal(decision.forwarded, ['KEY']);
  assert.match(decision.notes.join('\n'), /MCP_LOK_PROFILE is a setting of mcp-lok-npx, which reads it from this env: not passed to the server/);
});

wrap('counts the leading arguments that start npx', () => {
  assert.equal([npxPrefixLength('npx', []), npxPrefixLength('CMD.EXE', ['/C', 'npx.cmd', 'p']), npxPrefixLength('cmd', ['/c', 'node']), npxPrefixLength('npm', ['exec'])], [0, 2, undefined, undefined]);
});

const unwrap = suite('decideUnwrap');

function wrapOnce(entry: string): { original: string; text: string; record: WrapRecord } {
  const { text, doc } = load(entry);
  const found = doc.entries[0];
  const decision = found && decideWrap(found, SHIM, {});
  if (!found || decision?.kind !== 'wrap') throw new Error('not wrappable');
  const { edits, record } = wrapEdits(text, doc, found, decision);
  return { original: text, text: applyEdits(text, edits), record: { ...record, file: '/f', client: 'cursor', at: '' } };
}

function undo(text: string, record: WrapRecord | undefined): { decision: ReturnType<typeof decideUnwrap>; result: string | undefined } {
  const doc = readJsonDocument(text, { format: 'json', serversKey: 'mcpServers' });
  const found = doc.entries[0];
  if (!found) throw new Error('no entry');
  const decision = decideUnwrap(text, doc, found, record);
  return { decision, result: decision.kind === 'restore' ? applyEdits(text, decision.edits) : undefined };
}

unwrap('puts back the very bytes the wrap replaced', () => {
  const { original, text, record } = wrapOnce('{ "command": "npx",   "args": [ "-y",\n      "pkg" ], "env": {"K": "v"} }');
  const { decision, result } = undo(text, record);
  assert.is(decision.kind === 'restore' && decision.how, 'exact');
  assert.is(result, original);
});

unwrap('puts back cmd /c npx', () => {
  const { original, text, record } = wrapOnce('{"command": "cmd", "args": ["/c", "npx", "-y", "pkg"]}');
  assert.is(undo(text, record).result, original);
});

unwrap('keeps arguments the user added after the wrap, removing only what mcp-lok added', () => {
  const { text, record } = wrapOnce('{"command": "npx", "args": ["-y", "pkg"], "env": {"K": "v"}}');
  const edited = text.replace('"pkg"]', '"pkg", "--verbose"]');
  const { decision, result } = undo(edited, record);
  assert.is(decision.kind === 'restore' && decision.how, 'kept-changes');
  assert.ok(result?.includes('"command": "npx", "args": ["-y", "pkg", "--verbose"]'), result);
});

unwrap('leaves an entry whose front arguments or command the user changed', () => {
  const { text, record } = wrapOnce('{"command": "npx", "args": ["-y", "pkg"], "env": {"K": "v"}}');
  assert.is(undo(text.replace('"-e", "K"', '"-e", "OTHER"'), record).decision.kind, 'skip');
  assert.is(undo(text.replace(SHIM.command, '/elsewhere/mcp-lok-npx'), record).decision.kind, 'skip');
});

unwrap('without a record, undoes exactly what wrap writes and nothing else', () => {
  const { text } = wrapOnce('{"command": "npx", "args": ["-y", "pkg"], "env": {"K": "v"}}');
  const { decision, result } = undo(text, undefined);
  assert.is(decision.kind === 'restore' && decision.how, 'derived');
  assert.ok(result?.includes('"command": "npx", "args": ["-y", "pkg"]'), result);
  const own = undo(load('{"command": "mcp-lok-npx", "args": ["--profile", "network", "pkg"]}').text, undefined);
  assert.is(own.decision.kind, 'skip');
  assert.is(undo(load('{"command": "npx", "args": ["pkg"]}').text, undefined).decision.kind, 'not-wrapped');
});

wrap.run();
unwrap.run();
