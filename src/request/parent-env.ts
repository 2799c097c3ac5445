// Reads the environment of the process that started mcp-lok-npx (its client), as it was when
// that process started: the I/O half of client-env.ts.
import { execFileSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { isShellProgram, parseEnvironBlock, parsePsEnvironment, type ParentRead } from './client-env.js';

const PS_TIMEOUT_MS = 2000;

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}

/**
 * Linux: /proc/PID/environ (one small file; the kernel lets the same user read it), and the
 * program from /proc/PID/exe and /proc/PID/comm. A script started by its `#!/bin/sh` line has
 * the script's name as comm, and only exe says it is a shell.
 */
function readLinux(pid: number): ParentRead {
  let block: Buffer;
  try {
    block = readFileSync(`/proc/${pid}/environ`);
  } catch (error) {
    return { ok: false, reason: `/proc/${pid}/environ cannot be read (${errorCode(error)})` };
  }
  let comm: string | undefined;
  try { comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { comm = undefined; }
  let exe: string | undefined;
  try { exe = basename(readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, '')); } catch { exe = undefined; }
  const program = [comm, exe].find((name) => name !== undefined && isShellProgram(name)) ?? comm ?? exe;
  return { ok: true, program, has: parseEnvironBlock(block) };
}

/** macOS: `ps -E` (what the kernel's KERN_PROCARGS2 holds, which Node cannot ask for itself). */
function readDarwin(pid: number): ParentRead {
  let output: string;
  try {
    output = execFileSync('/bin/ps', ['-E', '-ww', '-o', 'command=', '-p', String(pid)], { encoding: 'utf8', timeout: PS_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (error) {
    return { ok: false, reason: `ps cannot show process ${pid} (${errorCode(error)})` };
  }
  const has = parsePsEnvironment(output);
  if (!has) return { ok: false, reason: 'macOS shows no environment for it (it withholds that of Apple\'s own programs and of other users)' };
  const program = basename(output.trimStart().split(' ')[0] ?? '').replace(/^-/, '');
  return { ok: true, program: program || undefined, has };
}

const EXITED = 'its client has already exited';

/**
 * Returns what can be read of the environment the parent process `pid` started with, or why it
 * cannot be: Linux and macOS can say; Windows has no way short of reading another process's
 * memory. A pid of 1 or less means the client has already gone (the process was adopted).
 * `stillParent`, asked after the read, says whether `pid` is still this process's parent: a
 * client that exited meanwhile leaves its pid free for another process, whose environment,
 * read in its place, would make the user's variables look added.
 */
export function readParentEnv(pid: number, platform: NodeJS.Platform, stillParent: () => boolean = () => true): ParentRead {
  if (pid <= 1) return { ok: false, reason: EXITED };
  let read: ParentRead;
  if (platform === 'linux' || platform === 'android') read = readLinux(pid);
  else if (platform === 'darwin') read = readDarwin(pid);
  else if (platform === 'win32') return { ok: false, reason: 'Windows offers no way to read another process\'s environment' };
  else return { ok: false, reason: `reading another process's environment is not supported on ${platform}` };
  return read.ok && !stillParent() ? { ok: false, reason: EXITED } : read;
}
