import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Creates a directory to bind-mount into one sandbox (pipes, the egress socket): 0711 inside a
 * 0700 parent, so the sandbox user can reach what is in it and no other host user can.
 */
export async function createSandboxDir(parent: string, name: string): Promise<string> {
  await mkdir(parent, { recursive: true, mode: 0o700 });
  await chmod(parent, 0o700);
  const dir = join(parent, name);
  await mkdir(dir, { mode: 0o711 });
  await chmod(dir, 0o711);
  return dir;
}
