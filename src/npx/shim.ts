import type { Context } from '../context.js';
import { completeRequest, runServerStdio } from '../services/run-server.js';
import type { LokOptions } from './parse-args.js';
import type { PackageSpec } from './package-spec.js';

export { defaultContainerName, resolveUserEnv } from '../services/run-server.js';

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
  }, { configDir: ctx.paths.config, cwd: process.cwd(), env: ctx.env }));
}
