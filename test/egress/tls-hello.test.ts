import { duplexPair } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readClientHello } from '../../src/egress/tls-hello.js';

function u16(n: number): Buffer { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; }
function u24(n: number): Buffer { const b = Buffer.alloc(3); b.writeUIntBE(n, 0, 3); return b; }
function ext(type: number, data: Buffer): Buffer { return Buffer.concat([u16(type), u16(data.length), data]); }

/** The server_name extension's body with these host names (as raw bytes). */
function sniBody(names: Array<string | Buffer>): Buffer {
  const entries = Buffer.concat(names.map((n) => { const b = Buffer.from(n); return Buffer.concat([Buffer.from([0]), u16(b.length), b]); }));
  return Buffer.concat([u16(entries.length), entries]);
}

interface HelloShape {
  extensions?: Buffer[];
  /** Split the handshake over records of this size. */
  recordBytes?: number;
  handshakeType?: number;
}

/** Builds a TLS 1.2-style ClientHello record (the shape every TLS 1.3 client sends too). */
function buildHello(shape: HelloShape = {}): Buffer {
  const extensions = Buffer.concat(shape.extensions ?? []);
  const body = Buffer.concat([
    Buffer.from([0x03, 0x03]), Buffer.alloc(32, 7), // version, random
    Buffer.from([0]), // session id
    u16(4), Buffer.from([0x13, 0x01, 0x13, 0x02]), // cipher suites
    Buffer.from([1, 0]), // compression: null
    u16(extensions.length), extensions,
  ]);
  const handshake = Buffer.concat([Buffer.from([shape.handshakeType ?? 1]), u24(body.length), body]);
  const size = shape.recordBytes ?? handshake.length;
  const records: Buffer[] = [];
  for (let i = 0; i < handshake.length; i += size) {
    const fragment = handshake.subarray(i, i + size);
    records.push(Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), u16(fragment.length), fragment]));
  }
  return Buffer.concat(records);
}

const SNI = (...names: Array<string | Buffer>): Buffer => ext(0, sniBody(names));
const ALPN = ext(16, Buffer.from([0, 3, 2, 0x68, 0x32]));

/** Returns the first bytes Node's own TLS client sends (no socket: an in-memory pair). */
function nodeHello(options: { servername?: string; host?: string }): Promise<Buffer> {
  return new Promise((resolve) => {
    const [ours, theirs] = duplexPair();
    const tls = tlsConnect({ socket: ours, ...options, rejectUnauthorized: false });
    tls.on('error', () => {});
    theirs.once('data', (chunk: Buffer) => { resolve(chunk); tls.destroy(); theirs.destroy(); });
  });
}

const hello = suite('readClientHello');

hello('reads the server name from Node\'s own ClientHello', async () => {
  const bytes = await nodeHello({ servername: 'api.example.com' });
  assert.equal(readClientHello(bytes), { kind: 'hello', serverName: 'api.example.com', encryptedHello: false });
});

hello('finds no server name when Node connects to an IP (it sends none)', async () => {
  const bytes = await nodeHello({ host: '127.0.0.1' });
  assert.equal(readClientHello(bytes), { kind: 'hello', serverName: undefined, encryptedHello: false });
});

hello('waits for the rest of a ClientHello cut anywhere', async () => {
  const bytes = await nodeHello({ servername: 'api.example.com' });
  for (const cut of [1, 4, 5, 6, 40, bytes.length - 1]) {
    assert.equal(readClientHello(bytes.subarray(0, cut)), { kind: 'incomplete' }, `cut at ${cut}`);
  }
});

hello('joins a ClientHello split over several records', () => {
  const bytes = buildHello({ extensions: [ALPN, SNI('split.example.com')], recordBytes: 16 });
  assert.equal(readClientHello(bytes), { kind: 'hello', serverName: 'split.example.com', encryptedHello: false });
  assert.equal(readClientHello(bytes.subarray(0, 30)), { kind: 'incomplete' });
});

for (const [title, bytes, expected] of [
  ['a hello without extensions has no name', buildHello(), { kind: 'hello', serverName: undefined, encryptedHello: false }],
  ['a name among other extensions', buildHello({ extensions: [ALPN, SNI('a.example.com'), ext(43, Buffer.from([2, 3, 4]))] }), { kind: 'hello', serverName: 'a.example.com', encryptedHello: false }],
  ['an Encrypted Client Hello is reported with its outer name', buildHello({ extensions: [SNI('public.example.net'), ext(0xfe0d, Buffer.alloc(20, 1))] }), { kind: 'hello', serverName: 'public.example.net', encryptedHello: true }],
  ['plain HTTP is not TLS', Buffer.from('GET / HTTP/1.1\r\n\r\n'), { kind: 'not-tls' }],
  ['SSH is not TLS', Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'), { kind: 'not-tls' }],
  ['nothing yet', Buffer.alloc(0), { kind: 'incomplete' }],
] as const) {
  hello(`reads ${title}`, () => {
    assert.equal(readClientHello(bytes), expected);
  });
}

// Each of these could let a server see a name the check did not: refused, never guessed at.
for (const [title, bytes, reason] of [
  ['a repeated server_name extension', buildHello({ extensions: [SNI('allowed.example.com'), SNI('other.example.com')] }), /extension 0 is repeated/],
  ['two host names in one list', buildHello({ extensions: [SNI('allowed.example.com', 'other.example.com')] }), /more than one host name/],
  ['a host name with a NUL byte', buildHello({ extensions: [SNI(Buffer.from('allowed.example.com\0.evil.net'))] }), /not printable ASCII/],
  ['a host name with a space', buildHello({ extensions: [SNI('allowed.example.com evil.net')] }), /not printable ASCII/],
  ['an empty host name', buildHello({ extensions: [SNI('')] }), /not printable ASCII/],
  ['an empty name list', buildHello({ extensions: [ext(0, u16(0))] }), /empty server name list/],
  ['a name of another type', buildHello({ extensions: [ext(0, Buffer.concat([u16(5), Buffer.from([1]), u16(2), Buffer.from('ab')]))] }), /server name of type 1/],
  ['a name list longer than its extension', buildHello({ extensions: [ext(0, Buffer.concat([u16(50), Buffer.from([0]), u16(3), Buffer.from('abc')]))] }), /runs past its data/],
  ['a handshake that is not a ClientHello', buildHello({ handshakeType: 2 }), /not a ClientHello/],
  ['a record of another version', Buffer.from([0x16, 0x02, 0x00, 0x00, 0x05, 1, 0, 0, 1, 0]), /not a TLS 1\.x record/],
  ['an empty record', Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00]), /a TLS record of 0 bytes/],
  ['a ClientHello that claims 16 MiB', Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0xff, 0xff, 0xff]), /a ClientHello of \d+ bytes/],
  ['a ClientHello interrupted by an alert record', Buffer.concat([buildHello({ extensions: [SNI('a.example.com')], recordBytes: 16 }).subarray(0, 21), Buffer.from([0x15, 0x03, 0x01, 0x00, 0x02, 2, 40])]), /interrupted by another record type/],
] as const) {
  hello(`refuses ${title}`, () => {
    const read = readClientHello(bytes);
    assert.is(read.kind, 'malformed', JSON.stringify(read));
    assert.match((read as { reason: string }).reason, reason);
  });
}

hello.run();
