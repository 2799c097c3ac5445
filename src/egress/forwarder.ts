import { FIFO_MOUNT } from '../sandbox/hardening.js';

/** The egress proxy's socket, in the sandbox's runtime folder (beside the pipes). */
export const EGRESS_SOCKET = 'egress.sock';
/** Where the in-sandbox forwarder listens (HTTP_PROXY points here). */
export const EGRESS_FORWARD_PORT = 3128;

/** Returns the shell prefix that starts the egress forwarder and waits until it listens. */
export function egressForwarderPrefix(): string {
  const ready = '/tmp/.mcp-lok-egress-ready';
  return `node /opt/mcp-lok/egress-forward.mjs ${FIFO_MOUNT}/${EGRESS_SOCKET} ${EGRESS_FORWARD_PORT} ${ready} </dev/null >/dev/null 2>&1 & `
    + `i=0; while [ ! -e ${ready} ] && [ $i -lt 200 ]; do sleep 0.01; i=$((i+1)); done; `;
}

/**
 * Returns the container command that starts the egress forwarder, then the server on the
 * engine's own stdio (the attach bridge): the egress proxy is in a sidecar whose socket is in
 * a volume mounted at the same place as the pipes' directory would be.
 */
export function wrapWithEgressForwarder(cmd: string[]): string[] {
  return ['/bin/sh', '-c', `unset PWD OLDPWD SHLVL; ${egressForwarderPrefix()}exec "$@"`, 'mcp-lok', ...cmd];
}
