import { EXIT } from '../errors.js';
import { parseNpxArgs } from '../request/npx-args.js';
import { renderShimHelp } from '../request/options.js';
import { createProcessContext } from '../app/context.js';
import { formatError } from '../format-error.js';
import { readVersion } from '../version.js';

const PROG = 'mcp-lok-npx';

function exitAfterFlush(code: number): void {
  // Our stdin may stay open (the client holds it): leave explicitly once stdout is flushed.
  process.stdout.write('', () => process.exit(code));
}

async function main(argv: string[]): Promise<number> {
  const debugRequested = argv.includes('--debug') || /^(1|true|yes)$/i.test(process.env.MCP_LOK_DEBUG ?? '');
  try {
    const invocation = parseNpxArgs(argv, process.env);
    if (invocation.kind === 'help') { process.stdout.write(renderShimHelp()); return EXIT.ok; }
    if (invocation.kind === 'version') { process.stdout.write(`${readVersion()}\n`); return EXIT.ok; }
    const ctx = createProcessContext({ debug: invocation.lok.debug });
    // The client that started us; read now, since a process whose parent exits is adopted by another.
    const parent = process.ppid;
    const [{ runShim }, { readParentEnv }] = await Promise.all([import('./run.js'), import('../request/parent-env.js')]);
    // process.ppid is asked again after the read: it changes when the client exits.
    return await runShim(ctx, invocation, () => readParentEnv(parent, process.platform, () => process.ppid === parent));
  } catch (error) {
    const { text, exitCode } = formatError(error, PROG, debugRequested);
    process.stderr.write(`${text}\n`);
    // The shim's own failures follow `docker run`: usage errors are 125 there too.
    return exitCode === EXIT.usage || exitCode === EXIT.failure ? EXIT.engine : exitCode;
  }
}

// A client that closes our stdout must not crash us with EPIPE; the bridge notices it.
process.stdout.on('error', () => {});
main(process.argv.slice(2)).then(exitAfterFlush, (error: unknown) => {
  process.stderr.write(`${PROG}: internal error: ${String(error)}\n`);
  exitAfterFlush(EXIT.engine);
});
