import { attachContainer } from '../engine/containers.js';
import { ended, type StdioChannel } from './channel.js';
import { Demuxer } from './demux.js';

/**
 * Returns the channel over the engine's attach stream: stdout and stderr multiplexed in one
 * stream, stdin written to it. Works with every engine (a VM's, a remote one).
 */
export function attachChannel(): StdioChannel {
  return {
    connect: async ({ endpoint, id, io, start }) => {
      // Attached before the start, so not a byte of early output is lost.
      const stream = await attachContainer(endpoint, id, io.stdin !== undefined);
      const demux = new Demuxer(io.onStdout, io.onStderr);
      stream.on('data', (chunk: Buffer) => demux.feed(chunk));
      stream.on('error', () => {});
      io.flow?.bind(stream);
      await start();
      return { input: io.stdin ? stream : undefined, drained: ended(stream) };
    },
  };
}
