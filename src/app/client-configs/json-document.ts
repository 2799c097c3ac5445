// JSON and JSONC (VS Code and Zed allow comments and trailing commas) read with jsonc-parser's
// syntax tree, so every value comes with its offset and length in the text.
import { findNodeAtLocation, getNodeValue, parse, parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser';
import type { FileLayout } from './clients.js';
import type { ConfigDocument, FoundEntry } from './document.js';
import type { Span } from './text-edits.js';

const PARSE_OPTIONS = { allowTrailingComma: true, disallowComments: false, allowEmptyContent: true };

function describeError(text: string, error: ParseError): string {
  const line = text.slice(0, error.offset).split('\n').length;
  return `${printParseErrorCode(error.error)} on line ${line}`;
}

/** Returns a parsed JSON(C) text, or throws naming the first syntax error and its line. */
export function parseJsonc(text: string): unknown {
  const errors: ParseError[] = [];
  const value = parse(text.replace(/^\uFEFF/, ''), errors, PARSE_OPTIONS) as unknown;
  if (errors[0]) throw new Error(`not valid JSON: ${describeError(text, errors[0])}`);
  return value;
}

function objectKeys(node: Node | undefined): Array<{ key: string; value: Node }> {
  if (node?.type !== 'object') return [];
  return (node.children ?? []).flatMap((property) => {
    const [keyNode, value] = property.children ?? [];
    return keyNode && value && typeof keyNode.value === 'string' ? [{ key: keyNode.value, value }] : [];
  });
}

function child(node: Node | undefined, key: string): Node | undefined {
  return objectKeys(node).filter((p) => p.key === key).at(-1)?.value;
}

function readEntry(text: string, shift: number, name: string, node: Node, key: string[], project: string | undefined): FoundEntry {
  const span = (n: Node): Span => ({ offset: n.offset + shift, length: n.length });
  const commandNode = child(node, 'command');
  // Zed's older form: "command": { "path": "npx", "args": [...], "env": {...} }.
  const nested = commandNode?.type === 'object';
  const holder = nested ? commandNode : node;
  const command = nested ? child(commandNode, 'path') : commandNode;
  const args = child(holder, 'args');
  const env = child(holder, 'env');
  const envFile = child(node, 'envFile');
  const type = child(node, 'type')?.value as unknown;
  const hasUrl = ['url', 'serverUrl', 'httpUrl'].some((k) => child(node, k) !== undefined);
  const envEntries = objectKeys(env);
  return {
    name, project, key,
    commandPath: nested ? ['command', 'path'] : ['command'],
    argsPath: nested ? ['command', 'args'] : ['args'],
    command: command ? { value: getNodeValue(command) as unknown, span: span(command) } : undefined,
    args: args ? { value: getNodeValue(args) as unknown, span: span(args), elements: args.type === 'array' ? (args.children ?? []).map(span) : [] } : undefined,
    envNames: envEntries.map((e) => e.key),
    secretTexts: envEntries.map((e) => text.slice(e.value.offset + shift, e.value.offset + shift + e.value.length)),
    envFile: typeof envFile?.value === 'string' ? envFile.value : undefined,
    remote: (typeof type === 'string' && type !== 'stdio') || (command === undefined && hasUrl),
  };
}

/**
 * Returns the server entries of a JSON(C) config: the file's own server list and, in
 * ~/.claude.json, each project's. Throws on a syntax error: a file that cannot be read is not edited.
 */
export function readJsonDocument(text: string, layout: Extract<FileLayout, { format: 'json' }>): ConfigDocument {
  const shift = text.startsWith('\uFEFF') ? 1 : 0;
  const errors: ParseError[] = [];
  const root = parseTree(text.slice(shift), errors, PARSE_OPTIONS);
  if (errors[0]) throw new Error(`not valid JSON: ${describeError(text, errors[0])}`);
  const entries: FoundEntry[] = [];
  const readMap = (path: string[], project: string | undefined): void => {
    const map = root ? findNodeAtLocation(root, path) : undefined;
    for (const { key, value } of objectKeys(map)) {
      if (value.type === 'object') entries.push(readEntry(text, shift, key, value, [...path, key], project));
    }
  };
  readMap([layout.serversKey], undefined);
  if (layout.claudeProjects) {
    for (const { key } of objectKeys(root ? findNodeAtLocation(root, ['projects']) : undefined)) readMap(['projects', key, 'mcpServers'], key);
  }
  return {
    format: 'json',
    entries,
    value: root ? getNodeValue(root) as unknown : undefined,
    parse: parseJsonc,
    literal: (value) => JSON.stringify(value),
  };
}
