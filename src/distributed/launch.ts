/**
 * A local launcher with torchrun's contract: starts this machine's ranks of a data-parallel run, each with MASTER_ADDR,
 * MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE and OMP_NUM_THREADS set; forwards SIGINT / SIGTERM /
 * SIGHUP to them; when one rank fails, stops the others and reports which rank failed and how. Each rank gets the
 * launcher's pid (CLASSWISE_LAUNCHER_PID) and dies with the launcher, even when it is killed with SIGKILL.
 */
import { ChildProcess, spawn } from 'child_process';
import net from 'net';
import os from 'os';

import fs from 'fs';

import { ClasswiseError } from '../errors';
import { DEFAULT_MASTER_PORT } from './environment';
import { LAUNCHER_PID_VARIABLE } from './rank-process';

export interface LaunchOptions {
  nprocPerNode: number;
  nnodes: number;
  nodeRank: number;
  masterAddr: string;
  /** undefined: a free port on a single node, else torchrun's default 29500. */
  masterPort?: number;
  /** Program and arguments each rank runs (node and the CLI for `classwise-at launch`). */
  command: string;
  args: string[];
  /** Seconds the other ranks get to stop after SIGTERM before SIGKILL. */
  stopGraceSeconds?: number;
  log?: (line: string) => void;
}

export interface LaunchResult {
  exitCode: number;
  /** The first rank that failed, and how ("exited with code 1", "was killed by SIGKILL"). */
  failure?: { rank: number; how: string };
  /** Ranks found stopped (SIGSTOP, a debugger) when the first failed: the ones that stopped answering. */
  stopped?: number[];
}

const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const DEFAULT_STOP_GRACE_SECONDS = 10;

/** A port no one listens on now (the kernel picks it), for a one-machine run. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Whether the process is stopped (state T: SIGSTOP, SIGTSTP) or traced (t), from Linux's /proc; false elsewhere. */
function isStopped(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state follows the command name, which is in parentheses and may itself hold ") ".
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'T' || state === 't';
  } catch {
    return false;
  }
}

export async function launch(options: LaunchOptions): Promise<LaunchResult> {
  const log = options.log ?? ((line: string) => console.error(line));
  if (options.nodeRank >= options.nnodes) {
    throw new ClasswiseError('ERR_OUT_OF_RANGE', `--node-rank ${options.nodeRank} must be below --nnodes ${options.nnodes} (nodes are 0 .. nnodes - 1)`);
  }
  if (options.nnodes > 1 && options.masterPort === undefined) log(`classwise-at launch: --master-port not given; every node uses ${DEFAULT_MASTER_PORT}`);
  const masterPort = options.masterPort ?? (options.nnodes === 1 ? await freePort() : DEFAULT_MASTER_PORT);
  const worldSize = options.nprocPerNode * options.nnodes;
  // Each rank gets its share of this machine's cores (torchrun sets 1 and warns; a CPU rank needs its cores).
  const threads = process.env.OMP_NUM_THREADS ?? String(Math.max(1, Math.floor(os.cpus().length / options.nprocPerNode)));
  const children: { rank: number; child: ChildProcess }[] = [];
  let failure: LaunchResult['failure'];
  let stopped: number[] | undefined;
  let stopping = false;
  let killTimer: NodeJS.Timeout | undefined;

  const signalRunning = (signal: NodeJS.Signals) => {
    for (const { child } of children) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      child.kill(signal);
      // A stopped rank takes the signal only once it runs again.
      if (signal !== 'SIGKILL') child.kill('SIGCONT');
    }
  };
  const stopOthers = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    signalRunning(signal);
    killTimer = setTimeout(() => signalRunning('SIGKILL'), 1000 * (options.stopGraceSeconds ?? DEFAULT_STOP_GRACE_SECONDS));
  };
  // A signal to the launcher goes to every rank still running, once; the first also starts the grace period.
  const forward = (signal: NodeJS.Signals) => {
    log(`classwise-at launch: ${signal}: passing it to the ${children.length} local ranks`);
    if (stopping) signalRunning(signal);
    else stopOthers(signal);
  };
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);

  const exits: Promise<void>[] = [];
  for (let localRank = 0; localRank < options.nprocPerNode; localRank++) {
    const rank = options.nodeRank * options.nprocPerNode + localRank;
    const env = {
      ...process.env,
      MASTER_ADDR: options.masterAddr,
      MASTER_PORT: String(masterPort),
      RANK: String(rank),
      WORLD_SIZE: String(worldSize),
      LOCAL_RANK: String(localRank),
      LOCAL_WORLD_SIZE: String(options.nprocPerNode),
      GROUP_RANK: String(options.nodeRank),
      OMP_NUM_THREADS: threads,
      [LAUNCHER_PID_VARIABLE]: String(process.pid),
    };
    const child = spawn(options.command, options.args, { env, stdio: 'inherit' });
    children.push({ rank, child });
    log(`classwise-at launch: rank ${rank} of ${worldSize} (local ${localRank}) pid ${child.pid}, rendezvous ${options.masterAddr}:${masterPort}, ${threads} thread${threads === '1' ? '' : 's'}`);
    exits.push(
      new Promise((resolve) => {
        child.once('exit', (code, signal) => {
          if ((code !== 0 || signal) && !failure && !stopping) {
            failure = { rank, how: signal ? `was killed by ${signal}` : `exited with code ${code}` };
            log(`classwise-at launch: rank ${rank} (pid ${child.pid}) ${failure.how}; stopping the other ranks`);
            const found = children.filter((c) => c.rank !== rank && isStopped(c.child.pid)).map((c) => c.rank);
            if (found.length > 0) {
              stopped = found;
              log(`classwise-at launch: rank${found.length > 1 ? 's' : ''} ${found.join(', ')} ${found.length > 1 ? 'are' : 'is'} stopped (SIGSTOP or a debugger) and stopped answering`);
            }
            stopOthers('SIGTERM');
          }
          resolve();
        });
        child.once('error', (error) => {
          failure ??= { rank, how: `could not start (${error.message})` };
          stopOthers('SIGTERM');
          resolve();
        });
      }),
    );
  }
  await Promise.all(exits);
  if (killTimer) clearTimeout(killTimer);
  for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
  const exitCode = failure ? 1 : children.some(({ child }) => child.exitCode !== 0) ? 1 : 0;
  return { exitCode, failure, stopped };
}
