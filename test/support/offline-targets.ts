// Finds network addresses in the test tree that are not this machine's own: IP literals and
// host names in string literals (and in shell scripts' lines). Tests may connect only to
// loopback, the engine's bridge gateway (found at run time, never written down) and their
// own containers and listeners; an address outside that set in a file that can open
// connections must say on its line, or the line above, why no packet goes to it:
// `lok-offline: <reason>` (say, refused by mcp-lok's egress proxy before any packet). A file
// whose addresses are data throughout (Host headers sent to a proxy on loopback) lists them
// once: `lok-offline-data: evil.example, 10.0.0.9; <reason>`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import ts from 'typescript';

export interface Finding { file: string; line: number; address: string; text: string }

/** Names that mean this machine, or that only the tests' own resolver answers. */
const ALLOWED_NAMES = [/^localhost$/i, /\.localhost$/i, /^host\.docker\.internal$/i, /(^|\.)mcp-lok\.test$/i];

const TLDS = 'com|org|net|io|dev|ai|app|co|cloud|internal|example|test|invalid|local|me|xyz|info|gov|edu|us|uk|de|fr|jp|cn|ru';
const IPV4 = /(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3})(?![\w.])/g;
const IPV6 = /(?<![\w:.])((?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4})(?![\w:.])/gi;
const URL_HOST = /\b(?:https?|wss?|tcp|ftp):\/\/(\[[^\]]+\]|[^/:'"`\s?#]+)/gi;
const HOST_NAME = new RegExp(`(?<![\\w.@/-])((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\\.)+(?:${TLDS}))(?![\\w-]|\\.[a-z0-9])`, 'gi');

/** Returns whether an IPv4 literal is this machine's own by definition: loopback, or the unspecified address. */
function isLocalIPv4(address: string): boolean {
  const parts = address.split('.').map(Number);
  if (parts.some((p) => p > 255)) return true; // not an address at all (a version number)
  return parts[0] === 127 || address === '0.0.0.0';
}

/** Returns the addresses in a piece of text that are not this machine's own. */
export function findForeignAddresses(text: string): string[] {
  const found = new Set<string>();
  for (const m of text.matchAll(IPV4)) if (!isLocalIPv4(m[1] ?? '')) found.add(m[1] ?? '');
  for (const m of text.matchAll(IPV6)) {
    const a = (m[1] ?? '').toLowerCase();
    const colons = a.split(':').length - 1;
    if (!/[0-9a-f]/.test(a) && a !== '::') continue;
    if (!a.includes('::') && colons !== 7) continue;
    if (a === '::' || a === '::1' || /^::ffff:127\./.test(a)) continue;
    found.add(a);
  }
  const hosts = [...text.matchAll(URL_HOST)].map((m) => (m[1] ?? '').replace(/^\[|\]$/g, ''));
  hosts.push(...[...text.matchAll(HOST_NAME)].map((m) => m[1] ?? ''));
  for (const host of hosts) {
    if (host === '' || host.includes('${')) continue;
    if (/^[\d.]+$/.test(host) ? isLocalIPv4(host) : host.includes(':') ? ['::1', '::'].includes(host) : ALLOWED_NAMES.some((r) => r.test(host))) continue;
    found.add(host.toLowerCase());
  }
  return [...found];
}

/** Returns each string literal's text with its 1-based line, for JavaScript and TypeScript sources. */
function stringLiterals(file: string, source: string): Array<{ line: number; text: string }> {
  const parsed = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, file.endsWith('.ts') ? ts.ScriptKind.TS : ts.ScriptKind.JS);
  const out: Array<{ line: number; text: string }> = [];
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteralLike(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) {
      out.push({ line: parsed.getLineAndCharacterOfPosition(node.getStart(parsed)).line + 1, text: node.text });
    }
    ts.forEachChild(node, visit);
  };
  visit(parsed);
  return out;
}

const SCRIPT = new Set(['.ts', '.js', '.mjs', '.cjs']);
const TEXT = new Set(['.sh', '.json', '.yml', '.yaml', '']);

/** Returns the foreign addresses in one file that carry no `lok-offline:` reason. */
export function scanSource(file: string, source: string): Finding[] {
  const lines = source.split('\n');
  const data = new Set<string>();
  for (const m of source.matchAll(/lok-offline-data:([^;\n]*);\s*\S/g)) for (const a of (m[1] ?? '').split(',')) data.add(a.trim().toLowerCase());
  const excused = (line: number): boolean => /lok-offline:\s*\S/.test(lines[line - 1] ?? '') || /lok-offline:\s*\S/.test(lines[line - 2] ?? '');
  const pieces = SCRIPT.has(extname(file))
    ? stringLiterals(file, source)
    : lines.map((text, i) => ({ line: i + 1, text })).filter((l) => !/^\s*#/.test(l.text));
  const findings: Finding[] = [];
  for (const piece of pieces) {
    for (const address of findForeignAddresses(piece.text)) {
      if (!excused(piece.line) && !data.has(address)) findings.push({ file, line: piece.line, address, text: (lines[piece.line - 1] ?? '').trim().slice(0, 160) });
    }
  }
  return findings;
}

/** Returns every file under `dir` whose kind can hold an address, skipping build output and dependencies. */
export function listSourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name === '.git') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listSourceFiles(path));
    else if (SCRIPT.has(extname(name)) || TEXT.has(extname(name))) out.push(path);
  }
  return out;
}

/** Scans files (paths relative to `root`), skipping those whose relative path is in `pure`. */
export function scanTree(root: string, dirs: string[], pure: ReadonlyMap<string, string>): Finding[] {
  const findings: Finding[] = [];
  for (const dir of dirs) {
    let files: string[] = [];
    try { files = listSourceFiles(join(root, dir)); } catch { continue; }
    for (const path of files) {
      const file = relative(root, path);
      if (pure.has(file)) continue;
      findings.push(...scanSource(file, readFileSync(path, 'utf8')));
    }
  }
  return findings;
}
