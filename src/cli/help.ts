import { usageError } from '../errors.js';
import { COMMANDS, findCommand, type CommandSpec, type ParsedCommand } from './commands.js';
import type { Context } from '../app/context.js';
import { readVersion } from '../version.js';

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
export async function runHelp(ctx: Context, args: ParsedCommand): Promise<number> {
  const [name] = args.positionals;
  if (!name) { ctx.stdout.write(renderHelp()); return 0; }
  const spec = findCommand(name);
  if (!spec) throw usageError(`Unknown command "${name}".`, 'Run `mcp-lok help` to see the commands.');
  ctx.stdout.write(spec.name === 'run' || spec.name === 'start' ? renderRunHelp(spec.name) : renderCommandHelp(spec));
  return 0;
}

/** Returns `mcp-lok run --help` or `start --help`: their flags, then the options they share with the shim. */
export function renderRunHelp(command: 'run' | 'start' = 'run'): string {
  const start = command === 'start';
  const intro = start
    ? `Start a server in the background under a supervisor, served over HTTP, and print its name
and the URL clients should use. The supervisor restarts a crashed server with backoff; after
a reboot \`mcp-lok list\` shows the server stopped, and \`mcp-lok start NAME\` starts it again.`
    : `Run a server in the foreground (Ctrl-C stops and removes it): on this terminal's stdio, or
over HTTP with --transport sse or streamable-http.`;
  return `${intro}

Usage:
  mcp-lok ${command} [options] IMAGE|npx://PACKAGE[@VERSION] [--] [ARGS...]${start ? '\n  mcp-lok start NAME             Start a stopped background server again.' : ''}

The server is an image reference (run with its own entrypoint, as a non-root user, with the
same hardening as every mcp-lok sandbox) or an npm package (npx://, installed and run as by
mcp-lok-npx). Options go before the server; everything after it goes to the server.

Over HTTP, a server that listens itself (on PORT/MCP_PORT, or --target-port) is put behind
mcp-lok's reverse proxy; its sandbox still has no network and publishes no port. A stdio
server is bridged to the transport, one sandbox per client session.

Options:
  --transport stdio|sse|streamable-http
                                  How clients reach the server (default ${start ? 'streamable-http' : 'stdio'}).
  --port PORT                     Host port for HTTP transports (default: a free one).
  --host ADDRESS                  Address to listen on (default 127.0.0.1; 0.0.0.0 exposes it to the network,
                                  and clients then need the bearer token printed after the URL).
  --auth                          Require the bearer token on loopback too.
  --target-port PORT              Port the server listens on in its sandbox (default 8080, given as PORT and MCP_PORT).
  --profile, --permission-profile NAME|FILE
                                  Permission profile (default stdio: no network, no host files).
  -e, --env NAME[=VALUE]          Give the server a variable (repeatable).
  --name NAME                     Server name${start ? ' (default: from the package or image)' : ''}.
  --memory SIZE, --cpus N, --pids N
                                  Limits (defaults 1g, 2, 256).
  --ca-cert PATH, --registry URL  For npx:// installs, as in mcp-lok-npx.
  --debug                         Explain each step on stderr.${start ? '\n  --json                          Print {"name", "url", "mode", "token"} as JSON instead of `NAME URL [TOKEN]`.' : ''}
  -h, --help                      Show this help.

Examples:
${start ? `  mcp-lok start --name memory --port 8082 npx://@modelcontextprotocol/server-memory
  mcp-lok start --transport streamable-http --name everything --port 8081 npx://@modelcontextprotocol/server-everything -- streamableHttp
  mcp-lok start memory` : `  mcp-lok run npx://@modelcontextprotocol/server-memory
  mcp-lok run --transport sse --name my-mcp-server --port 8080 my-mcp-server-image:latest -- my-mcp-server-args
  mcp-lok run --name fs --profile ./fs.json npx://@modelcontextprotocol/server-filesystem -- /data`}
`;
}
