import { EXIT, usageError } from '../errors.js';
import { findCommand } from './commands.js';
import { parseCommandArgs } from './parse-command.js';
import { formatError } from '../format-error.js';
import { renderCommandHelp, renderHelp } from './help.js';
import { createProcessContext } from '../app/context.js';
import { readVersion } from '../version.js';

const PROG = 'mcp-lok';

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  // bin/mcp-lok starts the management server when there is no argument.
  if (first === undefined) { process.stdout.write(renderHelp()); return EXIT.ok; }
  if (first === '--help' || first === '-h') { process.stdout.write(renderHelp()); return EXIT.ok; }
  if (first === '--version' || first === '-v') { process.stdout.write(`mcp-lok ${readVersion()}\n`); return EXIT.ok; }
  const spec = findCommand(first);
  if (!spec) throw usageError(`Unknown command "${first}".`, 'Run `mcp-lok help` to see the commands.');
  if ('raw' in spec.run) {
    const code = await spec.run.raw(createProcessContext({ debug: rest.includes('--debug') || /^(1|true|yes)$/i.test(process.env.MCP_LOK_DEBUG ?? '') }), rest);
    // A foreground server's stdin may stay open (the client holds it): leave once stdout is flushed.
    process.stdout.write('', () => process.exit(code));
    return code;
  }
  const args = parseCommandArgs(spec, rest);
  if (args.help) { process.stdout.write(renderCommandHelp(spec)); return EXIT.ok; }
  return spec.run.parsed(createProcessContext({ debug: args.debug }), args);
}

const debug = process.argv.includes('--debug');
main(process.argv.slice(2)).then((code) => { process.exitCode ??= code; }, (error: unknown) => {
  const { text, exitCode } = formatError(error, PROG, debug);
  process.stderr.write(`${text}\n`);
  process.exitCode = exitCode;
});
