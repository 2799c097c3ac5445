import { LokError } from '../errors.js';

/** One entry of a tar archive: a regular file (a build context holds nothing else), or a directory. */
export interface TarFile {
  /** Path inside the archive, with `/` separators; relative, without `..`. */
  name: string;
  content: Buffer;
  /** A directory (its content must be empty): how a home volume gets its owner (prepare/home.ts). */
  directory?: boolean;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch; 0 by default, so the same files give the same bytes. */
  mtime?: number;
}

const BLOCK_BYTES = 512;
const NAME_BYTES = 100;
const PREFIX_BYTES = 155;
/** The largest number an 11-digit octal field holds (8 GiB - 1 for sizes). */
const MAX_OCTAL_11 = 0o77777777777;
const MAX_OCTAL_7 = 0o7777777;

function fail(message: string): never {
  throw new LokError('INTERNAL', `Cannot put a file into a tar archive: ${message}.`);
}

/** Returns [prefix, name] for a path, split at a `/` when it is longer than the name field. */
function splitName(path: string): [string, string] {
  if (Buffer.byteLength(path) <= NAME_BYTES) return ['', path];
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= PREFIX_BYTES && Buffer.byteLength(name) <= NAME_BYTES && name) return [prefix, name];
  }
  return fail(`the path ${JSON.stringify(path)} is too long for ustar`);
}

function writeOctal(header: Buffer, offset: number, digits: number, value: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) fail(`${what} ${value} is out of range`);
  header.write(`${value.toString(8).padStart(digits, '0')}\0`, offset, digits + 1, 'ascii');
}

/** Returns the 512-byte ustar header of one regular file or directory. */
export function tarHeader(file: TarFile): Buffer {
  const path = file.name;
  if (!path || path.startsWith('/') || path.split('/').some((part) => part === '..' || part === '') || path.includes('\0')) {
    fail(`the path ${JSON.stringify(path)} is not a plain relative path`);
  }
  if (file.directory && file.content.length > 0) fail(`the directory ${JSON.stringify(path)} has content`);
  const [prefix, name] = splitName(file.directory ? `${path}/` : path);
  const header = Buffer.alloc(BLOCK_BYTES);
  header.write(name, 0, NAME_BYTES, 'utf8');
  writeOctal(header, 100, 7, file.mode ?? (file.directory ? 0o755 : 0o644), 0o7777, 'the mode');
  writeOctal(header, 108, 7, file.uid ?? 0, MAX_OCTAL_7, 'the uid');
  writeOctal(header, 116, 7, file.gid ?? 0, MAX_OCTAL_7, 'the gid');
  writeOctal(header, 124, 11, file.content.length, MAX_OCTAL_11, 'the size');
  writeOctal(header, 136, 11, file.mtime ?? 0, MAX_OCTAL_11, 'the mtime');
  header.write('        ', 148, 8, 'ascii'); // the checksum counts its own field as spaces
  header.write(file.directory ? '5' : '0', 156, 1, 'ascii'); // a directory or a regular file
  header.write('ustar\0' + '00', 257, 8, 'ascii');
  header.write(prefix, 345, PREFIX_BYTES, 'utf8');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return header;
}

/** Returns a ustar archive of the entries, in the order given, with the two closing zero blocks. */
export function packTar(files: readonly TarFile[]): Buffer {
  const parts: Buffer[] = [];
  for (const file of files) {
    parts.push(tarHeader(file), file.content);
    const padding = (BLOCK_BYTES - (file.content.length % BLOCK_BYTES)) % BLOCK_BYTES;
    if (padding) parts.push(Buffer.alloc(padding));
  }
  parts.push(Buffer.alloc(2 * BLOCK_BYTES));
  return Buffer.concat(parts);
}

/**
 * Returns a tar archive without its closing zero blocks (and whatever padding follows), so
 * another archive can be appended to make one: the engine's copy of a folder, then a build's
 * own files. Walks the headers by their sizes; throws when the archive is cut short.
 */
export function stripTarEnd(tar: Buffer): Buffer {
  let offset = 0;
  while (offset + BLOCK_BYTES <= tar.length) {
    const header = tar.subarray(offset, offset + BLOCK_BYTES);
    if (header.every((byte) => byte === 0)) return tar.subarray(0, offset);
    const sizeField = header.toString('ascii', 124, 136).replace(/\0.*$/s, '').trim();
    if (!/^[0-7]*$/.test(sizeField)) throw new LokError('INTERNAL', `Cannot read a tar archive: the entry at byte ${offset} has no octal size.`);
    const size = sizeField === '' ? 0 : parseInt(sizeField, 8);
    offset += BLOCK_BYTES + Math.ceil(size / BLOCK_BYTES) * BLOCK_BYTES;
  }
  throw new LokError('INTERNAL', 'Cannot read a tar archive: it ends without its closing blocks.');
}
