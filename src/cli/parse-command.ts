import { parseArgs } from 'node:util';
import { usageError } from '../errors.js';
import { toParseArgsOptions, type CommandSpec, type ParsedCommand } from './commands.js';

/** Returns node:util parseArgs' complaint as one sentence of ours. */
export function describeParseError(message: string): string {
  const missing = /^Option '(-\w, )?(--[\w-]+) <value>' argument missing/.exec(message);
  if (missing) return `\`${missing[2]}\` needs a value.`;
  const text = message.replace(/\. To specify a positional.*$/s, '.');
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/** Returns a command's parsed arguments, or throws a usage error that names the problem. */
export function parseCommandArgs(spec: CommandSpec, argv: string[]): ParsedCommand & { help: boolean; debug: boolean } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: toParseArgsOptions(spec), allowPositionals: true, strict: true });
  } catch (error) {
    throw usageError(describeParseError((error as Error).message), `Run \`mcp-lok ${spec.name} --help\`.`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const help = values.help === true;
  if (!help) {
    const { min, max, names } = spec.positionals;
    if (parsed.positionals.length < min) throw usageError(`Missing ${names[parsed.positionals.length] ?? 'an argument'}. Usage: ${spec.usage}`);
    if (parsed.positionals.length > max) throw usageError(`Unexpected argument "${parsed.positionals[max]}". Usage: ${spec.usage}`);
  }
  return { positionals: parsed.positionals, values, help, debug: values.debug === true };
}
