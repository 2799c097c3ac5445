import { EXIT } from '../../errors.js';
import { isBackgroundServer } from '../../app/servers.js';
import type { Context } from '../../app/context.js';
import { parseRunArgs } from '../run-args.js';

export { defaultServerName, reservePort } from '../../app/background.js';

/**
 * `mcp-lok start`: the same as `run` over HTTP, sent to the background under a supervisor;
 * prints the name and the URL clients should use, and the bearer token when the listener needs one.
 * `mcp-lok start NAME` starts a stopped one again, exactly as it was first started.
 */
export async function runStart(ctx: Context, argv: string[]): Promise<number> {
  const { completeRequest } = await import('../../request/server-request.js');
  const { restartBackground, startBackground } = await import('../../app/background.js');
  const [only] = argv;
  let started;
  let json = false;
  if (argv.length === 1 && only !== undefined && !only.startsWith('-') && isBackgroundServer(ctx, only)) {
    started = await restartBackground(ctx, only);
  } else {
    const invocation = parseRunArgs(argv, ctx.env, 'start');
    if (invocation.kind === 'help') {
      ctx.stdout.write((await import('../help.js')).renderRunHelp('start'));
      return EXIT.ok;
    }
    if (invocation.transport === 'stdio') throw new Error('parseRunArgs let a stdio background server through');
    json = invocation.json;
    // A bad profile is bad input: refused here, before a name, a port or a supervisor exists.
    const server = completeRequest(
      { source: invocation.source, args: invocation.args, lok: invocation.lok, quiet: false, launcher: 'start' },
      { configDir: ctx.paths.config, cwd: ctx.cwd, env: ctx.env },
    );
    started = await startBackground(ctx, {
      name: invocation.lok.name, sourceText: invocation.sourceText, server, transport: invocation.transport,
      host: invocation.http.host, port: invocation.http.port, targetPort: invocation.http.targetPort,
      auth: invocation.auth,
    });
    if (invocation.transportDefaulted) ctx.stderr.write(`mcp-lok: serving ${started.name} over streamable HTTP (use --transport sse for the older SSE transport).\n`);
  }
  if (started.already) {
    ctx.stderr.write(`${started.name} is already running.\n`);
  } else {
    const how = started.mode === 'bridge' ? 'a stdio server bridged to HTTP, one sandbox per client session' : 'it serves HTTP itself, behind mcp-lok\'s proxy';
    ctx.stderr.write(`mcp-lok: ${started.name}: ${how}; \`mcp-lok logs ${started.name}\` shows its output, \`mcp-lok stop ${started.name}\` stops it.\n`);
    if (started.token) ctx.stderr.write('mcp-lok: clients must send `Authorization: Bearer TOKEN`; the token is printed after the URL (and kept in `mcp-lok list --json`).\n');
  }
  ctx.stdout.write(json
    ? `${JSON.stringify({ name: started.name, url: started.url, mode: started.mode, token: started.token ?? null, alreadyRunning: started.already })}\n`
    : `${started.name} ${started.url}${started.token ? ` ${started.token}` : ''}\n`);
  return EXIT.ok;
}
