import { usageError } from '../errors.js';
import { COMMANDS, findCommand, type CommandSpec, type ParsedCommand } from './commands.js';
import type { ManagerContext } from './manager-context.js';
import { readVersion } from './version.js';

/** Returns the manager's overview help. */
export function renderHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `mcp-lok ${readVersion()}: run MCP servers in locked-down containers

Usage:
  mcp-lok                            an MCP server (stdio) whose tools manage the sandboxes
  mcp-lok <command> [options]        manage sandboxed servers
  mcp-lok-npx [options] <package>    run a server from npm in a sandbox (a drop-in for npx)

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run \`mcp-lok <command> --help\` for a command's options, \`mcp-lok-npx --help\` for the shim's.
Coming next: start (servers over SSE and streamable HTTP) and server logs.

Every command takes --debug. Environment: MCP_LOK_ENGINE (engine socket), NO_COLOR.
`;
}

/** Returns one command's help, from the same table that parses it. */
export function renderCommandHelp(spec: CommandSpec): string {
  const options = Object.entries(spec.options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.value ? ` ${o.value}` : ''}`;
    return [flag, o.description] as const;
  });
  options.push(['-h, --help', 'Show this help.'], ['--debug', 'Explain each step on stderr; stacks on errors.']);
  const width = Math.max(...options.map(([f]) => f.length));
  return `${spec.summary}.

Usage:
  ${spec.usage}

Options:
${options.map(([f, d]) => `  ${f.padEnd(width)}  ${d}`).join('\n')}

Examples:
${spec.examples.map((e) => `  ${e}`).join('\n')}
`;
}

/** `mcp-lok help [COMMAND]`. */
export async function runHelp(ctx: ManagerContext, args: ParsedCommand): Promise<number> {
  const [name] = args.positionals;
  if (!name) { ctx.stdout.write(renderHelp()); return 0; }
  const spec = findCommand(name);
  if (!spec) throw usageError(`Unknown command "${name}".`, 'Run `mcp-lok help` to see the commands.');
  ctx.stdout.write(spec.name === 'run' ? renderRunHelp() : renderCommandHelp(spec));
  return 0;
}

/** Returns `mcp-lok run --help`: the run-only flags, then the options it shares with the shim. */
export function renderRunHelp(): string {
  return `Run a server in the foreground on this terminal's stdio (Ctrl-C stops and removes it).

Usage:
  mcp-lok run [options] IMAGE|npx://PACKAGE[@VERSION] [--] [ARGS...]

The server is an image reference (run with its own entrypoint, as a non-root user, with the
same hardening as every mcp-lok sandbox) or an npm package (npx://, installed and run as by
mcp-lok-npx). Options go before the server; everything after it goes to the server.

Options:
  --transport stdio               How clients talk to the server (stdio; HTTP transports come with start).
  --profile, --permission-profile NAME|FILE
                                  Permission profile (default stdio: no network, no host files).
  -e, --env NAME[=VALUE]          Give the server a variable (repeatable).
  --name NAME                     Container name.
  --memory SIZE, --cpus N, --pids N
                                  Limits (defaults 1g, 2, 256).
  --ca-cert PATH, --registry URL  For npx:// installs, as in mcp-lok-npx.
  --debug                         Explain each step on stderr.
  -h, --help                      Show this help.

Examples:
  mcp-lok run npx://@modelcontextprotocol/server-memory
  mcp-lok run --name fs --profile ./fs.json npx://@modelcontextprotocol/server-filesystem -- /data
  mcp-lok run ghcr.io/example/mcp-server:1.2 -- --verbose
`;
}
