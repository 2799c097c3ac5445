import { usageError } from '../../errors.js';
import { buildImage, describeHomeOwner, describeImages, removeImages, removeVolumesByName } from '../../app/images.js';
import type { ParsedCommand } from '../commands.js';
import type { Context } from '../../app/context.js';
import { formatBytes, renderTable, formatAge } from '../output.js';

/** `mcp-lok image [show|build|rm [--homes] [VOLUME...]]`. */
export async function runImage(ctx: Context, args: ParsedCommand): Promise<number> {
  const [action = 'show', ...names] = args.positionals;
  if (!['show', 'build', 'rm'].includes(action)) {
    throw usageError(`Unknown image action "${action}": expected show, build or rm.`, 'Run `mcp-lok image --help`.');
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
