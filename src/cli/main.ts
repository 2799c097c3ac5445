import { EXIT, usageError } from '../errors.js';
import { formatError } from './format-error.js';
import { readVersion } from './version.js';

const PROG = 'mcp-lok';

/** The manager's help; each command lists its own flags with `--help` as commands arrive. */
export function renderHelp(): string {
  return `mcp-lok ${readVersion()} - run MCP servers in locked-down containers

Usage:
  mcp-lok <command> [options]
  mcp-lok-npx [mcp-lok options] [npx options] <package>[@version] [args...]

Commands:
  version     Show mcp-lok's version (--json for scripts)
  help        Show this help

Coming in later releases: run, start, list, stop, rm, logs, image, and \`mcp-lok\` with no
command as an MCP server that manages the sandboxes.

Run an MCP server from npm in a sandbox (one word changed in a client config):
  { "command": "mcp-lok-npx", "args": ["-y", "@modelcontextprotocol/server-memory"] }

See \`mcp-lok-npx --help\` for the shim's options.
`;
}

/** Runs the manager command line and returns the exit code. */
export function runManager(argv: string[], out: NodeJS.WritableStream): number {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
      throw usageError('No command given: the management MCP server is not available in this version.', 'Run `mcp-lok help` to see the commands.');
    case 'help':
    case '--help':
    case '-h':
      out.write(renderHelp());
      return EXIT.ok;
    case 'version':
    case '--version':
    case '-v':
      out.write(rest.includes('--json') ? `${JSON.stringify({ version: readVersion(), node: process.version })}\n` : `mcp-lok ${readVersion()}\n`);
      return EXIT.ok;
    default:
      throw usageError(`Unknown command "${command}".`, 'Run `mcp-lok help` to see the commands.');
  }
}

try {
  process.exitCode = runManager(process.argv.slice(2), process.stdout);
} catch (error) {
  const { text, exitCode } = formatError(error, PROG, process.argv.includes('--debug'));
  process.stderr.write(`${text}\n`);
  process.exitCode = exitCode;
}
