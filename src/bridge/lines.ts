import { StringDecoder } from 'node:string_decoder';

/**
 * Returns a chunk handler that calls `onLine` with each complete, non-blank line (without its
 * newline or CR). A character split across chunks stays whole; a line longer than
 * `maxLineBytes` is dropped rather than held in memory.
 */
export function splitLines(onLine: (line: string) => void, maxLineBytes = Infinity): (chunk: Buffer) => void {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  return (chunk) => {
    const lines = (pending + decoder.write(chunk)).split('\n');
    pending = lines.pop() ?? '';
    if (pending.length > maxLineBytes) pending = '';
    for (const raw of lines) {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line.trim() !== '') onLine(line);
    }
  };
}
