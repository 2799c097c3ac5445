// Images for a cluster (`mcp-lok image build --push REF`): a package image (the sandbox image
// with one pinned tree installed, read-only, and mcp-lok's in-pod session bridge as its entry
// point) and the egress proxy image. What goes into them is decided here (pure: the modules
// the in-pod code needs, the Dockerfiles, the labels); app/images.ts builds and pushes.
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { LokError, EXIT } from '../errors.js';
import type { PodPackage, PodServerRecord } from '../pod/record.js';
import { LABEL } from '../sandbox/labels.js';
import type { ContextFile } from './images.js';

/** The in-pod entry points, relative to the compiled code (dist/src/). */
export const POD_ENTRIES = ['pod/serve.js', 'pod/egress.js'] as const;
/** Where the in-pod code and the server's record go in an image; the code under lib/. */
export const POD_DIR = '/opt/mcp-lok/pod';
/** Where a package image's tree goes: owned by root, nothing in it writable by the server's user. */
export const POD_TREE_DIR = '/opt/mcp-lok/pkg';
export const POD_USER = '1000:1000';
const POD_HOME = '/home/node';
/** The image's default listening ports (MCP_LOK_POD_PORT and MCP_LOK_EGRESS_PORT change them). */
const SERVE_PORT = 8080;
const EGRESS_PORT = 3128;

const RELATIVE_IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"\n]+)\1/g;

/**
 * Returns every compiled module the entries need (their relative imports, followed), in a
 * stable order; throws when one imports a package, since an image carries no node_modules of
 * mcp-lok's: the in-pod code must need only Node's own modules.
 */
export function collectModules(entries: readonly string[], read: (path: string) => string): string[] {
  const seen = new Set<string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const path = queue.shift() as string;
    if (seen.has(path)) continue;
    seen.add(path);
    for (const match of read(path).matchAll(RELATIVE_IMPORT)) {
      const spec = match[2] ?? '';
      if (spec.startsWith('node:')) continue;
      if (!spec.startsWith('./') && !spec.startsWith('../')) {
        throw new LokError('INTERNAL', `The in-pod module ${path} imports the package ${JSON.stringify(spec)}; it may import only node: modules and mcp-lok's own.`);
      }
      const target = posix.normalize(posix.join(posix.dirname(path), spec));
      if (target.startsWith('../')) throw new LokError('INTERNAL', `The in-pod module ${path} imports ${spec}, outside mcp-lok's code.`);
      queue.push(target);
    }
  }
  return [...seen].sort();
}

/** Returns the build context's files of the in-pod code: pod/lib/<module> for each module, as ES modules. */
export function readPodCode(codeDir: string): ContextFile[] {
  try {
    const read = (path: string): string => readFileSync(join(codeDir, path), 'utf8');
    const files = collectModules(POD_ENTRIES, read).map((path) => ({ name: `pod/lib/${path}`, content: readFileSync(join(codeDir, path)) }));
    return [...files, { name: 'pod/lib/package.json', content: Buffer.from('{"type":"module"}\n') }];
  } catch (error) {
    if (error instanceof LokError) throw error;
    throw new LokError('IMAGE_BUILD_FAILED', `Cannot read mcp-lok's in-pod code: ${(error as Error).message}.`, { exitCode: EXIT.engine, hint: 'Reinstall mcp-lok (or run `npm run build` in its folder).', cause: error });
  }
}

/** Returns the lines both images end with: the unprivileged user, a home, the in-pod code. */
function commonTail(entry: string, port: number): string[] {
  return [
    `COPY pod/lib/ ${POD_DIR}/lib/`,
    `ENV HOME=${POD_HOME}`,
    `USER ${POD_USER}`,
    `WORKDIR ${POD_HOME}`,
    `EXPOSE ${port}`,
    `ENTRYPOINT ["node", "${POD_DIR}/lib/${entry}"]`,
    'CMD []',
  ];
}

/**
 * Returns the package image's Dockerfile: the tree copied from the build context's `treeDir`
 * to POD_TREE_DIR (COPY makes root its owner and keeps npm's modes, so the server's user can
 * read it and write none of it), the server's record, and the session bridge as the entry point.
 */
export function packageDockerfile(treeDir: string): string {
  if (!/^[0-9a-f]{16}$/.test(treeDir)) throw new LokError('INTERNAL', `Not a tree directory: ${JSON.stringify(treeDir)}.`);
  return [
    '# mcp-lok package image: one pinned npm tree, read-only, served by the in-pod session bridge.',
    'ARG BASE',
    'FROM ${BASE}',
    `COPY ${treeDir}/ ${POD_TREE_DIR}/`,
    `COPY pod/server.json ${POD_DIR}/server.json`,
    `ENV PATH=${POD_TREE_DIR}/node_modules/.bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    ...commonTail('pod/serve.js', SERVE_PORT),
    '',
  ].join('\n');
}

/** Returns the egress proxy image's Dockerfile. */
export function egressDockerfile(): string {
  return [
    '# mcp-lok egress proxy image: the same allowlist and address checks as beside a sandbox.',
    'ARG BASE',
    'FROM ${BASE}',
    ...commonTail('pod/egress.js', EGRESS_PORT),
    '',
  ].join('\n');
}

/** Returns the record a package image's entry point reads: the bin in the image's tree, and the exact versions. */
export function podServerRecord(tree: string, binName: string, packages: readonly PodPackage[]): PodServerRecord {
  if (!/^[A-Za-z0-9@._-][A-Za-z0-9@._+-]*$/.test(binName)) throw new LokError('INVALID_INPUT', `The package's bin name ${JSON.stringify(binName.slice(0, 80))} cannot be run from an image.`, { exitCode: EXIT.failure });
  return { command: [`${POD_TREE_DIR}/node_modules/.bin/${binName}`], packages: packages.map(({ name, version, integrity }) => ({ name, version, integrity })), tree };
}

/** Returns the labels of an image for a cluster: its kind, mcp-lok's version and, for a package image, the exact versions and tree. */
export function clusterImageLabels(kind: 'package' | 'egress-proxy', version: string, record?: PodServerRecord, pinKey?: string): Record<string, string> {
  const labels: Record<string, string> = { [LABEL.managed]: 'cluster-image', [LABEL.clusterImage]: kind, [LABEL.version]: version };
  if (record) {
    labels[LABEL.packages] = JSON.stringify(record.packages);
    labels[LABEL.package] = record.packages.map((p) => `${p.name}@${p.version}`).join(' ');
    labels[LABEL.tree] = record.tree;
  }
  if (pinKey) labels[LABEL.pin] = pinKey;
  return labels;
}
