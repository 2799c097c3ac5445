// Test traffic stays on this machine: no test, benchmark, fixture or script in the repository
// names an outside address as a connection target.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT } from '../e2e/harness.js';
import { findForeignAddresses, scanSource, scanTree } from '../support/offline-targets.js';

/**
 * Files of pure unit tables: the addresses in them are data handed to functions that classify
 * or parse them, and nothing in the file opens a connection.
 */
const PURE_TABLES = new Map([
  ['test/egress/match.test.ts', 'classifies addresses and matches allowlists (pure functions)'],
  ['test/egress/http-request.test.ts', 'reads proxy request heads from strings (pure)'],
  ['test/egress/tls-hello.test.ts', 'reads TLS ClientHellos built in memory (an in-memory stream pair, no socket)'],
  ['test/sandbox/profile-validate.test.ts', 'validates profile JSON (pure)'],
  ['test/http/host-check.test.ts', 'checks Host and Origin header values (pure)'],
  ['test/http/framing.test.ts', 'parses request heads from strings (pure)'],
  ['test/request/package-spec.test.ts', 'parses package specs (pure)'],
  ['test/prepare/npm-config.test.ts', 'reads npm settings from files (no network)'],
  ['test/request/options.test.ts', 'validates option values (pure)'],
  ['test/request/option-values.test.ts', 'normalizes option values (pure)'],
  ['test/format-error.test.ts', 'redacts secrets in error text (pure)'],
  ['test/engine/discover.test.ts', 'parses engine endpoint strings (pure)'],
  ['test/cli/run-args.test.ts', 'parses run and start arguments (pure)'],
  ['test/cli/start.test.ts', 'derives server names from sources (pure)'],
  ['test/prepare/images.test.ts', 'shortens engine error messages (pure)'],
  ['test/prepare/install.test.ts', 'computes install keys (pure)'],
  ['test/request/npx-args.test.ts', 'parses npx arguments (pure)'],
  ['test/sandbox/profile.test.ts', 'decides network plans from profiles (pure)'],
  ['test/manager/start-request.test.ts', 'builds start requests from tool input (pure; nothing starts)'],
  ['test/request/recorded-spec.test.ts', 'checks recorded start requests (pure; nothing starts)'],
  ['test/app/plan.test.ts', 'plans servers from requests and facts (pure; nothing starts)'],
  ['test/cli/logs.test.ts', 'prints log files the test wrote (no network)'],
  ['test/control-chars.test.ts', 'escapes control characters (pure)'],
  ['test/repo/offline-targets.test.ts', 'the scanner\'s own examples'],
  ['test/export/manifests.test.ts', 'builds and validates manifests (pure; image names and allowlists are data)'],
  ['test/export/plan.test.ts', 'plans exports (pure; image names and allowlists are data)'],
  ['test/app/export.test.ts', 'exports from a record the test wrote (pure; image names are data)'],
  ['test/cli/export.test.ts', 'parses export arguments; the bin it runs prints manifests and connects nowhere'],
  ['test/cli/image.test.ts', 'parses image build arguments; every refusal comes before the engine is asked (pure; nothing is pushed)'],
  ['test/engine/registry-auth.test.ts', 'finds registry credentials in config objects (pure; no helper runs)'],
  ['test/pod/config.test.ts', 'reads pod settings and route tables from strings (pure)'],
]);

const scan = suite('offline targets');

scan('finds outside IP literals and host names, and lets this machine\'s own pass', () => {
  assert.equal(findForeignAddresses('connect 1.1.1.1:443 and 8.8.8.8'), ['1.1.1.1', '8.8.8.8']);
  assert.equal(findForeignAddresses('http://169.254.169.254/latest'), ['169.254.169.254']);
  assert.equal(findForeignAddresses('https://registry.npmjs.org/'), ['registry.npmjs.org']);
  assert.equal(findForeignAddresses('CONNECT example.com:443'), ['example.com']);
  assert.equal(findForeignAddresses('[2001:db8::1]:8443'), ['2001:db8::1']);
  assert.equal(findForeignAddresses('127.0.0.1 0.0.0.0 ::1 localhost http://localhost:3000/ host.docker.internal probe.mcp-lok.test'), []);
  assert.equal(findForeignAddresses('semver@7.6.3 node 20.19.0 probe.js escape.test.js 12:30:45'), []);
});

scan('flags a connection target without a reason, and accepts one with `lok-offline:`', () => {
  const bare = "net.connect(443, '1.1.1.1');\n";
  assert.equal(scanSource('x.ts', bare).map((f) => f.address), ['1.1.1.1']);
  const excused = "// lok-offline: refused by mcp-lok's egress proxy before any packet\nproxy.connect('169.254.169.254:80');\n";
  assert.equal(scanSource('x.ts', excused), []);
  const shell = "curl https://example.com/x\n# a comment naming 8.8.8.8 is not a target\n";
  assert.equal(scanSource('x.sh', shell).map((f) => f.address), ['example.com']);
  const data = "// lok-offline-data: evil.example; a Host header sent to loopback\nsend({ host: 'evil.example' });\nconnect('evil.example');\n";
  assert.equal(scanSource('x.ts', data), []);
  assert.equal(scanSource('x.ts', "// lok-offline-data: evil.example\nsend('evil.example');\n").length, 1, 'a declaration without a reason excuses nothing');
  // Comments and regular expressions are not strings.
  assert.equal(scanSource('x.ts', "// 8.8.8.8\nconst r = /1\\.1\\.1\\.1/;\n"), []);
});

scan('no test, fixture, benchmark, compat suite or script names an outside address as a target', () => {
  const findings = scanTree(ROOT, ['test', 'bench', 'compat', 'scripts', '.ci'], PURE_TABLES);
  assert.equal(findings.map((f) => `${f.file}:${f.line} ${f.address}: ${f.text}`), []);
});

scan.run();
