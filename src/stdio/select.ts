import type { EngineEndpoint } from '../engine/endpoint.js';
import { LokError, EXIT } from '../errors.js';
import { isInside } from '../sandbox/grant-policy.js';

/**
 * Returns which stdio bridge to use. Named pipes need the engine on this very kernel (a native
 * Linux daemon, rootful or rootless); engines inside a VM (Docker Desktop, Colima, OrbStack,
 * Rancher Desktop, Podman machine) or across TCP get the engine's attach stream.
 * MCP_LOK_BRIDGE=attach|fifo overrides.
 */
export function chooseStdioChannel(
  endpoint: EngineEndpoint,
  env: Readonly<Record<string, string | undefined>>,
  home: string,
  platform: NodeJS.Platform,
): 'attach' | 'fifo' {
  const forced = env.MCP_LOK_BRIDGE;
  if (forced === 'attach' || forced === 'fifo') return forced;
  if (forced) {
    throw new LokError('INVALID_INPUT', `Expected MCP_LOK_BRIDGE to be \`attach\` or \`fifo\`, got \`${forced}\`.`, { exitCode: EXIT.usage });
  }
  if (platform !== 'linux' || endpoint.kind !== 'unix') return 'attach';
  // A home of `/` says nothing about where the engine runs.
  return home !== '/' && isInside(endpoint.socketPath, home) ? 'attach' : 'fifo';
}
