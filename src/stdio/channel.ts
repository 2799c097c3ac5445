import type { ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { EngineEndpoint } from '../engine/endpoint.js';
import type { OutputFlow } from './output-flow.js';

export interface RunIo {
  /** Bytes for the server's stdin; its end closes the server's stdin. Omit for no stdin. */
  stdin?: Readable;
  /**
   * The process's own stdin/stdout descriptors: with the named-pipe bridge they are relayed
   * by `cat` instead of `stdin`/`onStdout`, and must not have been read by Node.
   */
  fds?: { stdin: number; stdout: number };
  /** With `fds`: bytes already read from the client's stdin (its first line), written to the server before the relay takes over. */
  stdinPrefix?: Buffer;
  onStdout: (chunk: Buffer) => void;
  /**
   * With the named-pipe relay (`fds`): also give this a copy of the server's stdout, read from
   * a pipe that `tee` writes after the client's (the client's bytes never wait for it).
   */
  tapStdout?: ((chunk: Buffer) => void) & { end?: () => void };
  onStderr: (chunk: Buffer) => void;
  /**
   * Bound to the stream `onStdout` is fed from, so its consumer can stop reading the server
   * (with the attach bridge its stderr waits too: both share the engine's stream).
   */
  flow?: OutputFlow;
  /**
   * With the named-pipe bridge, relay the server's stderr to this descriptor with `cat`
   * instead of `onStderr`: a background server's chatter then costs the supervisor (and the
   * proxy sharing its event loop) nothing.
   */
  stderrFd?: number;
}

/** The server's stdio once connected. */
export interface Connected {
  /** The writable end of the server's stdin, if we feed it from `io.stdin`. */
  input: Writable | undefined;
  /** Resolves when the server's output streams have ended. */
  drained: Promise<void>;
}

/** What a channel gets to connect one container. */
export interface ChannelSetup {
  endpoint: EngineEndpoint;
  /** The created (not yet started) container. */
  id: string;
  io: RunIo;
  /** Starts the container: a channel calls it once, when its end is ready. */
  start: () => Promise<void>;
  /** Resolves with the exit code once the container has exited. */
  exited: Promise<number>;
  /** A relay process of ours: killed when the run ends, and by the reaper if this process dies. */
  track: (relay: ChildProcess) => void;
  /** Stops the server a grace period after its input ended. */
  stopLater: () => void;
}

/**
 * One way a container's stdio reaches this process: the engine's attach stream (any engine)
 * or named pipes mounted into the container (an engine on this machine's kernel).
 */
export interface StdioChannel {
  /** Connects the server's stdio and starts the container; undefined when it exited before connecting. */
  connect: (setup: ChannelSetup) => Promise<Connected | undefined>;
}

/** Resolves when a stream has ended or closed. */
export function ended(stream: Readable): Promise<void> {
  return new Promise((resolve) => { stream.once('end', resolve); stream.once('close', resolve); });
}
