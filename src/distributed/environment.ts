/**
 * Which rank this process is, from the launchers' environment contracts: torchrun's (MASTER_ADDR, MASTER_PORT,
 * RANK, WORLD_SIZE, LOCAL_RANK; TORCHELASTIC_USE_AGENT_STORE, TORCHELASTIC_RESTART_COUNT), which
 * `classwise-at launch` also sets, and Slurm's srun (SLURM_PROCID, SLURM_STEP_NUM_TASKS or SLURM_NTASKS,
 * SLURM_LOCALID, with MASTER_ADDR / MASTER_PORT or the first node of SLURM_JOB_NODELIST). No variables: one process.
 */
import { ClasswiseError } from '../errors';

export interface RankEnvironment {
  rank: number;
  worldSize: number;
  localRank: number;
  masterAddr: string;
  masterPort: number;
  /** torchrun's agent hosts the store (TORCHELASTIC_USE_AGENT_STORE=True); else rank 0 hosts it. */
  useAgentStore: boolean;
  restartCount: number;
  /** Which contract it came from, for messages. */
  launcher: 'torchrun' | 'slurm';
}

/** torchrun's default port (and ours when Slurm names none). */
export const DEFAULT_MASTER_PORT = 29500;

function distributedError(message: string): ClasswiseError {
  return new ClasswiseError('ERR_DISTRIBUTED', message);
}

function integerVariable(env: NodeJS.ProcessEnv, name: string, min: number, max: number, meaning: string): number {
  const text = env[name];
  const value = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
    throw distributedError(`${name} is ${text === undefined ? 'not set' : JSON.stringify(text)}; expected an integer in [${min}, ${max}] (${meaning})`);
  }
  return value;
}

/** The first host of a Slurm node list: "node[03-05,07],gpu1" -> "node03". */
export function firstSlurmHost(nodeList: string): string {
  const match = /^([^,[]+)(?:\[([^\]]+)\])?/.exec(nodeList.trim());
  if (!match) return nodeList;
  if (!match[2]) return match[1];
  const first = match[2].split(',')[0].split('-')[0];
  return match[1] + first;
}

/** This process's place among the ranks, or null when no launcher set the variables (one process, as before). */
export function rankEnvironment(env: NodeJS.ProcessEnv = process.env): RankEnvironment | null {
  if (env.RANK !== undefined || env.WORLD_SIZE !== undefined) {
    for (const name of ['RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT']) {
      if (env[name] === undefined) {
        throw distributedError(`${name} is not set but ${env.RANK !== undefined ? 'RANK' : 'WORLD_SIZE'} is: torchrun's contract needs RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT ` +
          '(start the ranks with classwise-at launch, torchrun or srun, or unset RANK and WORLD_SIZE to run one process)');
      }
    }
    const worldSize = integerVariable(env, 'WORLD_SIZE', 1, 1 << 20, 'the number of ranks');
    return {
      rank: integerVariable(env, 'RANK', 0, worldSize - 1, `this process's rank among WORLD_SIZE=${worldSize}`),
      worldSize,
      localRank: env.LOCAL_RANK === undefined ? 0 : integerVariable(env, 'LOCAL_RANK', 0, 1 << 20, "this process's rank on its machine"),
      masterAddr: env.MASTER_ADDR!,
      masterPort: integerVariable(env, 'MASTER_PORT', 1, 65535, 'the port of the rendezvous store'),
      useAgentStore: env.TORCHELASTIC_USE_AGENT_STORE === 'True',
      restartCount: env.TORCHELASTIC_RESTART_COUNT === undefined ? 0 : integerVariable(env, 'TORCHELASTIC_RESTART_COUNT', 0, 1 << 30, "torchrun's restart count"),
      launcher: 'torchrun',
    };
  }
  // srun sets the step's variables; a batch script's own shell (no SLURM_STEP_ID) is one process, not a rank.
  if (env.SLURM_PROCID !== undefined && env.SLURM_STEP_ID !== undefined) {
    const tasksVariable = env.SLURM_STEP_NUM_TASKS !== undefined ? 'SLURM_STEP_NUM_TASKS' : 'SLURM_NTASKS';
    const worldSize = integerVariable(env, tasksVariable, 1, 1 << 20, 'the number of tasks of this srun step');
    if (worldSize === 1) return null;
    const nodeList = env.SLURM_STEP_NODELIST ?? env.SLURM_JOB_NODELIST;
    const masterAddr = env.MASTER_ADDR ?? (nodeList ? firstSlurmHost(nodeList) : undefined);
    if (!masterAddr) throw distributedError('MASTER_ADDR is not set and SLURM_JOB_NODELIST is empty: export MASTER_ADDR=<the first node> before srun');
    return {
      rank: integerVariable(env, 'SLURM_PROCID', 0, worldSize - 1, `this task's rank among ${tasksVariable}=${worldSize}`),
      worldSize,
      localRank: env.SLURM_LOCALID === undefined ? 0 : integerVariable(env, 'SLURM_LOCALID', 0, 1 << 20, "this task's rank on its node"),
      masterAddr,
      masterPort: env.MASTER_PORT === undefined ? DEFAULT_MASTER_PORT : integerVariable(env, 'MASTER_PORT', 1, 65535, 'the port of the rendezvous store'),
      useAgentStore: false,
      restartCount: 0,
      launcher: 'slurm',
    };
  }
  return null;
}
