// `mcp-lok` with no arguments: the management server, an MCP server over stdio whose tools
// manage the sandboxes. bin/mcp-lok comes here instead of the CLI when it has no argument.
import { createProcessContext } from '../app/context.js';
import { formatError } from '../format-error.js';
import { serveManagement } from './server.js';

serveManagement(createProcessContext({ debug: false })).catch((error: unknown) => {
  process.stderr.write(`${formatError(error, 'mcp-lok', false).text}\n`);
  process.exitCode = 1;
});
