import * as fs from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { ioError, outOfRange } from '../errors';

/**
 * Replaces `filePath` with `data` so that a reader (or a crash) sees either the old file or the whole new one,
 * never a half-written checkpoint. Synchronous: a training loop must not move on before the file is safe.
 */
export function writeFileAtomic(filePath: string, data: Buffer | string): void {
  // Same folder as the target, so the rename stays on one filesystem and is atomic.
  const tempPath = `${filePath}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  let fd: number | undefined;
  try {
    fd = fs.openSync(tempPath, 'wx');
    fs.writeFileSync(fd, data);
    // Flush before renaming, or a crash could leave the new name pointing at empty blocks.
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tempPath, filePath);
  } catch (error) {
    if (fd !== undefined) closeQuietly(fd);
    removeQuietly(tempPath);
    throw ioError(error, 'write', filePath);
  }
  syncDirectoryBestEffort(path.dirname(filePath));
}

/**
 * Appends one line (e.g. a JSON record to metrics.jsonl) and flushes it to disk, so the log survives a crash
 * up to the last finished epoch. The line must not contain a newline; one is added.
 */
export function appendLineDurable(filePath: string, line: string): void {
  if (/[\r\n]/.test(line)) {
    throw outOfRange(`line to append to ${filePath} contains a line break, expected a single line: ${JSON.stringify(line.slice(0, 80))}`);
  }
  let fd: number | undefined;
  try {
    fd = fs.openSync(filePath, 'a');
    fs.writeFileSync(fd, `${line}\n`);
    fs.fsyncSync(fd);
  } catch (error) {
    throw ioError(error, 'append to', filePath);
  } finally {
    if (fd !== undefined) closeQuietly(fd);
  }
}

// Persists the rename itself; not every platform can open or fsync a directory (Windows), hence best effort.
function syncDirectoryBestEffort(directory: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(directory, 'r');
    fs.fsyncSync(fd);
  } catch {
    // The data is already renamed into place; losing only the directory flush is acceptable.
  } finally {
    if (fd !== undefined) closeQuietly(fd);
  }
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // Already failing; the original error is the one to report.
  }
}

function removeQuietly(filePath: string): void {
  try {
    fs.unlinkSync(filePath);
  } catch {
    // The temp file may never have been created.
  }
}

const TEMP_FILE = /\.tmp-(\d+)-[0-9a-f]{12}$/;

/**
 * Removes the temp files writeFileAtomic leaves behind when its process is killed mid-write (name.tmp-PID-HEX),
 * except those of a process still running. Returns the files removed.
 */
export function removeLeftoverTempFiles(directory: string): string[] {
  if (!fs.existsSync(directory) || !fs.statSync(directory).isDirectory()) return [];
  const removed: string[] = [];
  for (const name of fs.readdirSync(directory)) {
    const match = TEMP_FILE.exec(name);
    if (!match || processIsRunning(Number(match[1]))) continue;
    const file = path.join(directory, name);
    removeQuietly(file);
    if (!fs.existsSync(file)) removed.push(file);
  }
  return removed;
}

function processIsRunning(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
