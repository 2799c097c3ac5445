import { usageError } from '../errors.js';
import { COMMANDS, findCommand, type CommandSpec, type ParsedCommand } from './commands.js';
import type { Context } from '../app/context.js';
import { readVersion } from '../version.js';
import { flagColumnWidth, renderFlagHelp, type FlagHelp } from '../request/options.js';
import { runOptions, type RunCommand, type RunOption } from './run-args.js';

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
  if (spec.name === 'export') ctx.stdout.write((await import('./export-args.js')).renderExportHelp());
  else ctx.stdout.write(spec.name === 'run' || spec.name === 'start' ? renderRunHelp(spec.name) : renderCommandHelp(spec));
  return 0;
}

const RUN_SECTIONS: ReadonlyArray<readonly [RunOption['def']['group'], string]> = [
  ['run', 'Options:'],
  ['mcp-lok', 'Options shared with mcp-lok-npx (each also read from the variable shown; a flag wins over its variable):'],
  ['general', 'Other:'],
];

/** Returns a run/start option as its help line shows it, with the default for `command`. */
function toFlagHelp(option: RunOption, command: RunCommand): FlagHelp {
  if (option.kind === 'lok') return option.def;
  const { default: byCommand, ...def } = option.def;
  return { ...def, default: typeof byCommand === 'object' ? byCommand[command] : byCommand };
}

/** Returns `mcp-lok run --help` or `start --help`, its options rendered from the table that parses them. */
export function renderRunHelp(command: RunCommand = 'run'): string {
  const start = command === 'start';
  const spec = findCommand(command);
  if (!spec) throw new Error(`no command table entry for ${command}`);
  const options = runOptions(command);
  const width = flagColumnWidth(options.map((o) => toFlagHelp(o, command)));
  const sections = RUN_SECTIONS.map(([group, title]) => {
    const lines = options.filter((o) => o.def.group === group).flatMap((o) => renderFlagHelp(toFlagHelp(o, command), width));
    return `${title}\n${lines.join('\n')}`;
  });
  const intro = start
    ? `Start a server in the background under a supervisor, served over HTTP, and print its name
and the URL clients should use. The supervisor restarts a crashed server with backoff; after
a reboot \`mcp-lok list\` shows the server stopped, and \`mcp-lok start NAME\` starts it again.`
    : `Run a server in the foreground (Ctrl-C stops and removes it): on this terminal's stdio, or
over HTTP with --transport sse or streamable-http.`;
  return `${intro}

Usage:
${spec.usage.split(' | ').map((line) => `  ${line}`).join('\n')}

The server is an image reference (run with its own entrypoint, as a non-root user, with the
same hardening as every mcp-lok sandbox) or an npm package (npx://, installed and run as by
mcp-lok-npx). Options go before the server; everything after it goes to the server.

Over HTTP, a server that listens itself (on PORT/MCP_PORT, or --target-port) is put behind
mcp-lok's reverse proxy; its sandbox still has no network and publishes no port. A stdio
server is bridged to the transport, one sandbox per client session.

${sections.join('\n\n')}

Examples:
${spec.examples.map((e) => `  ${e}`).join('\n')}
`;
}
