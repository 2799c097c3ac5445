import { EXIT, LokError } from '../errors.js';

/** Largest profile text accepted, so a hostile or mistaken file cannot exhaust memory. */
export const MAX_PROFILE_BYTES = 1024 * 1024;
/** Deepest nesting accepted: a profile needs four levels; this stops stack exhaustion. */
export const MAX_JSON_DEPTH = 64;

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const HEX4 = /^[0-9a-fA-F]{4}$/;
const ESCAPE_LETTERS = 'bfnrt"\\/';
const ESCAPE_VALUES = '\b\f\n\r\t"\\/';
const LITERALS: Array<[string, unknown]> = [['true', true], ['false', false], ['null', null]];
/** Characters that could break a message across lines or reorder it on screen (Trojan Source). */
const UNSAFE_CHARS = '\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u061c\\u180e\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u206f\\ufeff\\ufff9-\\ufffb';
const UNSAFE_ONE = new RegExp(`[${UNSAFE_CHARS}]`);
const UNSAFE_ALL = new RegExp(`[${UNSAFE_CHARS}]`, 'g');
const MAX_QUOTED_CHARS = 80;

/** Returns `value` as a double-quoted, one-line string fit for an error message, shortened if long. */
export function quoteValue(value: string): string {
  const short = value.length > MAX_QUOTED_CHARS ? `${value.slice(0, MAX_QUOTED_CHARS)}…` : value;
  return JSON.stringify(short).replace(UNSAFE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Returns true when `value` holds a character that is invisible or would break a line on screen. */
export function hasUnprintable(value: string): boolean {
  return UNSAFE_ONE.test(value);
}

/** Returns the source name as given, or quoted when it holds characters that would break the line. */
export function nameSource(source: string): string {
  return source !== '' && !hasUnprintable(source) ? source : quoteValue(source);
}

/** Returns the JSON path of a child: `$.read[0]`, `$.network.outbound`, `$["odd key"]`. */
export function appendJsonPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${path}.${key}` : `${path}[${quoteValue(key)}]`;
}

function invalid(message: string): LokError {
  return new LokError('PROFILE_INVALID', message, { exitCode: EXIT.usage });
}

/**
 * Returns the value of an RFC 8259 JSON text. Unlike JSON.parse it rejects duplicate keys,
 * which JSON.parse resolves silently to the last one, so `{"write": [], "write": ["/"]}` cannot
 * pass a review that reads only the first. A leading BOM is allowed; errors give line and column.
 */
export function parseJsonStrict(text: string, source: string): unknown {
  const name = nameSource(source);
  if (text.length > MAX_PROFILE_BYTES || Buffer.byteLength(text, 'utf8') > MAX_PROFILE_BYTES) {
    throw invalid(`${name}: the file is larger than 1 MiB; a permission profile is a few lines of JSON.`);
  }
  const start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let pos = start;

  const where = (at: number): string => {
    let line = 1;
    let lineStart = start;
    for (let i = start; i < at; i++) {
      if (text.charCodeAt(i) === 0x0a) {
        line++;
        lineStart = i + 1;
      }
    }
    return `line ${line}, column ${at - lineStart + 1}`;
  };
  const fail = (problem: string, at: number = pos): never => {
    const end = at >= text.length ? 'unexpected end of input, ' : '';
    throw invalid(`${name}: invalid JSON at ${where(at)}: ${end}${problem}.`);
  };
  const skipSpace = (): void => {
    for (let c = text.charCodeAt(pos); c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d; c = text.charCodeAt(pos)) pos++;
  };
  const hex4 = (at: number): number => {
    const digits = text.slice(at, at + 4);
    return HEX4.test(digits) ? parseInt(digits, 16) : fail('expected four hex digits after "\\u"', at);
  };

  const parseString = (): string => {
    const begin = pos++;
    let out = '';
    let run = pos;
    for (;;) {
      if (pos >= text.length) return fail('unterminated string', begin);
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        out += text.slice(run, pos++);
        return out;
      }
      if (c < 0x20) fail('control characters in strings must be escaped, such as \\n');
      if (c !== 0x5c) {
        pos++;
        continue;
      }
      out += text.slice(run, pos);
      const letter = text[pos + 1] ?? '';
      if (letter === 'u') {
        const unit = hex4(pos + 2);
        if (unit >= 0xdc00 && unit <= 0xdfff) fail('unpaired UTF-16 surrogate in a \\u escape');
        if (unit >= 0xd800 && unit <= 0xdbff) {
          const low = text.startsWith('\\u', pos + 6) ? hex4(pos + 8) : -1;
          if (low < 0xdc00 || low > 0xdfff) fail('unpaired UTF-16 surrogate in a \\u escape');
          out += String.fromCharCode(unit, low);
          pos += 12;
        } else {
          out += String.fromCharCode(unit);
          pos += 6;
        }
      } else {
        const index = letter === '' ? -1 : ESCAPE_LETTERS.indexOf(letter);
        if (index < 0) fail(`invalid escape; strings accept \\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX`);
        out += ESCAPE_VALUES[index] ?? '';
        pos += 2;
      }
      run = pos;
    }
  };

  const parseValue = (path: string, depth: number): unknown => {
    skipSpace();
    const c = text[pos];
    if (c === '{' || c === '[') {
      if (depth >= MAX_JSON_DEPTH) fail(`nesting deeper than ${MAX_JSON_DEPTH} levels`);
      return c === '{' ? parseObject(path, depth + 1) : parseArray(path, depth + 1);
    }
    if (c === '"') return parseString();
    for (const [word, value] of LITERALS) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return value;
      }
    }
    NUMBER.lastIndex = pos;
    const match = NUMBER.exec(text);
    if (!match) return fail('expected a value: an object, list, string, number, true, false or null');
    const begin = pos;
    pos += match[0].length;
    if (/[0-9.eE+-]/.test(text[pos] ?? '')) fail('invalid number', begin);
    return Number(match[0]);
  };

  const parseObject = (path: string, depth: number): Record<string, unknown> => {
    const result: Record<string, unknown> = {};
    pos++;
    skipSpace();
    if (text[pos] === '}') {
      pos++;
      return result;
    }
    for (;;) {
      skipSpace();
      if (text[pos] !== '"') fail('expected a key in double quotes');
      const keyAt = pos;
      const key = parseString();
      if (Object.hasOwn(result, key)) {
        throw invalid(`${name}: duplicate key ${quoteValue(key)} at ${path} (${where(keyAt)}); each key may appear once.`);
      }
      skipSpace();
      if (text[pos] !== ':') fail('expected ":" after the key');
      pos++;
      // defineProperty, not assignment, so a "__proto__" key stays an ordinary own key.
      Object.defineProperty(result, key, { value: parseValue(appendJsonPath(path, key), depth), enumerable: true, writable: true, configurable: true });
      skipSpace();
      const next = text[pos++];
      if (next === '}') return result;
      if (next !== ',') fail('expected "," or "}"', pos - 1);
    }
  };

  const parseArray = (path: string, depth: number): unknown[] => {
    const result: unknown[] = [];
    pos++;
    skipSpace();
    if (text[pos] === ']') {
      pos++;
      return result;
    }
    for (;;) {
      result.push(parseValue(appendJsonPath(path, result.length), depth));
      skipSpace();
      const next = text[pos++];
      if (next === ']') return result;
      if (next !== ',') fail('expected "," or "]"', pos - 1);
    }
  };

  const value = parseValue('$', 0);
  skipSpace();
  if (pos < text.length) fail('expected the end of the text after the JSON value');
  return value;
}
