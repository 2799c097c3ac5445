import { usageError } from '../../errors.js';
import { buildClusterImage, buildImage, describeHomeOwner, describeImages, removeImages, removeVolumesByName, type ClusterImageRequest, type ClusterImageResult } from '../../app/images.js';
import { resolveLokOptions } from '../../request/options.js';
import { completeRequest } from '../../request/server-request.js';
import { parseImageTarget, parseServerSource } from '../../request/source.js';
import type { ParsedCommand } from '../commands.js';
import type { Context } from '../../app/context.js';
import { formatBytes, renderTable, formatAge } from '../output.js';

/** `mcp-lok image [show|build|rm [--homes] [VOLUME...]]`. */
export async function runImage(ctx: Context, args: ParsedCommand): Promise<number> {
  const [action = 'show', ...names] = args.positionals;
  if (!['show', 'build', 'rm'].includes(action)) {
    throw usageError(`Unknown image action "${action}": expected show, build or rm.`, 'Run `mcp-lok image --help`.');
  }
  const cluster = parseClusterBuild(ctx, action, names, args);
  if (cluster) {
    const result = await buildClusterImage(ctx, cluster);
    if (args.values.json) ctx.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else ctx.stderr.write(`${describeClusterImage(result)}\n`);
    return 0;
  }
  if (action !== 'rm' && (names.length > 0 || args.values.homes)) {
    throw usageError(`\`mcp-lok image ${action}\` takes no ${names.length > 0 ? 'volume names' : '--homes'}: only \`rm\` does.`, 'Run `mcp-lok image --help`.');
  }
  if (names.length > 0 && args.values.homes) {
    throw usageError('Give volume names or --homes, not both.', 'Run `mcp-lok image --help`.');
  }
  const endpoint = await ctx.engine();
  const log = (line: string): void => { ctx.stderr.write(`${line}\n`); };
  switch (action) {
    case 'show': {
      const report = await describeImages(endpoint);
      if (args.values.json) { ctx.stdout.write(`${JSON.stringify(report, null, 2)}\n`); return 0; }
      ctx.stdout.write(`Sandbox image: ${report.current.tag} (${report.current.built ? 'built' : 'not built yet: `mcp-lok image build` builds it'})\n\n`);
      if (report.images.length > 0) {
        ctx.stdout.write(renderTable(['IMAGE', 'ID', 'SIZE', 'AGE'], report.images.map((i) => [i.tag + (i.current ? ' (current)' : ''), i.id, formatBytes(i.sizeBytes), formatAge(i.createdAt, ctx.now())]), ctx.color));
        ctx.stdout.write('\n');
      }
      if (report.volumes.length > 0) {
        ctx.stdout.write(renderTable(['VOLUME', 'HOLDS'], report.volumes.map((v) => [v.name, v.kind === 'npm-cache' ? 'npm cache' : v.package ?? v.kind]), ctx.color));
      }
      if (report.homes.length > 0) {
        if (report.volumes.length > 0) ctx.stdout.write('\n');
        ctx.stdout.write(renderTable(['HOME VOLUME', 'HOME OF', 'USER', 'NOEXEC'], report.homes.map((h) => [h.name, describeHomeOwner(h), h.user ?? '-', h.noexec ? 'yes' : 'no']), ctx.color));
      }
      return 0;
    }
    case 'build': {
      const tag = await buildImage(endpoint, log);
      if (args.values.json) ctx.stdout.write(`${JSON.stringify({ image: tag })}\n`);
      else ctx.stderr.write(`The sandbox image ${tag} is ready.\n`);
      return 0;
    }
    case 'rm': {
      const result = names.length > 0
        ? await removeVolumesByName(endpoint, names, ctx.paths.state)
        : await removeImages(endpoint, { homes: Boolean(args.values.homes), stateDir: ctx.paths.state });
      if (args.values.json) { ctx.stdout.write(`${JSON.stringify(result, null, 2)}\n`); return 0; }
      for (const name of result.removed) ctx.stderr.write(`Removed ${name}\n`);
      for (const name of result.inUse) ctx.stderr.write(`Kept ${name}: a server still uses it.\n`);
      if (result.keptHomes.length > 0) {
        ctx.stderr.write(`Kept ${result.keptHomes.length} home volume${result.keptHomes.length === 1 ? '' : 's'} (servers' files): \`mcp-lok image rm VOLUME\` removes one, \`mcp-lok image rm --homes\` all.\n`);
      }
      if (result.removed.length + result.inUse.length + result.keptHomes.length === 0) ctx.stderr.write('Nothing to remove.\n');
      return 0;
    }
    default:
      return 2;
  }
}

/**
 * Returns the cluster image `image build --push REF|--tag REF SOURCE|--egress-proxy` asks for,
 * or undefined for any other image command; bad combinations are one line, before anything is made.
 */
export function parseClusterBuild(ctx: Pick<Context, 'env' | 'cwd' | 'paths'>, action: string, names: string[], args: ParsedCommand): ClusterImageRequest | undefined {
  const push = args.values.push;
  const tag = args.values.tag;
  const egress = Boolean(args.values['egress-proxy']);
  const asked = push !== undefined || tag !== undefined || egress;
  if (!asked) return undefined;
  const help = 'Run `mcp-lok image --help`.';
  if (action !== 'build') throw usageError(`--push, --tag and --egress-proxy go with \`mcp-lok image build\`, not \`${action}\`.`, help);
  if (args.values.homes) throw usageError('--homes goes with `mcp-lok image rm`, not build.', help);
  if (push !== undefined && tag !== undefined) throw usageError('Give --push REF (build, tag and push) or --tag REF (build and tag), not both.', help);
  const refText = typeof push === 'string' ? push : typeof tag === 'string' ? tag : undefined;
  if (refText === undefined) throw usageError('--egress-proxy needs --push REF or --tag REF: the reference to give the image.', 'Such as `mcp-lok image build --push registry.example.com/team/mcp-lok-egress:1 --egress-proxy`.');
  const ref = parseImageTarget(refText, push !== undefined ? '--push' : '--tag');
  if (egress) {
    if (names.length > 0) throw usageError(`--egress-proxy builds mcp-lok's egress proxy and takes no package, got ${JSON.stringify(names[0]?.slice(0, 80))}.`, help);
    return { ref, push: push !== undefined, target: { kind: 'egress-proxy' } };
  }
  if (names.length !== 1) {
    throw usageError(names.length === 0 ? 'Name the package to build into the image (npx://PACKAGE[@VERSION]), or give --egress-proxy.' : 'Give one package (npx://PACKAGE[@VERSION]) to build into the image.', 'Such as `mcp-lok image build --push registry.example.com/team/memory:1 npx://@modelcontextprotocol/server-memory`.');
  }
  const source = parseServerSource(names[0] as string);
  if (source.kind !== 'npx') throw usageError(`${source.image} is an image already: only an npx://PACKAGE is built into one.`, 'Push it with `docker push`, or name a package as npx://PACKAGE[@VERSION].');
  const lok = { ...resolveLokOptions({}, ctx.env), refreshAfterMs: undefined };
  const server = completeRequest({ source, args: [], lok, quiet: false, launcher: 'run' }, { configDir: ctx.paths.config, cwd: ctx.cwd, env: ctx.env });
  return { ref, push: push !== undefined, target: { kind: 'package', server } };
}

/** Returns what `image build --push` made, in words for stderr. */
export function describeClusterImage(result: ClusterImageResult): string {
  const what = result.kind === 'egress-proxy' ? 'the egress proxy' : (result.packages ?? []).map((p) => `${p.name}@${p.version}`).join(' ');
  const where = result.pushed ? `Pushed ${result.ref}${result.digest ? `@${result.digest}` : ''}` : `Built ${result.ref} (not pushed: --push REF pushes it)`;
  return `${where}: ${what}${result.tree ? `, tree ${result.tree} (its lockfile at /opt/mcp-lok/pkg/package-lock.json)` : ''}.`;
}
