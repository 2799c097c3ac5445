// Reads the server name (SNI) from the first bytes a client sends into a CONNECT tunnel: its TLS
// ClientHello. Nothing is decrypted or answered; the bytes go on unchanged once checked.

/** Bytes a ClientHello may take across its records; real ones are 0.5-2 KiB (8 KiB with big key shares). */
export const MAX_CLIENT_HELLO_BYTES = 64 * 1024;

const RECORD_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;
/** Encrypted Client Hello: the real server name travels encrypted, behind a public one. */
const EXT_ENCRYPTED_CLIENT_HELLO = 0xfe0d;
const NAME_TYPE_HOST = 0x00;
const RECORD_HEADER_BYTES = 5;
const MAX_RECORD_BYTES = 16 * 1024 + 2048;

/** What the first bytes of a tunnel are, as far as they go. */
export type ClientHelloRead =
  | { kind: 'incomplete' }
  /** The first byte is not a TLS handshake record: the tunnel carries something else. */
  | { kind: 'not-tls' }
  | { kind: 'malformed'; reason: string }
  | { kind: 'hello'; serverName: string | undefined; encryptedHello: boolean };

class Malformed extends Error {}

/** A bounds-checked reader over one buffer. */
class Reader {
  constructor(private readonly buf: Buffer, private pos = 0, private readonly end = buf.length) {}
  get left(): number { return this.end - this.pos; }
  u8(): number { this.need(1); return this.buf[this.pos++]!; }
  u16(): number { this.need(2); const v = this.buf.readUInt16BE(this.pos); this.pos += 2; return v; }
  u24(): number { this.need(3); const v = this.buf.readUIntBE(this.pos, 3); this.pos += 3; return v; }
  skip(n: number): void { this.need(n); this.pos += n; }
  /** Returns a reader over the next `n` bytes and moves past them. */
  sub(n: number): Reader { this.need(n); const r = new Reader(this.buf, this.pos, this.pos + n); this.pos += n; return r; }
  bytes(n: number): Buffer { this.need(n); const b = this.buf.subarray(this.pos, this.pos + n); this.pos += n; return b; }
  private need(n: number): void { if (this.pos + n > this.end) throw new Malformed('a length runs past its data'); }
}

/**
 * Returns the server name a TLS ClientHello asks for, from the bytes a client sent so far
 * (`incomplete` until the whole ClientHello is there, which may span several records). Strict
 * where a lenient reading could let a second name through: a repeated extension, a second
 * host name, a name that is not plain ASCII, or an Encrypted Client Hello (reported) are all
 * told apart from a plain ClientHello with one name.
 */
export function readClientHello(bytes: Buffer): ClientHelloRead {
  if (bytes.length === 0) return { kind: 'incomplete' };
  if (bytes[0] !== RECORD_HANDSHAKE) return { kind: 'not-tls' };
  // Gather the handshake bytes from consecutive handshake records.
  const parts: Buffer[] = [];
  let have = 0;
  let want: number | undefined;
  let pos = 0;
  while (want === undefined || have < want) {
    if (bytes.length < pos + RECORD_HEADER_BYTES) return { kind: 'incomplete' };
    if (bytes[pos] !== RECORD_HANDSHAKE) return { kind: 'malformed', reason: 'the ClientHello is interrupted by another record type' };
    if (bytes[pos + 1] !== 0x03) return { kind: 'malformed', reason: 'not a TLS 1.x record' };
    const length = bytes.readUInt16BE(pos + 3);
    if (length === 0 || length > MAX_RECORD_BYTES) return { kind: 'malformed', reason: `a TLS record of ${length} bytes` };
    if (bytes.length < pos + RECORD_HEADER_BYTES + length) return { kind: 'incomplete' };
    const fragment = bytes.subarray(pos + RECORD_HEADER_BYTES, pos + RECORD_HEADER_BYTES + length);
    parts.push(fragment);
    have += fragment.length;
    pos += RECORD_HEADER_BYTES + length;
    if (want === undefined && have >= 4) {
      const head = Buffer.concat(parts);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO) return { kind: 'malformed', reason: 'the first handshake message is not a ClientHello' };
      want = 4 + head.readUIntBE(1, 3);
      if (want > MAX_CLIENT_HELLO_BYTES) return { kind: 'malformed', reason: `a ClientHello of ${want} bytes` };
    }
  }
  const handshake = Buffer.concat(parts).subarray(0, want);
  try {
    return parseClientHello(new Reader(handshake, 4));
  } catch (error) {
    if (error instanceof Malformed) return { kind: 'malformed', reason: error.message };
    throw error;
  }
}

function parseClientHello(r: Reader): ClientHelloRead {
  r.skip(2 + 32); // legacy_version, random
  r.skip(r.u8()); // legacy_session_id
  const suites = r.u16();
  if (suites === 0 || suites % 2 !== 0) throw new Malformed('malformed cipher suites');
  r.skip(suites);
  r.skip(r.u8()); // legacy_compression_methods
  if (r.left === 0) return { kind: 'hello', serverName: undefined, encryptedHello: false };
  const extensions = r.sub(r.u16());
  if (r.left !== 0) throw new Malformed('bytes after the extensions');
  const seen = new Set<number>();
  let serverName: string | undefined;
  let encryptedHello = false;
  while (extensions.left > 0) {
    const type = extensions.u16();
    const data = extensions.sub(extensions.u16());
    // A server that takes the second copy of an extension would see a name this check did not.
    if (seen.has(type)) throw new Malformed(`extension ${type} is repeated`);
    seen.add(type);
    if (type === EXT_SERVER_NAME) serverName = readServerName(data);
    else if (type === EXT_ENCRYPTED_CLIENT_HELLO) encryptedHello = true;
  }
  return { kind: 'hello', serverName, encryptedHello };
}

function readServerName(data: Reader): string | undefined {
  if (data.left === 0) return undefined; // a server's empty acknowledgement; not sent by clients, harmless
  const list = data.sub(data.u16());
  if (data.left !== 0) throw new Malformed('bytes after the server name list');
  let name: string | undefined;
  while (list.left > 0) {
    const type = list.u8();
    const value = list.bytes(list.u16());
    if (type !== NAME_TYPE_HOST) throw new Malformed(`a server name of type ${type}`);
    if (name !== undefined) throw new Malformed('more than one host name');
    if (value.length === 0 || !value.every((b) => b > 0x20 && b < 0x7f)) throw new Malformed('a host name that is not printable ASCII');
    name = value.toString('latin1');
  }
  if (name === undefined) throw new Malformed('an empty server name list');
  return name;
}
