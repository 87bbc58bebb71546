/** One writer per run or report folder: a second process stops naming the first; a dead writer's lock is taken over. */
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { LOCK_FILE, lockFolder } from '../../src/run/lock';

const root = path.resolve(__dirname, '../..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lock-'));

function cli(args: string[]) {
  const result = spawnSync(process.execPath, ['dist/cli/main.js', ...args], { cwd: root, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function folder(name: string): string {
  const made = path.join(dir, name);
  fs.mkdirSync(made, { recursive: true });
  return made;
}

/** The pid of a process that has already exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  return child.pid;
}

test('a held lock refuses a second writer, naming the holder; release frees it', () => {
  const run = folder('held');
  const lock = lockFolder(run, 'run folder');
  const holder = JSON.parse(fs.readFileSync(path.join(run, LOCK_FILE), 'utf8'));
  expect(holder).toMatchObject({ pid: process.pid, host: os.hostname() });
  expect(() => lockFolder(run, 'run folder')).toThrow(expect.objectContaining({
    code: 'ERR_FOLDER_LOCKED',
    message: expect.stringMatching(new RegExp(`^run folder ${run} is being written by pid ${process.pid} on ${os.hostname()} \\(.*\\); wait for it to finish or stop it, or choose another folder$`)),
  }));
  lock.release();
  expect(fs.existsSync(path.join(run, LOCK_FILE))).toBe(false);
  lockFolder(run, 'run folder').release();
  expect(fs.readdirSync(run)).toEqual([]);
});

test('the lock of a process that died on this host is taken over with a note', () => {
  const run = folder('stale');
  const pid = deadPid();
  fs.writeFileSync(path.join(run, LOCK_FILE), JSON.stringify({ pid, host: os.hostname(), command: 'train', since: '2026-01-01T00:00:00Z' }));
  const notes: string[] = [];
  const lock = lockFolder(run, 'run folder', (text) => notes.push(text));
  expect(notes).toEqual([`run folder ${run}: took over the lock of pid ${pid} on ${os.hostname()} (train, since 2026-01-01T00:00:00Z), which is no longer running`]);
  expect(JSON.parse(fs.readFileSync(path.join(run, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
  lock.release();
});

test("another host's lock is never taken over", () => {
  const run = folder('remote');
  fs.writeFileSync(path.join(run, LOCK_FILE), JSON.stringify({ pid: 1, host: 'node17.cluster', command: 'train', since: 'x' }));
  expect(() => lockFolder(run, 'run folder')).toThrow(
    `run folder ${run} is being written by pid 1 on node17.cluster (train, since x); wait for it, choose another folder, or delete ${path.join(run, LOCK_FILE)} if that process is gone`);
});

test('a second train on a folder being written stops before any work, naming the first', () => {
  const run = folder('train-busy');
  const lock = lockFolder(run, 'run folder');
  const result = cli(['train', '--out', run, '--epochs', '1', '--train-per-class', '2', '--eval-per-class', '1', '--train-steps', '1', '--eval-steps', '1', '--threads', '1']);
  lock.release();
  expect(result.status).toBe(1);
  expect(result.stderr).toMatch(new RegExp(`^error: run folder ${run} is being written by pid ${process.pid} on `));
  expect(fs.readdirSync(run)).toEqual([]);
});

test('a second study on a report folder being written stops naming the first', () => {
  const out = folder('study-busy');
  const lock = lockFolder(out, 'report folder');
  const result = cli(['study', 'epochs', '--run', folder('some-run'), '--out', out]);
  lock.release();
  expect(result.status).toBe(1);
  expect(result.stderr).toMatch(new RegExp(`^error: report folder ${out} is being written by pid ${process.pid} on `));
});
