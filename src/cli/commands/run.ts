import type { Context } from '../../app/context.js';
import { parseRunArgs } from '../run-args.js';

/**
 * `mcp-lok run`: a server in the foreground, on this process's stdio or over HTTP;
 * Ctrl-C stops and removes what it started.
 */
export async function runRun(ctx: Context, argv: string[]): Promise<number> {
  const invocation = parseRunArgs(argv, ctx.env);
  if (invocation.kind === 'help') {
    ctx.stdout.write((await import('../help.js')).renderRunHelp());
    return 0;
  }
  const [{ completeRequest }, { runServerStdio }] = await Promise.all([import('../../request/server-request.js'), import('../../app/run-server.js')]);
  const request = completeRequest(
    { source: invocation.source, args: invocation.args, lok: invocation.lok, quiet: false, launcher: 'run' },
    { configDir: ctx.paths.config, cwd: ctx.cwd, env: ctx.env },
  );
  if (invocation.transport === 'stdio') return runServerStdio(ctx, request);
  const [{ serveHttp }, { chooseToken, reservePort }, { machineNames }] = await Promise.all([
    import('../../app/serve-http.js'), import('../../app/background.js'), import('../../http/machine-names.js'),
  ]);
  const { host } = invocation.http;
  const port = await reservePort(host, invocation.http.port);
  const token = chooseToken(host, invocation.auth);
  const serving = await serveHttp(ctx, {
    ...request, transport: invocation.transport, listen: { host, port }, targetPort: invocation.http.targetPort, extraNames: machineNames(host), token,
  });
  const how = serving.mode === 'bridge' ? 'a stdio server bridged to HTTP, one sandbox per client session' : 'behind mcp-lok\'s reverse proxy';
  ctx.log(`mcp-lok: ${serving.name} is ready at ${serving.url} (${how}); Ctrl-C stops it.`);
  if (token) ctx.log(`mcp-lok: clients must send \`Authorization: Bearer ${token}\`.`);
  return new Promise((resolve) => {
    const stop = (): void => {
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, stop);
      ctx.log(`mcp-lok: stopping ${serving.name}`);
      void serving.close().then(() => resolve(0), () => resolve(1));
    };
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, stop);
  });
}
