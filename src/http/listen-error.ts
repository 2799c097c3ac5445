import { LokError, EXIT } from '../errors.js';

/** Returns a people's error for a listener that could not bind. */
export function listenError(error: unknown, listen: { host: string; port: number }): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    return new LokError('PORT_IN_USE', `Port ${listen.port} on ${listen.host} is already in use.`, { exitCode: EXIT.failure, hint: 'Choose another --port, or leave it out to get a free one.' });
  }
  if (code === 'EADDRNOTAVAIL' || code === 'EACCES') {
    return new LokError('INVALID_INPUT', `Cannot listen on ${listen.host}:${listen.port} (${code}).`, { exitCode: EXIT.usage, hint: 'Use an address of this machine with --host, and a port above 1023.' });
  }
  return error;
}
