import { hostname, networkInterfaces } from 'node:os';
import { isLoopbackHost } from './host-check.js';

/** Returns the names besides loopback that clients may put in Host when the listener is bound beyond loopback. */
export function machineNames(host: string): string[] {
  if (isLoopbackHost(host)) return [];
  return [hostname(), ...Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address))];
}
