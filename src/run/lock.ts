/**
 * One writer per folder: a run folder (train) or a report folder (study) holds LOCK_FILE while a process writes
 * it, with that process's pid and host. A second process stops naming the first; a lock left by a process that
 * died on this host (kill -9, power loss) is taken over with a note.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';

import { ClasswiseError } from '../errors';

export const LOCK_FILE = '.classwise-at.lock';

/** What a lock file records about its holder. */
export interface LockHolder {
  pid: number;
  host: string;
  command: string;
  since: string;
}

export interface FolderLock {
  readonly file: string;
  /** Removes the lock file if it is still this process's (idempotent). */
  release(): void;
}

function describe(holder: LockHolder): string {
  return `pid ${holder.pid} on ${holder.host} (${holder.command}, since ${holder.since})`;
}

function readHolder(file: string): LockHolder | undefined {
  try {
    const holder = JSON.parse(fs.readFileSync(file, 'utf8')) as LockHolder;
    return Number.isInteger(holder?.pid) && typeof holder.host === 'string' ? holder : undefined;
  } catch {
    return undefined;
  }
}

/** A process of this host is alive when signal 0 reaches it (EPERM: alive, another user's). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes `folder`'s lock for this process, or throws ERR_FOLDER_LOCKED naming the holder. `what` names the folder
 * in messages ('run folder', 'report folder'); `note` hears about a stale lock taken over.
 */
export function lockFolder(folder: string, what: string, note?: (text: string) => void): FolderLock {
  const file = path.join(folder, LOCK_FILE);
  const mine: LockHolder = {
    pid: process.pid,
    host: os.hostname(),
    command: process.argv.slice(2, 4).join(' ') || 'node',
    since: new Date().toISOString().slice(0, 19) + 'Z',
  };
  // Written whole under a private name, then linked: the lock file appears complete or not at all.
  const staging = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(staging, JSON.stringify(mine) + '\n');
    for (let attempt = 0; ; attempt++) {
      try {
        fs.linkSync(staging, file);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
      }
      const holder = readHolder(file);
      if (holder && holder.host !== mine.host) {
        throw new ClasswiseError('ERR_FOLDER_LOCKED', `${what} ${folder} is being written by ${describe(holder)}; ` +
          `wait for it, choose another folder, or delete ${file} if that process is gone`);
      }
      if (holder && alive(holder.pid)) {
        throw new ClasswiseError('ERR_FOLDER_LOCKED', `${what} ${folder} is being written by ${describe(holder)}; ` +
          'wait for it to finish or stop it, or choose another folder');
      }
      note?.(holder
        ? `${what} ${folder}: took over the lock of ${describe(holder)}, which is no longer running`
        : `${what} ${folder}: took over an unreadable lock file ${file}`);
      fs.rmSync(file, { force: true });
    }
  } catch (error) {
    if (error instanceof ClasswiseError) throw error;
    // Nobody can write a read-only folder: there is nothing to lock (a finished run may still be resumed there).
    if ((error as NodeJS.ErrnoException).code === 'EROFS') return { file, release: () => undefined };
    throw new ClasswiseError('ERR_IO', `${what} ${folder}: cannot create its lock file ${file} (${(error as Error).message}); check that the folder is writable`);
  } finally {
    fs.rmSync(staging, { force: true });
  }
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.removeListener('exit', release);
    const holder = readHolder(file);
    if (holder && holder.pid === mine.pid && holder.host === mine.host) fs.rmSync(file, { force: true });
  };
  // A process that ends without reaching release (an error, process.exit) still frees the folder.
  process.on('exit', release);
  return { file, release };
}
