import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CATALOG, documentedFlags, type CompatServer, type DocumentedFlags } from '../../compat/catalog.js';
import { checkServer, classify, parseCompatArgs, renderMarkdown, selectServers, shortReason, type ColumnResult, type ServerResult } from '../../compat/outcome.js';

const lists = (...tools: string[]): ColumnResult => ({ ran: true, ok: true, tools });
const fails = (error: string, stderrLines = ''): ColumnResult => ({ ran: true, ok: false, tools: [], error, stderrLines });
const notRun: ColumnResult = { ran: false, ok: false, tools: [], error: 'no flags documented beyond the pure drop-in' };
const withProbe = (column: ColumnResult, ok: boolean, text = ''): ColumnResult => ({ ...column, probe: { ok, text } });
const SAME = { versions: { bare: '1.0.0', lok: '1.0.0' } };
const ENV_NEED: DocumentedFlags = { flags: ['-e', 'KEY'], need: '-e KEY', why: 'a variable from the config\'s env reaches the server only when named with -e' };

const args = suite('parseCompatArgs');

args('reads --only, --json, --check, --out and the timeouts in seconds', () => {
  const parsed = parseCompatArgs(['--only', 'a, @s/b', '--json', '--check', '--out=r.json', '--timeout', '30', '--install-timeout=120']);
  assert.equal(parsed, { only: ['a', '@s/b'], json: true, check: true, out: 'r.json', timeoutMs: 30_000, installTimeoutMs: 120_000, help: false });
});

args('defaults to every server, a table, and no check', () => {
  assert.equal(parseCompatArgs([]), { json: false, check: false, timeoutMs: 90_000, installTimeoutMs: 600_000, help: false });
});

args('refuses what it does not know, in one line naming the problem', () => {
  for (const [argv, pattern] of [
    [['--bogus'], /Unknown option `--bogus`/],
    [['--only'], /value after `--only`/],
    [['--only', '--json'], /value after `--only`/],
    [['--only', ','], /name servers/],
    [['--timeout', 'soon'], /`--timeout` to be a number of seconds.*`soon`/],
    [['--timeout', '0'], /number of seconds/],
  ] as const) assert.throws(() => parseCompatArgs([...argv]), pattern);
});

args.run();

const select = suite('selectServers');

select('keeps catalog order and refuses a name it does not know, listing the known ones', () => {
  const names = selectServers(CATALOG, ['@modelcontextprotocol/server-memory', '@modelcontextprotocol/server-filesystem']).map((s) => s.name);
  assert.equal(names, ['@modelcontextprotocol/server-filesystem', '@modelcontextprotocol/server-memory']);
  assert.throws(() => selectServers(CATALOG, ['server-memory']), /Not in the compat catalog: server-memory\. Known: @playwright\/mcp/);
  assert.is(selectServers(CATALOG, undefined).length, CATALOG.length);
});

select('the catalog holds at least 15 servers, most-downloaded first, some with keys, and server-filesystem with a folder', () => {
  assert.ok(CATALOG.length >= 15);
  assert.equal(CATALOG.map((s) => s.downloads), [...CATALOG.map((s) => s.downloads)].sort((a, b) => b - a));
  assert.ok(CATALOG.filter((s) => Object.keys(s.env ?? {}).length > 0).length >= 5);
  assert.ok(CATALOG.find((s) => s.name === '@modelcontextprotocol/server-filesystem')?.args.includes('{folder}'));
  assert.is(new Set(CATALOG.map((s) => s.name)).size, CATALOG.length);
});

select.run();

const documented = suite('documentedFlags');

documented('adds -e NAME for each env key, then the server\'s own flags', () => {
  const server: CompatServer = { name: 'x', downloads: 1, args: ['-y', 'x'], env: { A: '1', B: '2' }, documented: [{ flags: ['--profile', '{profile}'], need: 'a profile', why: 'folder' }] };
  assert.equal(documentedFlags(server).map((d) => d.flags), [['-e', 'A', '-e', 'B'], ['--profile', '{profile}']]);
  assert.is(documentedFlags(server)[0]?.need, '-e A -e B');
  assert.equal(documentedFlags({ name: 'y', downloads: 1, args: ['-y', 'y'] }), []);
});

documented.run();

const verdicts = suite('classify');

verdicts('a pure drop-in that lists what bare npx lists is a drop-in', () => {
  assert.is(classify({ ...SAME, columns: { pure: lists('a', 'b'), documented: notRun, bare: lists('a', 'b') }, needs: [] }).kind, 'drop-in');
});

verdicts('a server that lists only with the documented flags needs them, and says why', () => {
  const v = classify({ ...SAME, columns: { pure: fails('MCP error -32000: Connection closed', 'Error: GITHUB_PERSONAL_ACCESS_TOKEN environment variable is not set'), documented: lists('a'), bare: lists('a') }, needs: [ENV_NEED] });
  assert.is(v.kind, 'needs');
  assert.is(v.label, 'needs -e KEY');
  assert.match(v.why, /named with -e \(pure drop-in: Error: GITHUB_PERSONAL_ACCESS_TOKEN environment variable is not set\)/);
});

verdicts('a server whose probe fails only as a pure drop-in lists as a drop-in and needs the flags for writes', () => {
  const v = classify({ ...SAME, columns: { pure: withProbe(lists('a'), false, 'EROFS: read-only file system'), documented: withProbe(lists('a'), true), bare: withProbe(lists('a'), true) }, needs: [ENV_NEED] });
  assert.is(v.kind, 'needs');
  assert.match(v.label, /^lists as drop-in; writes need -e KEY/);
  assert.match(v.why, /probe fails: EROFS/);
});

verdicts('a different tool set fails, naming the difference', () => {
  const v = classify({ ...SAME, columns: { pure: lists('a', 'c'), documented: notRun, bare: lists('a', 'b') }, needs: [] });
  assert.is(v.kind, 'fails');
  assert.match(v.why, /lists different tools: \+c -b/);
});

verdicts('when bare npx lists nothing, nothing is compared and the reason is bare npx\'s', () => {
  const v = classify({ ...SAME, columns: { pure: lists('a'), documented: notRun, bare: fails('MCP error -32000: Connection closed', 'Error: getaddrinfo EAI_AGAIN api.mcp-lok.test') } , needs: [] });
  assert.is(v.kind, 'bare-fails');
  assert.match(v.why, /^bare npx, no network: Error: getaddrinfo EAI_AGAIN.*; mcp-lok-npx lists 1 tool$/);
});

verdicts('a timeout says so with the last stderr line', () => {
  const hung: ColumnResult = { ran: true, ok: false, tools: [], error: 'no answer to initialize within 90 s', timedOut: true, stderrLines: 'starting...\nwaiting for the browser' };
  assert.is(shortReason(hung), 'no answer to initialize within 90 s; last stderr: waiting for the browser');
});

verdicts('mcp-lok\'s own progress lines are not taken for the server\'s reason', () => {
  assert.is(shortReason(fails('Connection closed', 'mcp-lok: installing x in a sandbox...\nmcp-lok: ready: x@1 (2 s)\nFatal: invalid token')), 'Fatal: invalid token');
});

verdicts('another version than npx ran is its own verdict, whatever it lists', () => {
  const v = classify({ versions: { bare: '3.22.2', lok: '3.26.0' }, columns: { pure: lists('a', 'b'), documented: notRun, bare: lists('a') }, needs: [] });
  assert.is(v.kind, 'other-version');
  assert.is(v.why, 'mcp-lok-npx ran 3.26.0, npx 3.22.2; pure drop-in lists 2 tools to npx\'s 1');
});

verdicts('tools the sandbox refuses by design may be missing, and only those', () => {
  const refusedTools = { prefix: 'local-', why: 'they need the engine socket' };
  const v = classify({ ...SAME, refusedTools, columns: { pure: lists('a', 'b'), documented: notRun, bare: lists('a', 'b', 'local-x') }, needs: [] });
  assert.equal(v, { kind: 'drop-in', label: 'drop-in without local-* tools', why: 'they need the engine socket' });
  assert.is(classify({ ...SAME, refusedTools, columns: { pure: lists('a'), documented: notRun, bare: lists('a', 'b', 'local-x') }, needs: [] }).kind, 'fails');
  assert.is(classify({ ...SAME, refusedTools, columns: { pure: lists('a', 'b', 'local-x'), documented: notRun, bare: lists('a', 'b', 'local-x') }, needs: [] }).label, 'drop-in');
});

verdicts('the reason is the last thrown error, past stack frames, or a plea for a variable', () => {
  const stack = 'node:internal/modules/cjs/loader:1225\nError: Cannot find module \'../build/Release/keytar.node\'\n    at Module._resolveFilename (node:internal)\n  code: \'MODULE_NOT_FOUND\',\n}\nNode.js v20.20.2';
  assert.is(shortReason(fails('MCP error -32000: Connection closed', stack)), 'Error: Cannot find module \'../build/Release/keytar.node\'');
  assert.is(shortReason(fails('MCP error -32000: Connection closed', 'Please set SLACK_BOT_TOKEN and SLACK_TEAM_ID environment variables')), 'Please set SLACK_BOT_TOKEN and SLACK_TEAM_ID environment variables');
  assert.is(shortReason(fails('MCP error -32000: Connection closed', 'starting\nbye')), 'bye');
  assert.is(shortReason(fails('MCP error -32603: fetch failed', 'starting')), 'MCP error -32603: fetch failed');
});

verdicts.run();

const check = suite('checkServer');

check('meets the goal when the pure drop-in lists what bare npx lists', () => {
  assert.is(checkServer({ ...SAME, columns: { pure: lists('a'), documented: notRun, bare: lists('a') } }), undefined);
});

check('misses it when only the documented flags list them, unless the sandbox must refuse what the server is given', () => {
  const columns = { pure: fails('Connection closed'), documented: lists('a'), bare: lists('a') };
  assert.match(checkServer({ ...SAME, columns }) ?? '', /pure drop-in does not list what bare npx lists/);
  assert.is(checkServer({ ...SAME, columns, refused: 'a host folder' }), undefined);
  assert.match(checkServer({ ...SAME, columns: { ...columns, documented: lists('b') }, refused: 'a host folder' }) ?? '', /neither .* documented: \+b -a/);
});

check('misses it when the pure drop-in lists the tools but its probe call fails where npx\'s succeeds (server-memory\'s first write)', () => {
  const probed = (ok: boolean): ColumnResult => ({ ...lists('a'), probe: { ok, text: ok ? 'created' : 'EROFS: read-only file system' } });
  assert.match(checkServer({ ...SAME, columns: { pure: probed(false), documented: notRun, bare: probed(true) } }) ?? '', /probe fails where bare npx's succeeds \(EROFS/);
  assert.is(checkServer({ ...SAME, columns: { pure: probed(true), documented: notRun, bare: probed(true) } }), undefined);
});

check('misses it when bare npx lists nothing (the suite cannot compare)', () => {
  assert.match(checkServer({ ...SAME, columns: { pure: lists('a'), documented: notRun, bare: fails('install failed') } }) ?? '', /bare npx did not list/);
});

check('misses it when mcp-lok-npx runs another version', () => {
  assert.is(checkServer({ versions: { bare: '1', lok: '2' }, columns: { pure: lists('a'), documented: notRun, bare: lists('a') } }), 'mcp-lok-npx ran 2 where npx ran 1');
});

check.run();

const table = suite('renderMarkdown');

table('prints one row a server, with its columns, result and why, escaping pipes', () => {
  const result: ServerResult = {
    name: '@s/x', versions: { bare: '1.2.3', lok: '1.2.3' }, downloads: 5, args: [], env: ['KEY'], needs: [ENV_NEED], leaked: [],
    columns: { pure: fails('Connection closed', 'Error: a|b'), documented: lists('a'), bare: lists('a') },
    verdict: { kind: 'needs', label: 'needs -e KEY', why: 'x (pure drop-in: Error: a|b)' },
  };
  const lines = renderMarkdown([result]).split('\n');
  assert.is(lines.length, 3);
  assert.is(lines[2], '| `@s/x` | 1.2.3 | fails | 1 tool | 1 tool | needs -e KEY | x (pure drop-in: Error: a\\|b) |');
});

table.run();
