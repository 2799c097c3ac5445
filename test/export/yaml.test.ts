import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseAllDocuments } from 'yaml';
import { emitYamlDocuments, formatScalar } from '../../src/export/yaml.js';

const scalars = suite('formatScalar');
for (const [value, text] of [
  ['memory', 'memory'], ['true', '"true"'], ['yes', '"yes"'], ['1', '"1"'], ['0x1f', '"0x1f"'], ['1e3', '"1e3"'], ['', '""'],
  ['500m', '500m'], ['1Gi', '1Gi'], ['a b', '"a b"'], ['- x', '"- x"'], ['#x', '"#x"'], ['a: b', '"a: b"'], ['@scope/pkg', '"@scope/pkg"'],
  ['null', '"null"'], ['~', '"~"'], ['2026-01-01', '"2026-01-01"'], ['line\nbreak', '"line\\nbreak"'], [true, 'true'], [8080, '8080'], [null, 'null'],
  // kubectl's YAML reader (go-yaml v2, through Go's ParseInt) reads these plain as numbers: a manifest with an argument 31.
  ['0X1F', '"0X1F"'], ['0B11', '"0B11"'], ['0O17', '"0O17"'],
  // YAML 1.1 folds NEL, LS and PS in a quoted scalar into a space (kubectl turned a\u0085b into "a b"); DEL and C1 controls cannot be written raw.
  ['a\u0085b', '"a\\u0085b"'], ['a\u2028b\u2029', '"a\\u2028b\\u2029"'], ['\u007f\u009b', '"\\u007f\\u009b"'], ['\ufeffx\uffff', '"\\ufeffx\\uffff"'],
] as const) {
  scalars(`${JSON.stringify(value)} is written ${text}`, () => assert.is(formatScalar(value), text));
}
scalars.run();

const docs = suite('emitYamlDocuments');
const SAMPLES: object[] = [
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'x', labels: { 'mcp-lok': 'true' }, annotations: { s: 'files: none; network: tcp to *.example.com on ports 443' } }, spec: { ports: [{ port: 80, targetPort: 'mcp' }], selector: {} } },
  { list: [[1, 2], [], {}, [{ a: [] }], { b: { c: null } }], odd: { 'key with space': 'v', '': 'empty', 'on': 'x', '1': 'y' }, text: 'quote " and \\ and \u0007 and \u2028', emoji: 'é ✓', undef: undefined, deep: { a: { b: { c: [{ d: 1, e: [true, false] }] } } } },
];
docs('reads back as the same data, through a real YAML parser', () => {
  const parsed = parseAllDocuments(emitYamlDocuments(SAMPLES)).map((d) => d.toJSON() as unknown);
  assert.equal(parsed, JSON.parse(JSON.stringify(SAMPLES)));
});
docs('writes each document after ---', () => {
  assert.is(emitYamlDocuments([{ a: 1 }, { b: [] }]), '---\na: 1\n---\nb: []\n');
});
docs('refuses what JSON cannot hold', () => {
  assert.throws(() => emitYamlDocuments([{ a: () => 1 }]), /cannot write a function/);
  assert.throws(() => emitYamlDocuments([{ a: Infinity }]), /cannot write Infinity/);
});
docs.run();
