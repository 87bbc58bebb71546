/**
 * Hangs under `classwise-at launch --nproc-per-node 2`: a rank stopped with SIGSTOP (rank 1, or rank 0, which
 * hosts the store), the launcher killed with SIGKILL, and a rank started with another WORLD_SIZE. Every case must
 * end, with no rank left running, well before the hard limit that each test puts on it (a regression fails the
 * test instead of hanging the suite).
 */
import { ChildProcess, spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { freePort } from '../../src/distributed/launch';

const root = path.resolve(__dirname, '..', '..');
const rankScript = path.join(root, 'test', 'helpers', 'distributed-rank.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'classwise-hangs-'));
/** --timeout of the hung-rank runs: a collective waits this long, then the failure report at most as long again. */
const TIMEOUT_SECONDS = 3;
/** A run must end within --timeout plus this: the failure report (<= --timeout) and the process exits. */
const END_SLACK_SECONDS = 10;
/** Past this the test kills everything it started and fails. */
const HARD_LIMIT_MS = 60_000;

const started: ChildProcess[] = [];
afterEach(() => {
  // Every child runs in a process group of its own (detached), which its ranks inherit: end them all.
  for (const child of started.splice(0)) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Started {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  /** Exit code and seconds since `since` (set when the fault is injected); rejects past HARD_LIMIT_MS. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  until(pattern: RegExp, stream?: 'stdout' | 'stderr'): Promise<RegExpExecArray>;
}

function startProcess(args: string[], env: NodeJS.ProcessEnv = process.env): Started {
  const child = spawn(process.execPath, args, { cwd: root, env, detached: true });
  started.push(child);
  const waiting: { pattern: RegExp; stream: 'stdout' | 'stderr'; resolve: (m: RegExpExecArray) => void; reject: (e: Error) => void }[] = [];
  const run: Started = {
    child,
    stdout: '',
    stderr: '',
    exit: new Promise((resolve, reject) => {
      const limit = setTimeout(() => {
        process.kill(-child.pid!, 'SIGKILL');
        reject(new Error(`still running after ${HARD_LIMIT_MS / 1000} s (killed):\n${run.stdout}\n${run.stderr}`));
      }, HARD_LIMIT_MS);
      child.once('exit', (code, signal) => {
        clearTimeout(limit);
        for (const w of waiting.splice(0)) w.reject(new Error(`exited with ${code ?? signal} before printing ${w.pattern}:\n${run.stdout}\n${run.stderr}`));
        resolve({ code, signal });
      });
    }),
    until: (pattern, stream = 'stdout') => {
      const seen = pattern.exec(run[stream]);
      return seen ? Promise.resolve(seen) : new Promise((resolve, reject) => waiting.push({ pattern, stream, resolve, reject }));
    },
  };
  // A test that fails before awaiting the exit must not also report an unhandled rejection.
  run.exit.catch(() => undefined);
  const take = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    run[stream] += chunk.toString();
    for (const w of waiting.filter((w) => w.stream === stream)) {
      const match = w.pattern.exec(run[stream]);
      if (match) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(match);
      }
    }
  };
  child.stdout!.on('data', take('stdout'));
  child.stderr!.on('data', take('stderr'));
  return run;
}

function launchTrain(out: string, timeoutSeconds = TIMEOUT_SECONDS): Started {
  return startProcess(['dist/cli/main.js', 'launch', '--nproc-per-node', '2', '--', 'train', '--dataset', 'mnist', '--train-per-class', '10',
    '--eval-per-class', '5', '--epochs', '50', '--batch-size', '20', '--train-steps', '1', '--eval-steps', '1', '--threads', '1',
    '--timeout', String(timeoutSeconds), '--out', out]);
}

async function rankPid(launched: Started, rank: number): Promise<number> {
  const match = await launched.until(new RegExp(`rank ${rank} of 2 \\(local ${rank}\\) pid (\\d+)`), 'stderr');
  return Number(match[1]);
}

/** Whether the process exists and is not a zombie (an exited child nobody has reaped yet). */
function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Resolves once none of the pids runs; rejects after `seconds`. Polls /proc: the ranks are not our children. */
function gone(pids: number[], seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  return new Promise((resolve, reject) => {
    const check = () => {
      const left = pids.filter(running);
      if (left.length === 0) resolve();
      else if (Date.now() > deadline) reject(new Error(`pids ${left.join(', ')} still run ${seconds} s later`));
      else setTimeout(check, 100);
    };
    check();
  });
}

test.each([
  { stopped: 1, other: 0 },
  { stopped: 0, other: 1 },
])('rank $stopped stopped with SIGSTOP mid-training: rank $other and the launcher exit 1 within --timeout plus seconds, naming it', async ({ stopped, other }) => {
  const launched = launchTrain(path.join(tmp, `stopped-${stopped}`));
  const pids = [await rankPid(launched, 0), await rankPid(launched, 1)];
  await launched.until(/^epoch 1: train loss/m);
  process.kill(pids[stopped], 'SIGSTOP');
  const since = Date.now();
  const exit = await launched.exit;
  const seconds = (Date.now() - since) / 1000;
  console.log(`rank ${stopped} stopped: the launcher exited with ${exit.code} after ${seconds.toFixed(1)} s:\n${launched.stderr}`);
  expect(exit.code).toBe(1);
  expect(seconds).toBeLessThan(TIMEOUT_SECONDS + END_SLACK_SECONDS);
  expect(launched.stderr).toContain(`error (rank ${other}): rank ${other} of 2: `);
  expect(launched.stderr).toContain(`rank ${stopped} stopped answering (died or hung`);
  expect(launched.stderr).toContain(`error: classwise-at launch: rank ${other} exited with code 1 after rank ${stopped} stopped answering (its process was stopped); the run stopped`);
  await gone(pids, 5);
});

test('a rank stopped before it joins: the rendezvous names it and every process ends', async () => {
  const launched = launchTrain(path.join(tmp, 'stopped-at-start'));
  const pid = await rankPid(launched, 1);
  process.kill(pid, 'SIGSTOP');
  const exit = await launched.exit;
  console.log(`rank 1 stopped at start: exit ${exit.code}:\n${launched.stderr}`);
  expect(exit.code).toBe(1);
  expect(launched.stderr).toMatch(/error \(rank 0\): rank 0 of 2: the process group at 127\.0\.0\.1:\d+ did not form within --timeout 3 s; never joined: rank 1/);
  await gone([pid], 5);
});

test('the launcher killed with SIGKILL takes its ranks with it', async () => {
  const launched = launchTrain(path.join(tmp, 'orphans'), 60);
  const pids = [await rankPid(launched, 0), await rankPid(launched, 1)];
  await launched.until(/^epoch 1: train loss/m);
  launched.child.kill('SIGKILL');
  await launched.exit;
  await gone(pids, 5);
});

test('a rank started with another WORLD_SIZE is named with both sizes, not as a rank that stopped answering', async () => {
  const port = await freePort();
  const job = JSON.stringify({ kind: 'train', count: 64, batchSize: 32, steps: 1, epochs: 1, timeoutSeconds: 30 });
  const rankEnv = (rank: number, worldSize: number) => ({ ...process.env, RANK: String(rank), WORLD_SIZE: String(worldSize), LOCAL_RANK: String(rank), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) });
  const ranks = [startProcess([rankScript, job], rankEnv(0, 2)), startProcess([rankScript, job], rankEnv(1, 3))];
  const since = Date.now();
  const zero = await ranks[0].exit;
  const seconds = (Date.now() - since) / 1000;
  console.log(`WORLD_SIZE 2 and 3: rank 0 exited with ${zero.code} after ${seconds.toFixed(1)} s: ${ranks[0].stderr}`);
  expect(zero.code).toBe(1);
  expect(ranks[0].stderr).toBe('error (rank 0): [ERR_DISTRIBUTED] rank 1 has WORLD_SIZE 3, rank 0 has 2: start every rank with the same WORLD_SIZE ' +
    "(classwise-at launch sets it; do not set WORLD_SIZE in one rank's environment)\n");
  // Named at the rendezvous, not after the 30 s timeout.
  expect(seconds).toBeLessThan(15);
  ranks[1].child.kill('SIGKILL');
  await ranks[1].exit;
});

test('a rank stopped before an evaluation: the other ends at the per-class sums, naming it', async () => {
  const checkpoint = path.join(tmp, 'evaluated.safetensors');
  const port = await freePort();
  const rankEnv = (rank: number) => ({ ...process.env, RANK: String(rank), WORLD_SIZE: '2', LOCAL_RANK: String(rank), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) });
  // One process writes the checkpoint both ranks evaluate.
  const trained = startProcess([rankScript, JSON.stringify({ kind: 'train', count: 32, batchSize: 32, steps: 1, epochs: 1, save: checkpoint })]);
  expect((await trained.exit).code).toBe(0);
  const job = JSON.stringify({ kind: 'evaluate', checkpoint, count: 64, batchSize: 32, timeoutSeconds: TIMEOUT_SECONDS });
  const ranks = [startProcess([rankScript, job], rankEnv(0)), startProcess([rankScript, job], rankEnv(1))];
  await ranks[1].until(/"event":"joined"/);
  ranks[1].child.kill('SIGSTOP');
  const since = Date.now();
  const zero = await ranks[0].exit;
  const seconds = (Date.now() - since) / 1000;
  console.log(`rank 1 stopped before evaluating: rank 0 exited with ${zero.code} after ${seconds.toFixed(1)} s: ${ranks[0].stderr}`);
  expect(zero.code).toBe(1);
  expect(ranks[0].stderr).toContain("[ERR_RANK_FAILED] rank 0 of 2: the evaluation's per-class sums failed: rank 1 stopped answering (died or hung) within --timeout 3 s");
  expect(seconds).toBeLessThan(TIMEOUT_SECONDS + END_SLACK_SECONDS);
});
