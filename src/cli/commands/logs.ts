import { createReadStream, statSync, watch } from 'node:fs';
import { createControlEscaper, escapeControl, escapeControlInJson } from '../../control-chars.js';
import { EXIT, usageError } from '../../errors.js';
import { openServerLog, readEgressEntries } from '../../app/logs.js';
import { rotatedLogPath, rotationId } from '../../state/log-rotation.js';
import type { ParsedCommand } from '../commands.js';
import type { Context } from '../../app/context.js';
import { renderTable } from '../output.js';

const FOLLOW_POLL_MS = 250;

/** Writes what a server wrote: its control characters as visible text, never to the terminal. */
type Printer = (chunk: Buffer) => void;

function copyRange(print: Printer, path: string, start: number, end: number): Promise<void> {
  if (end <= start) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const stream = createReadStream(path, { start, end: end - 1 });
    stream.on('data', (chunk) => print(chunk as Buffer));
    stream.on('end', resolve);
    stream.on('error', reject);
  });
}

const sizeOf = (path: string): number => statSync(path, { throwIfNoEntry: false })?.size ?? 0;

/**
 * Prints a log (its rotated file, then the current one), then with `follow` what is added to
 * it until Ctrl-C or the server stops.
 */
async function printLog(ctx: Context, path: string, follow: boolean, stillRunning: () => boolean): Promise<void> {
  const escape = createControlEscaper();
  const print: Printer = (chunk) => { ctx.stdout.write(escape(chunk)); };
  const rotated = rotatedLogPath(path);
  let rotation = rotationId(path);
  await copyRange(print, rotated, 0, sizeOf(rotated)).catch(() => {});
  let offset = sizeOf(path);
  await copyRange(print, path, 0, offset);
  if (!follow) return;
  await new Promise<void>((resolve) => {
    let busy = false;
    const check = async (): Promise<void> => {
      if (busy) return;
      busy = true;
      // Asked before reading, so every line written before the server stopped is printed.
      const running = stillRunning();
      const id = rotationId(path);
      if (id !== rotation) {
        // Rotated: the rest of what we were reading is in the rotated file; the current one
        // (emptied just after) is read from its start at the next check.
        rotation = id;
        await copyRange(print, rotated, offset, sizeOf(rotated)).catch(() => {});
        offset = 0;
        busy = false;
        if (!running) void check();
        return;
      }
      const size = sizeOf(path);
      if (size < offset) offset = 0;
      await copyRange(print, path, offset, size).catch(() => {});
      offset = Math.max(offset, size);
      busy = false;
      if (!running) finish();
    };
    const watcher = watch(path, () => { void check(); });
    const timer = setInterval(() => { void check(); }, FOLLOW_POLL_MS);
    const finish = (): void => { watcher.close(); clearInterval(timer); process.off('SIGINT', finish); resolve(); };
    process.on('SIGINT', finish);
  });
}

/**
 * `mcp-lok logs NAME [-f]`: a background server's output with its supervisor's and proxy's
 * lines; `--egress`: every outbound attempt of any server, allowed or denied; `--tools`: its
 * tool pin's events.
 */
export async function runLogs(ctx: Context, args: ParsedCommand): Promise<number> {
  const [name = ''] = args.positionals;
  if (args.values.tools) {
    if (args.values.egress || args.values.follow) throw usageError(`\`--tools\` goes alone (or with \`--json\`), not with \`--${args.values.egress ? 'egress' : 'follow'}\`.`);
    const { readToolPinEvents } = await import('../../app/tool-pins.js');
    const { events } = readToolPinEvents(ctx, name);
    if (args.values.json) {
      for (const e of events) ctx.stdout.write(`${escapeControlInJson(JSON.stringify(e))}\n`);
      return EXIT.ok;
    }
    // The diff lines quote the server's texts as JSON: no control character reaches the terminal.
    for (const e of events) for (const [i, line] of e.lines.entries()) ctx.stdout.write(`${i === 0 ? e.time : ' '.repeat(e.time.length)}  ${escapeControl(line)}\n`);
    return EXIT.ok;
  }
  if (!args.values.egress) {
    if (args.values.json) throw usageError('`--json` goes with `--egress`; the server log is plain text.');
    const log = await openServerLog(ctx, name);
    await printLog(ctx, log.path, Boolean(args.values.follow), log.stillRunning);
    return EXIT.ok;
  }
  const entries = readEgressEntries(ctx, name);
  if (args.values.json) {
    for (const e of entries) ctx.stdout.write(`${escapeControlInJson(JSON.stringify(e))}\n`);
    return EXIT.ok;
  }
  ctx.stdout.write(renderTable(
    ['TIME', 'HOST', 'PORT', 'ADDRESS', 'VERDICT', 'OUT', 'IN'],
    // The host is what the sandbox asked for, and reasons quote it.
    entries.map((e) => [e.time, e.host, String(e.port), e.address ?? '-', e.allowed ? (e.failed ? `allowed, failed: ${e.failed}` : 'allowed') : `denied: ${e.reason ?? ''}`, String(e.bytesOut), String(e.bytesIn)]
      .map(escapeControl)),
    ctx.color,
  ));
  return EXIT.ok;
}
