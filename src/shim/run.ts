import type { Context } from '../app/context.js';
import { runServerStdio } from '../app/run-server.js';
import { chooseClientEnv, type ParentRead } from '../request/client-env.js';
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

/**
 * Returns the variables the client's config added for the server (unless `--client-env off`),
 * and the stderr line saying which ones pass, or why none can: never their values.
 */
export function resolveClientEnv(ctx: Context, lok: LokOptions, readParent: () => ParentRead): { env: Record<string, string>; notice: string | undefined } {
  // Variables named with -e make the list explicit: exactly those pass (what `mcp-lok wrap`
  // writes). A client that adds to its own environment while it runs (.env files loaded by
  // Gemini CLI, say) then cannot make a secret look added for the server.
  if (!lok.clientEnv || lok.env.length > 0) return { env: {}, notice: undefined };
  const chosen = chooseClientEnv(ctx.env, readParent());
  if (chosen.kind === 'unknown') {
    return { env: {}, notice: `mcp-lok: no variable from the client's config is passed to the server: ${chosen.reason}; name each one it needs with -e NAME before the package (--client-env off silences this).` };
  }
  const shown = Object.keys(chosen.env).sort();
  const notice = shown.length > 0 ? `mcp-lok: passing ${shown.join(', ')} to the server: set by the client for it, not inherited (-e NAME passes only the names given; --client-env off, only -e).` : undefined;
  return { env: chosen.env, notice };
}

/** Runs what an npx command line names, in a sandbox, with the client's stdio. */
export function runShim(ctx: Context, run: ShimRun, readParent: () => ParentRead): Promise<number> {
  const client = resolveClientEnv(ctx, run.lok, readParent);
  return runServerStdio(ctx, completeRequest({
    source: { kind: 'npx', packages: run.packages, command: run.command, allowInstall: run.yes !== false },
    args: run.args,
    lok: run.lok,
    quiet: run.quiet,
    launcher: 'npx',
    notices: client.notice ? [client.notice] : undefined,
  }, { configDir: ctx.paths.config, cwd: ctx.cwd, env: ctx.env, clientEnv: client.env }));
}
