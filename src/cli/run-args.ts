import { EXIT, LokError, usageError } from '../errors.js';
import { showInput } from '../npx/input-errors.js';
import { findOption, resolveLokOptions, type LokOptions, type RawLokValues } from '../npx/options.js';
import { parsePackageSpec } from '../npx/package-spec.js';
import type { ServerSource } from '../services/run-server.js';

export type Transport = 'stdio' | 'sse' | 'streamable-http';

/** What `mcp-lok run` was asked to do. */
export type RunInvocation =
  | { kind: 'help' }
  | { kind: 'run'; transport: Transport; source: ServerSource; args: string[]; lok: LokOptions };

const HINT = 'Run `mcp-lok run --help`.';
const TRANSPORTS: readonly Transport[] = ['stdio', 'sse', 'streamable-http'];
const NPX_PREFIX = 'npx://';
// docker's reference grammar: [registry[:port]/]path[:tag][@digest], lower-case path components.
const DOMAIN = '(?:localhost(?::[0-9]{1,5})?|[a-zA-Z0-9-]+(?:\\.[a-zA-Z0-9-]+)+(?::[0-9]{1,5})?|[a-zA-Z0-9-]+:[0-9]{1,5})';
const PATH_PART = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
// A registry domain needs a dot, a port or `localhost`; otherwise the first part is a lower-case path.
const IMAGE_REF = new RegExp(`^(?:${DOMAIN}/)?${PATH_PART}(?:/${PATH_PART})*(?::[\\w][\\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`);

/** Returns the server source a positional names: `npx://<package>[@version]` or an image reference. */
export function parseServerSource(text: string): ServerSource {
  if (text.startsWith(NPX_PREFIX)) {
    return { kind: 'npx', packages: [parsePackageSpec(text.slice(NPX_PREFIX.length))], command: undefined, allowInstall: true };
  }
  if (text.length <= 255 && IMAGE_REF.test(text)) return { kind: 'image', image: text };
  throw new LokError('INVALID_INPUT', `Expected an image reference such as \`ghcr.io/org/server:1.0\` or \`npx://package@1.2.3\`, got ${showInput(text)}.`, { exitCode: EXIT.usage, hint: HINT });
}

/**
 * Returns `mcp-lok run`'s invocation. Like `docker run`, options come before the server
 * source; everything after it (an optional `--` aside) goes to the server.
 */
export function parseRunArgs(argv: string[], env: Readonly<Record<string, string | undefined>>): RunInvocation {
  const raw: RawLokValues = {};
  let transport: Transport = 'stdio';
  let i = 0;
  const value = (flag: string, inline: string | undefined): string => {
    if (inline !== undefined) return inline;
    const next = argv[++i];
    if (next === undefined || (next.startsWith('-') && next !== '-')) throw usageError(`Missing the value of \`${flag}\`.`, HINT);
    return next;
  };
  for (; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') { i++; break; }
    if (!arg.startsWith('-') || arg === '-') break;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    if (flag === '-h' || flag === '--help') return { kind: 'help' };
    if (flag === '--transport') {
      const t = value(flag, inline);
      if (!(TRANSPORTS as readonly string[]).includes(t)) throw usageError(`Expected \`--transport\` to be stdio, sse or streamable-http, got ${showInput(t)}.`, HINT);
      transport = t as Transport;
      continue;
    }
    if (flag === '--port' || flag === '--target-port' || flag === '--host') {
      throw usageError(`\`${flag}\` belongs to the HTTP transports, which \`mcp-lok run\` does not serve yet.`, 'Run stdio servers with `--transport stdio` (the default).');
    }
    const found = findOption(flag);
    if (!found || found.def.group !== 'mcp-lok') throw usageError(`Unknown option ${showInput(flag)}; options go before the image or npx:// package.`, HINT);
    const key = found.key as keyof LokOptions;
    (raw[key] ??= []).push(found.def.value ? value(flag, inline) : inline ?? 'true');
  }
  const lok = resolveLokOptions(raw, env);
  const [first, ...rest] = argv.slice(i);
  if (first === undefined) throw usageError('Missing the server to run: an image reference or npx://package.', HINT);
  if (transport !== 'stdio') {
    throw usageError(`The ${transport} transport is not available in this version of \`mcp-lok run\`.`, 'Run stdio servers (the default); HTTP transports come with `mcp-lok start`.');
  }
  const args = rest[0] === '--' ? rest.slice(1) : rest;
  return { kind: 'run', transport, source: parseServerSource(first), args, lok };
}
