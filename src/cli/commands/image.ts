import { usageError } from '../../errors.js';
import { buildImage, describeImages, removeImages } from '../../app/images.js';
import type { ParsedCommand } from '../commands.js';
import type { Context } from '../../app/context.js';
import { formatBytes, renderTable, formatAge } from '../output.js';

/** `mcp-lok image [show|build|rm]`. */
export async function runImage(ctx: Context, args: ParsedCommand): Promise<number> {
  const action = args.positionals[0] ?? 'show';
  if (!['show', 'build', 'rm'].includes(action)) {
    throw usageError(`Unknown image action "${action}": expected show, build or rm.`, 'Run `mcp-lok image --help`.');
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
      return 0;
    }
    case 'build': {
      const tag = await buildImage(endpoint, log);
      if (args.values.json) ctx.stdout.write(`${JSON.stringify({ image: tag })}\n`);
      else ctx.stderr.write(`The sandbox image ${tag} is ready.\n`);
      return 0;
    }
    case 'rm': {
      const result = await removeImages(endpoint);
      if (args.values.json) { ctx.stdout.write(`${JSON.stringify(result, null, 2)}\n`); return 0; }
      for (const name of result.removed) ctx.stderr.write(`Removed ${name}\n`);
      for (const name of result.inUse) ctx.stderr.write(`Kept ${name}: a server still uses it.\n`);
      if (result.removed.length + result.inUse.length === 0) ctx.stderr.write('Nothing to remove.\n');
      return 0;
    }
    default:
      return 2;
  }
}
