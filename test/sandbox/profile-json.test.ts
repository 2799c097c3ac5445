import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LokError } from '../../src/errors.js';
import { appendJsonPath, MAX_PROFILE_BYTES, nameSource, parseJsonStrict, quoteValue } from '../../src/sandbox/profile-json.js';

/** Returns the error parseJsonStrict throws for `text`, failing the test when it does not throw. */
function parseError(text: string, source = 'p.json'): LokError {
  try {
    parseJsonStrict(text, source);
  } catch (error) {
    assert.instance(error, LokError);
    return error as LokError;
  }
  throw new assert.Assertion({ message: `expected ${JSON.stringify(text)} to be rejected`, generated: false, operator: 'throws', actual: text, expects: 'an error' });
}

const parse = suite('parseJsonStrict');

const validTexts: string[] = [
  '{}',
  '[]',
  '{"read": ["/a", "~/b"], "write": [], "network": {"outbound": {"insecure_allow_all": false, "allow_port": [443, 80]}}}',
  ' \t\r\n{ "a" : [ 1 , 2 ] , "b" : { } } \n',
  '"plain"',
  '"escapes \\" \\\\ \\/ \\b \\f \\n \\r \\t end"',
  '"\\u0041\\u00e9\\u20AC"',
  '"\\ud83d\\ude00 and raw 😀"',
  '"raw é, \\u2028 and U+2028 \u2028 allowed"',
  '[0, -0, 1, -12, 1.5, 1e3, 1E+3, 2.5e-3, -0.125E2, 12345678901234567890]',
  '[true, false, null]',
  '[[[[{"deep": [[]]}]]]]',
  '{"": "empty key", "a b": 1}',
];

for (const text of validTexts) {
  parse(`returns what JSON.parse returns for ${JSON.stringify(text).slice(0, 60)}`, () => {
    assert.equal(parseJsonStrict(text, 'p.json'), JSON.parse(text));
  });
}

parse('skips a byte order mark at the start and counts columns after it', () => {
  assert.equal(parseJsonStrict('\uFEFF{"a": 1}', 'p.json'), { a: 1 });
  assert.is(parseError('\uFEFF{"a": 1,}').message, 'p.json: invalid JSON at line 1, column 9: expected a key in double quotes.');
});

parse('keeps a "__proto__" key as an ordinary own key, as JSON.parse does', () => {
  const value = parseJsonStrict('{"__proto__": {"polluted": true}}', 'p.json') as Record<string, unknown>;
  assert.ok(Object.hasOwn(value, '__proto__'));
  assert.is(Object.getPrototypeOf(value), Object.prototype);
  assert.is(({} as Record<string, unknown>).polluted, undefined);
});

const duplicates: Array<[string, string]> = [
  ['{"read": [], "read": ["/"]}', 'p.json: duplicate key "read" at $ (line 1, column 14); each key may appear once.'],
  ['{\n  "write": [],\n  "network": {},\n  "read": [],\n  "read": []\n}', 'p.json: duplicate key "read" at $ (line 5, column 3); each key may appear once.'],
  ['{"network": {"outbound": {"allow_port": [443], "allow_port": [22]}}}', 'p.json: duplicate key "allow_port" at $.network.outbound (line 1, column 48); each key may appear once.'],
  ['{"read": [{"a": 1, "a": 2}]}', 'p.json: duplicate key "a" at $.read[0] (line 1, column 20); each key may appear once.'],
  ['{"odd key": {"x": 1, "x": 1}}', 'p.json: duplicate key "x" at $["odd key"] (line 1, column 22); each key may appear once.'],
  ['{"a\\u0062": 1, "ab": 2}', 'p.json: duplicate key "ab" at $ (line 1, column 16); each key may appear once.'],
  ['{"__proto__": 1, "__proto__": 2}', 'p.json: duplicate key "__proto__" at $ (line 1, column 18); each key may appear once.'],
];

for (const [text, message] of duplicates) {
  parse(`rejects a duplicate key, naming it, its object's path and its position: ${message.slice(22, 60)}`, () => {
    const error = parseError(text);
    assert.is(error.message, message);
    assert.is(error.code, 'PROFILE_INVALID');
    assert.is(error.exitCode, 2);
  });
}

parse('accepts the same key in different objects', () => {
  assert.equal(parseJsonStrict('{"a": {"a": 1}, "b": {"a": 2}}', 'p.json'), { a: { a: 1 }, b: { a: 2 } });
});

const invalid: Array<[string, string]> = [
  ['', 'line 1, column 1: unexpected end of input, expected a value: an object, list, string, number, true, false or null'],
  ['  \n ', 'line 2, column 2: unexpected end of input, expected a value: an object, list, string, number, true, false or null'],
  ['{\n  "read": []\n  "write": []\n}', 'line 3, column 3: expected "," or "}"'],
  ['{\n  "read": ["/a"\n}', 'line 3, column 1: expected "," or "]"'],
  ['{"a": 1,}', 'line 1, column 9: expected a key in double quotes'],
  ['[1, 2,]', 'line 1, column 7: expected a value: an object, list, string, number, true, false or null'],
  ['{a: 1}', 'line 1, column 2: expected a key in double quotes'],
  ["{'a': 1}", 'line 1, column 2: expected a key in double quotes'],
  ['{"a" 1}', 'line 1, column 6: expected ":" after the key'],
  ['{"a": 1 // comment\n}', 'line 1, column 9: expected "," or "}"'],
  ['{"a": 1', 'line 1, column 8: unexpected end of input, expected "," or "}"'],
  ['[1', 'line 1, column 3: unexpected end of input, expected "," or "]"'],
  ['{} x', 'line 1, column 4: expected the end of the text after the JSON value'],
  ['{}{}', 'line 1, column 3: expected the end of the text after the JSON value'],
  [' \uFEFF{}', 'line 1, column 2: expected a value: an object, list, string, number, true, false or null'],
  ['"abc', 'line 1, column 1: unterminated string'],
  ['"a\nb"', 'line 1, column 3: control characters in strings must be escaped, such as \\n'],
  ['"a\tb"', 'line 1, column 3: control characters in strings must be escaped, such as \\n'],
  ['"\\x41"', 'line 1, column 2: invalid escape; strings accept \\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX'],
  ['"\\', 'line 1, column 2: invalid escape; strings accept \\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX'],
  ['"\\u12G4"', 'line 1, column 4: expected four hex digits after "\\u"'],
  ['"\\u12"', 'line 1, column 4: expected four hex digits after "\\u"'],
  ['"\\ud83d"', 'line 1, column 2: unpaired UTF-16 surrogate in a \\u escape'],
  ['"\\ud83d\\u0041"', 'line 1, column 2: unpaired UTF-16 surrogate in a \\u escape'],
  ['"\\ude00"', 'line 1, column 2: unpaired UTF-16 surrogate in a \\u escape'],
  ['"\\ud83d\\uZZZZ"', 'line 1, column 10: expected four hex digits after "\\u"'],
  ['[01]', 'line 1, column 2: invalid number'],
  ['[1.]', 'line 1, column 2: invalid number'],
  ['[1e]', 'line 1, column 2: invalid number'],
  ['[.5]', 'line 1, column 2: expected a value: an object, list, string, number, true, false or null'],
  ['[+1]', 'line 1, column 2: expected a value: an object, list, string, number, true, false or null'],
  ['[-]', 'line 1, column 2: expected a value: an object, list, string, number, true, false or null'],
  ['[NaN]', 'line 1, column 2: expected a value: an object, list, string, number, true, false or null'],
  ['[Infinity]', 'line 1, column 2: expected a value: an object, list, string, number, true, false or null'],
  ['[True]', 'line 1, column 2: expected a value: an object, list, string, number, true, false or null'],
  ['[nul]', 'line 1, column 2: expected a value: an object, list, string, number, true, false or null'],
  ['[truex]', 'line 1, column 6: expected "," or "]"'],
  ['\u00a0{}', 'line 1, column 1: expected a value: an object, list, string, number, true, false or null'],
  [`${'['.repeat(65)}${']'.repeat(65)}`, 'line 1, column 65: nesting deeper than 64 levels'],
  [`${'['.repeat(200000)}`, 'line 1, column 65: nesting deeper than 64 levels'],
];

for (const [text, detail] of invalid) {
  parse(`rejects invalid JSON with its line and column: ${JSON.stringify(text).slice(0, 40)}`, () => {
    const error = parseError(text);
    assert.is(error.message, `p.json: invalid JSON at ${detail}.`);
    assert.is(error.code, 'PROFILE_INVALID');
    assert.is(error.exitCode, 2);
  });
}

parse('accepts 64 levels of nesting', () => {
  assert.equal(parseJsonStrict(`${'['.repeat(64)}${']'.repeat(64)}`, 'p.json'), JSON.parse(`${'['.repeat(64)}${']'.repeat(64)}`));
});

parse('rejects a text larger than 1 MiB, counting UTF-8 bytes', () => {
  const message = 'p.json: the file is larger than 1 MiB; a permission profile is a few lines of JSON.';
  assert.is(parseError(' '.repeat(MAX_PROFILE_BYTES + 1)).message, message);
  assert.is(parseError(`"${'é'.repeat(MAX_PROFILE_BYTES / 2)}"`).message, message);
  assert.equal(parseJsonStrict(`${' '.repeat(MAX_PROFILE_BYTES - 2)}{}`, 'p.json'), {});
});

parse('keeps every message on one line, whatever the source name and keys hold', () => {
  const texts = [...invalid.map(([text]) => text), ...duplicates.map(([text]) => text), '{"a\\nb": 1, "a\\nb": 2}', '{"\\u2028\\u202e": 1, "\\u2028\\u202e": 2}'];
  for (const source of ['p.json', 'evil\nname.json', 'line\u2028sep.json', '']) {
    for (const text of texts) {
      const { message } = parseError(text, source);
      assert.not.match(message, /[\n\r\u2028\u2029\u202e]/, `${JSON.stringify(message)} spans lines`);
    }
  }
  assert.is(parseError('{"a\\nb": 1, "a\\nb": 2}', 'x\ny').message, '"x\\ny": duplicate key "a\\nb" at $ (line 1, column 13); each key may appear once.');
});

const quote = suite('quoteValue');

const quoted: Array<[string, string]> = [
  ['udp', '"udp"'],
  ['a"b\\c', '"a\\"b\\\\c"'],
  ['line\nbreak\u0000', '"line\\nbreak\\u0000"'],
  ['sep\u2028\u2029', '"sep\\u2028\\u2029"'],
  ['bidi\u202eevil\u2066', '"bidi\\u202eevil\\u2066"'],
  ['c1\u0085del\u007f', '"c1\\u0085del\\u007f"'],
  ['é and 😀 stay', '"é and 😀 stay"'],
  ['x'.repeat(100), `"${'x'.repeat(80)}…"`],
];

for (const [value, expected] of quoted) {
  quote(`quotes ${JSON.stringify(value).slice(0, 30)} on one visible line`, () => {
    assert.is(quoteValue(value), expected);
  });
}

const source = suite('nameSource');

const sources: Array<[string, string]> = [
  ['profile.json', 'profile.json'],
  ['/home/me/my profiles/ok.json', '/home/me/my profiles/ok.json'],
  ['bad\nname', '"bad\\nname"'],
  ['rtl\u202e.json', '"rtl\\u202e.json"'],
  ['', '""'],
];

for (const [name, expected] of sources) {
  source(`names ${JSON.stringify(name)} as ${expected}`, () => {
    assert.is(nameSource(name), expected);
  });
}

const append = suite('appendJsonPath');

const paths: Array<[string, string | number, string]> = [
  ['$', 'read', '$.read'],
  ['$.read', 3, '$.read[3]'],
  ['$.network.outbound', 'allow_port', '$.network.outbound.allow_port'],
  ['$', 'a b', '$["a b"]'],
  ['$', '', '$[""]'],
  ['$', '1st', '$["1st"]'],
  ['$', 'new\nline', '$["new\\nline"]'],
];

for (const [path, key, expected] of paths) {
  append(`appends ${JSON.stringify(key)} to ${path} as ${expected}`, () => {
    assert.is(appendJsonPath(path, key), expected);
  });
}

parse.run();
quote.run();
source.run();
append.run();
