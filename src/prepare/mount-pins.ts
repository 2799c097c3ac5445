import { closeSync, constants, fstatSync, openSync, readFileSync, readlinkSync } from 'node:fs';
import { EXIT, LokError } from '../errors.js';
import type { MountPlan } from '../sandbox/build-spec.js';
import { escapeMountInfo, findMountSource, findNestedUnderWrite, parseMountInfo, type MountPin } from '../sandbox/mount-pin.js';

function refuse(source: string, why: string): LokError {
  return new LokError('PROFILE_INVALID', `Refusing to mount ${source}: ${why}.`, {
    exitCode: EXIT.usage, hint: 'It lies inside a write grant, where the server can replace it while its container is created. Check the folder, then start the server again.',
  });
}

/**
 * Returns a pin for each bind mount whose host path lies inside a write grant: the object now
 * at that path, opened without following a final link and found by the kernel at exactly that
 * path (no link on the way), and where mountinfo says a mount of it comes from. Needs the
 * engine on this machine's kernel.
 */
export function pinNestedMounts(mounts: readonly MountPlan[], mountInfo = (): string => readFileSync('/proc/self/mountinfo', 'utf8')): MountPin[] {
  const nested = findNestedUnderWrite(mounts);
  if (nested.length === 0) return [];
  const entries = parseMountInfo(mountInfo());
  return nested.map((mount) => {
    let fd: number;
    try {
      fd = openSync(mount.source, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (error) {
      throw refuse(mount.source, `it cannot be opened (${(error as NodeJS.ErrnoException).code ?? String(error)}), or it is now a link`);
    }
    try {
      const found = readlinkSync(`/proc/self/fd/${fd}`);
      if (found !== mount.source) throw refuse(mount.source, `it is now at ${found}`);
      const st = fstatSync(fd);
      if (!st.isDirectory() && !st.isFile()) throw refuse(mount.source, 'it is no longer a folder or file');
      const from = findMountSource(entries, found);
      if (!from) throw refuse(mount.source, 'no mount of this machine holds it');
      return { target: escapeMountInfo(mount.target), ...from };
    } finally {
      closeSync(fd);
    }
  });
}
