import { createProcessContext } from '../context.js';
import type { ManagerContext } from '../manager-context.js';
import { parseRunArgs } from '../run-args.js';

/** `mcp-lok run`: a server in the foreground, on this process's stdio; Ctrl-C stops and removes it. */
export async function runRun(_ctx: ManagerContext, argv: string[]): Promise<number> {
  const invocation = parseRunArgs(argv, process.env);
  if (invocation.kind === 'help') {
    process.stdout.write((await import('../help.js')).renderRunHelp());
    return 0;
  }
  const ctx = createProcessContext(invocation.lok.debug);
  const { runServerStdio } = await import('../../services/run-server.js');
  return runServerStdio(ctx, { source: invocation.source, args: invocation.args, lok: invocation.lok, quiet: false, launcher: 'run' });
}
