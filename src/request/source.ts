import { EXIT, LokError } from '../errors.js';
import { showInput } from './input-errors.js';
import { parsePackageSpec } from './package-spec.js';
import type { ServerSource } from './server-request.js';

const NPX_PREFIX = 'npx://';
// docker's reference grammar: [registry[:port]/]path[:tag][@digest], lower-case path components.
const DOMAIN = '(?:localhost(?::[0-9]{1,5})?|[a-zA-Z0-9-]+(?:\\.[a-zA-Z0-9-]+)+(?::[0-9]{1,5})?|[a-zA-Z0-9-]+:[0-9]{1,5})';
const PATH_PART = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
// A registry domain needs a dot, a port or `localhost`; otherwise the first part is a lower-case path.
const IMAGE_REF = new RegExp(`^(?:${DOMAIN}/)?${PATH_PART}(?:/${PATH_PART})*(?::[\\w][\\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`);

/**
 * Returns an image reference to build and push as given (`registry/repo:tag`), or throws one
 * clear line: docker's grammar, and a tag rather than a digest (a digest names what a registry
 * already holds).
 */
export function parseImageTarget(text: string, option: string): string {
  if (text.length > 255 || !IMAGE_REF.test(text)) {
    throw new LokError('INVALID_INPUT', `${option} expects an image reference such as \`registry.example.com/team/memory:1.0\`, got ${showInput(text)}.`, { exitCode: EXIT.usage, hint: 'Use lower-case letters, digits and separators, an optional registry host and an optional :tag.' });
  }
  if (text.includes('@')) {
    throw new LokError('INVALID_INPUT', `${option} needs a tag, not a digest: ${showInput(text)}.`, { exitCode: EXIT.usage, hint: 'Name the image with a :tag; the push prints the digest.' });
  }
  return text;
}

/** Returns the server source a positional names: `npx://<package>[@version]` or an image reference. */
export function parseServerSource(text: string): ServerSource {
  if (text.startsWith(NPX_PREFIX)) {
    return { kind: 'npx', packages: [parsePackageSpec(text.slice(NPX_PREFIX.length))], command: undefined, allowInstall: true };
  }
  if (text.length <= 255 && IMAGE_REF.test(text)) return { kind: 'image', image: text, allowPull: true };
  throw new LokError('INVALID_INPUT', `Expected an image reference such as \`ghcr.io/org/server:1.0\` or \`npx://package@1.2.3\`, got ${showInput(text)}.`, { exitCode: EXIT.usage, hint: 'Run `mcp-lok run --help`.' });
}
