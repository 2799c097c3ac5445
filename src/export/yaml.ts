// A YAML emitter for manifests: JSON-shaped data (objects, arrays, strings, numbers,
// booleans, null) only, in block style, two-space indent. A string is written plain only when
// YAML cannot read it as anything else; otherwise it is JSON-quoted, which YAML reads as the
// same string (JSON's escapes are a subset of YAML's double-quoted ones).

type Scalar = string | number | boolean | null;

/** Plain scalars YAML 1.1 or 1.2 would read as booleans, null or numbers. */
const AMBIGUOUS = /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL|~|[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?|[0-9]{4}-[0-9]{2}-[0-9]{2}.*)$/;
/** Characters a plain scalar may hold here: a conservative set with no indicator at the start. */
const PLAIN = /^[A-Za-z0-9_./][A-Za-z0-9_./@=+-]*(?::[A-Za-z0-9_./@=+-]+)*$/;

/**
 * Characters JSON leaves raw that YAML does not read back as themselves: DEL and the C1
 * controls (not printable in YAML), NEL, LS and PS (YAML 1.1 line breaks, folded into a space
 * inside quotes, as kubectl does), and the byte order mark and noncharacters.
 */
const UNSAFE_IN_QUOTES = /[\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/g;

/** Returns a scalar as YAML: plain when that reads back as the same string, else JSON-quoted (with YAML's unsafe characters as \u escapes). */
export function formatScalar(value: Scalar): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`cannot write ${value} in a manifest`);
    return String(value);
  }
  if (typeof value !== 'string') return String(value);
  if (PLAIN.test(value) && !AMBIGUOUS.test(value)) return value;
  return JSON.stringify(value).replace(UNSAFE_IN_QUOTES, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function isScalar(value: unknown): value is Scalar {
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return true;
  if (typeof value === 'object') return false;
  throw new Error(`cannot write a ${typeof value} in a manifest`);
}

function isEmpty(value: unknown): boolean {
  return Array.isArray(value) ? value.length === 0 : typeof value === 'object' && value !== null && Object.values(value).every((v) => v === undefined);
}

function emptyOf(value: unknown): string {
  return Array.isArray(value) ? '[]' : '{}';
}

function emitNode(value: unknown, indent: string, lines: string[]): void {
  if (Array.isArray(value)) {
    for (const item of value) {
      if (isScalar(item) || isEmpty(item)) { lines.push(`${indent}- ${isScalar(item) ? formatScalar(item) : emptyOf(item)}`); continue; }
      // The item's first line goes after the dash; the rest keep its indent.
      const inner: string[] = [];
      emitNode(item, `${indent}  `, inner);
      lines.push(`${indent}- ${(inner[0] ?? '').slice(indent.length + 2)}`, ...inner.slice(1));
    }
    return;
  }
  if (isScalar(value)) throw new Error('a document must be an object or a list');
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    if (item === undefined) continue;
    const k = formatScalar(key);
    if (isScalar(item) || isEmpty(item)) lines.push(`${indent}${k}: ${isScalar(item) ? formatScalar(item) : emptyOf(item)}`);
    else {
      lines.push(`${indent}${k}:`);
      emitNode(item, Array.isArray(item) ? indent : `${indent}  `, lines);
    }
  }
}

/** Returns documents as one YAML stream: each after `---`, keys in their insertion order. */
export function emitYamlDocuments(documents: readonly object[]): string {
  const out: string[] = [];
  for (const doc of documents) {
    const lines: string[] = [];
    emitNode(doc, '', lines);
    out.push('---', ...lines);
  }
  return `${out.join('\n')}\n`;
}
