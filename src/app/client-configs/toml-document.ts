// Codex's config.toml. Values come from smol-toml (a complete TOML parser); where each value is
// written comes from a small scanner below, because no TOML library keeps positions and a
// serializer would drop the user's comments and layout. Every edit is checked afterwards by
// parsing the result with smol-toml: it must differ from the original only where it meant to.
import { parse } from 'smol-toml';
import type { ConfigDocument, FoundEntry } from './document.js';
import type { Span } from './text-edits.js';

interface Located { span: Span; elements: Span[] }

const ESCAPES: Readonly<Record<string, string>> = { b: '\b', t: '\t', n: '\n', f: '\f', r: '\r', e: '\x1b', '"': '"', '\\': '\\' };

/** Returns a string as a TOML basic string (control characters and DEL escaped). */
export function tomlString(value: string): string {
  // eslint-disable-next-line no-control-regex
  return `"${value.replace(/[\\"\u0000-\u001f\u007f]/g, (c) => {
    if (c === '\\' || c === '"') return `\\${c}`;
    const named = Object.entries(ESCAPES).find(([, v]) => v === c && c !== '\x1b')?.[0];
    return named ? `\\${named}` : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  })}"`;
}

/** Finds where each key's value is written: a scanner for TOML's layout, not a validator (smol-toml validates). */
class Locator {
  private pos = 0;
  readonly found = new Map<string, Located>();

  constructor(private readonly text: string) {}

  private fail(what: string): never {
    throw new Error(`cannot follow the layout of line ${this.text.slice(0, this.pos).split('\n').length} (${what})`);
  }

  private skipSpaces(): void {
    while (this.text[this.pos] === ' ' || this.text[this.pos] === '\t') this.pos++;
  }

  private skipTrivia(): void {
    for (;;) {
      const c = this.text[this.pos];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') this.pos++;
      else if (c === '#') { while (this.pos < this.text.length && this.text[this.pos] !== '\n') this.pos++; } else return;
    }
  }

  /** Reads a quoted string starting at pos and returns its raw end; `decode` gives its value (for keys). */
  private readString(): { end: number; decoded: string } {
    const t = this.text;
    const start = this.pos;
    const quote = t[start] as '"' | "'";
    const triple = t.startsWith(quote.repeat(3), start);
    let i = start + (triple ? 3 : 1);
    let decoded = '';
    for (;;) {
      if (i >= t.length) this.fail('an unterminated string');
      const c = t[i] as string;
      if (quote === '"' && c === '\\') {
        const next = t[i + 1] ?? '';
        if (next === 'u' || next === 'U') {
          const digits = next === 'u' ? 4 : 8;
          decoded += String.fromCodePoint(Number.parseInt(t.slice(i + 2, i + 2 + digits), 16));
          i += 2 + digits;
        } else if (next === 'x') {
          decoded += String.fromCharCode(Number.parseInt(t.slice(i + 2, i + 4), 16));
          i += 4;
        } else {
          decoded += ESCAPES[next] ?? '';
          i += 2;
        }
        continue;
      }
      if (triple ? t.startsWith(quote.repeat(3), i) : c === quote) {
        let end = i + (triple ? 3 : 1);
        // Up to two quotes may close a multi-line string's content: """a"""" ends with `a"`.
        for (let extra = 0; triple && extra < 2 && t[end] === quote; extra++) end++;
        this.pos = end;
        return { end, decoded };
      }
      if (!triple && c === '\n') this.fail('a line break in a string');
      decoded += c;
      i++;
    }
  }

  private readKey(): string[] {
    const parts: string[] = [];
    for (;;) {
      this.skipSpaces();
      const c = this.text[this.pos];
      if (c === '"' || c === "'") parts.push(this.readString().decoded);
      else {
        const bare = /^[A-Za-z0-9_-]+/.exec(this.text.slice(this.pos, this.pos + 1024))?.[0];
        if (!bare) this.fail('a key');
        parts.push(bare);
        this.pos += bare.length;
      }
      this.skipSpaces();
      if (this.text[this.pos] !== '.') return parts;
      this.pos++;
    }
  }

  /** Reads the value at pos, records where it is under `path`, and returns its span. */
  private readValue(path: string[]): Span {
    const t = this.text;
    const start = this.pos;
    const elements: Span[] = [];
    const c = t[start];
    if (c === '"' || c === "'") {
      this.readString();
    } else if (c === '[') {
      this.pos++;
      for (;;) {
        this.skipTrivia();
        if (t[this.pos] === ']') { this.pos++; break; }
        elements.push(this.readValue([...path, String(elements.length)]));
        this.skipTrivia();
        if (t[this.pos] === ',') this.pos++;
        else if (t[this.pos] !== ']') this.fail('an array');
      }
    } else if (c === '{') {
      this.pos++;
      for (;;) {
        this.skipTrivia();
        if (t[this.pos] === '}') { this.pos++; break; }
        const key = this.readKey();
        if (t[this.pos] !== '=') this.fail('an inline table');
        this.pos++;
        this.skipSpaces();
        this.readValue([...path, ...key]);
        this.skipTrivia();
        if (t[this.pos] === ',') this.pos++;
        else if (t[this.pos] !== '}') this.fail('an inline table');
      }
    } else {
      while (this.pos < t.length && !',]}#\n\r'.includes(t[this.pos] as string)) this.pos++;
      while (this.pos > start && (t[this.pos - 1] === ' ' || t[this.pos - 1] === '\t')) this.pos--;
      if (this.pos === start) this.fail('a value');
    }
    const span = { offset: start, length: this.pos - start };
    this.found.set(JSON.stringify(path), { span, elements });
    return span;
  }

  /** Scans the whole document. */
  run(): this {
    let table: string[] = [];
    for (;;) {
      this.skipTrivia();
      if (this.pos >= this.text.length) return this;
      if (this.text[this.pos] === '[') {
        const double = this.text[this.pos + 1] === '[';
        this.pos += double ? 2 : 1;
        const key = this.readKey();
        if (!this.text.startsWith(double ? ']]' : ']', this.pos)) this.fail('a table header');
        this.pos += double ? 2 : 1;
        // An array of tables: its keys are not paths a server entry can have.
        table = double ? [...key, '[]'] : key;
      } else {
        const key = this.readKey();
        if (this.text[this.pos] !== '=') this.fail('a key/value pair');
        this.pos++;
        this.skipSpaces();
        this.readValue([...table, ...key]);
      }
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Returns a parsed TOML text, or throws with smol-toml's message. */
export function parseToml(text: string): unknown {
  try {
    return parse(text);
  } catch (error) {
    throw new Error(`not valid TOML: ${(error as Error).message.split('\n')[0] ?? ''}`, { cause: error });
  }
}

/** Returns the server tables (`[mcp_servers.NAME]`) of a Codex config.toml; throws when it is not valid TOML. */
export function readTomlDocument(text: string): ConfigDocument {
  const value = parseToml(text);
  let located: Map<string, Located> | undefined;
  let unlocated: string | undefined;
  try { located = new Locator(text).run().found; } catch (error) { unlocated = (error as Error).message; }
  const at = (path: string[]): Located | undefined => located?.get(JSON.stringify(path));
  const servers = isRecord(value) ? value.mcp_servers : undefined;
  const entries: FoundEntry[] = Object.entries(isRecord(servers) ? servers : {}).flatMap(([name, entry]) => {
    if (!isRecord(entry)) return [];
    const key = ['mcp_servers', name];
    const env = isRecord(entry.env) ? entry.env : {};
    const envVars = Array.isArray(entry.env_vars) ? entry.env_vars.filter((v): v is string => typeof v === 'string') : [];
    const command = at([...key, 'command']);
    const args = at([...key, 'args']);
    const missing = (entry.command !== undefined && !command) || (entry.args !== undefined && !args);
    return [{
      name, project: undefined, key, commandPath: ['command'], argsPath: ['args'],
      command: entry.command !== undefined && command ? { value: entry.command, span: command.span } : undefined,
      args: entry.args !== undefined && args ? { value: entry.args, span: args.span, elements: args.elements } : undefined,
      envNames: [...new Set([...Object.keys(env), ...envVars])],
      secretTexts: Object.keys(env).flatMap((k) => {
        const found = at([...key, 'env', k]);
        return found ? [text.slice(found.span.offset, found.span.offset + found.span.length)] : [];
      }),
      envFile: undefined,
      remote: entry.command === undefined && entry.url !== undefined,
      ...(missing ? { unlocated: unlocated ?? 'its command or arguments are written in a form mcp-lok cannot edit in place' } : {}),
    }];
  });
  return { format: 'toml', entries, value, parse: parseToml, literal: tomlString };
}
