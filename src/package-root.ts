// Where mcp-lok's own files are: the one place that turns this module's location into paths,
// so that the shim's start path can run as one bundled file (dist/src/shim-bundle.cjs, at this
// same depth) and still find the reaper, the supervisor, the Dockerfile and package.json.
import { fileURLToPath } from 'node:url';

/** The package's root folder (holding package.json, bin/, dist/ and docker/), with a trailing slash. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
