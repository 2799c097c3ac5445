import type { Context } from '../app/context.js';
import { runServerStdio } from '../app/run-server.js';
import { completeRequest } from '../request/server-request.js';
import type { LokOptions } from '../request/npx-args.js';
import type { PackageSpec } from '../request/package-spec.js';


export interface ShimRun {
  lok: LokOptions;
  yes: boolean | undefined;
  quiet: boolean;
  packages: PackageSpec[];
  command: string | undefined;
  args: string[];
}

/** Runs what an npx command line names, in a sandbox, with the client's stdio. */
export function runShim(ctx: Context, run: ShimRun): Promise<number> {
  return runServerStdio(ctx, completeRequest({
    source: { kind: 'npx', packages: run.packages, command: run.command, allowInstall: run.yes !== false },
    args: run.args,
    lok: run.lok,
    quiet: run.quiet,
    launcher: 'npx',
  }, { configDir: ctx.paths.config, cwd: ctx.cwd, env: ctx.env }));
}
