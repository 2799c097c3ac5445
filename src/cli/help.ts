import { usageError } from '../errors.js';
import { COMMANDS, findCommand, type CommandSpec, type ParsedCommand } from './commands.js';
import type { ManagerContext } from './manager-context.js';
import { readVersion } from './version.js';

/** Returns the manager's overview help. */
export function renderHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `mcp-lok ${readVersion()}: run MCP servers in locked-down containers

Usage:
  mcp-lok <command> [options]        manage sandboxed servers
  mcp-lok-npx [options] <package>    run a server from npm in a sandbox (a drop-in for npx)

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run \`mcp-lok <command> --help\` for a command's options, \`mcp-lok-npx --help\` for the shim's.
Coming next: run and start (servers over SSE and streamable HTTP), logs, and \`mcp-lok\` with no
command as an MCP server that manages the sandboxes.

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
  ctx.stdout.write(renderCommandHelp(spec));
  return 0;
}
