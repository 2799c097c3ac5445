import type { Context } from '../../app/context.js';
import { EXIT } from '../../errors.js';
import { parseExportArgs, renderExportHelp } from '../export-args.js';

/**
 * `mcp-lok export kubernetes`: prints the manifests of a server (YAML documents, or a JSON List
 * with `--json`) on stdout, and nothing else; it creates nothing.
 */
export async function runExport(ctx: Context, argv: string[]): Promise<number> {
  const invocation = parseExportArgs(argv, ctx.env);
  if (invocation.kind === 'help') {
    ctx.stdout.write(renderExportHelp());
    return EXIT.ok;
  }
  const [{ exportKubernetes }, { emitYamlDocuments }] = await Promise.all([import('../../app/export.js'), import('../../export/yaml.js')]);
  // Built whole before a byte is written: a refusal prints nothing on stdout.
  const objects = exportKubernetes(ctx, invocation);
  const text = invocation.json
    ? `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 2)}\n`
    : emitYamlDocuments(objects);
  ctx.stdout.write(text);
  return EXIT.ok;
}
