// What a server writes reaches the user's terminal only through these: its log lines, the
// hosts it asked the egress proxy for. A terminal obeys escape sequences (ESC, and the 8-bit
// C1 controls such as CSI U+009B): they can retitle the window, rewrite what was printed,
// answer queries as if typed, or hide a line with a carriage return. So every C0 control but
// newline and tab, DEL and every C1 control is shown as visible text (`\x1b`) instead.
import { StringDecoder } from 'node:string_decoder';

const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;
const NOT_ESCAPED_BY_JSON = /[\x7f-\x9f]/g;

const hex = (char: string): string => char.charCodeAt(0).toString(16).padStart(2, '0');

/** Returns the text with every control character but `\n` and `\t` written as `\xNN`. */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => `\\x${hex(c)}`);
}

/**
 * Returns the text as one line: every control character, newline and tab included, written as
 * `\xNN`. For text from a file or a client (a server's name in a config) printed as one line of
 * mcp-lok's own, which a newline would otherwise let forge another.
 */
export function escapeControlLine(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${hex(c)}`);
}

/**
 * Returns JSON text with DEL and the C1 controls written as `\u00NN` (JSON.stringify escapes
 * only U+0000 to U+001F); the value it encodes is unchanged.
 */
export function escapeControlInJson(json: string): string {
  return json.replace(NOT_ESCAPED_BY_JSON, (c) => `\\u00${hex(c)}`);
}

/**
 * Returns a function that escapes a byte stream chunk by chunk (see escapeControl), decoding
 * it as UTF-8 so a character split between chunks is kept whole (invalid bytes become U+FFFD).
 */
export function createControlEscaper(): (chunk: Buffer) => string {
  const decoder = new StringDecoder('utf8');
  return (chunk) => escapeControl(decoder.write(chunk));
}
