/**
 * The options every rank-aware command shares (--backend, --timeout) and joining the process group that the
 * launcher's environment describes (classwise-at launch, torchrun, srun). Without those variables: one process.
 */
import { Command, Option } from 'commander';

import { Backend, BACKENDS, DEFAULT_TIMEOUT_SECONDS, ProcessGroup, processGroupFromEnvironment } from '../distributed/group';
import { rankEnvironment } from '../distributed/environment';
import { nativeAddon } from '../native';
import { DeviceName } from '../model';
import { parseChoice, parseNumberIn } from './parse';

export function addRankOptions(command: Command): Command {
  return command
    .addOption(new Option('--backend <name>', 'data parallelism under classwise-at launch, torchrun or srun: gloo (CPU) or nccl (CUDA) (default: nccl for a CUDA device, else gloo)').argParser(parseChoice(BACKENDS)))
    .addOption(new Option('--timeout <seconds>', 'data parallelism: how long a rank waits for the others before stopping with an error naming the ranks that died or hung').default(DEFAULT_TIMEOUT_SECONDS).argParser(parseNumberIn(1, 7 * 24 * 3600)));
}

/** The computing options every study command shares (batching, seed, device, threads, the rank options). */
export interface ComputeCliOptions {
  batchSize: number;
  seed: number;
  device: DeviceName;
  threads?: number;
  backend?: Backend;
  timeout?: number;
}

export interface Ranks {
  group?: ProcessGroup;
  /** Rank 0, or the only process: the one that prints and writes. */
  leads: boolean;
  /** The device of this rank ("cuda" becomes "cuda:LOCAL_RANK"). */
  device: string;
  describe(): string | undefined;
}

/**
 * Sets this rank's CPU threads and joins its group. Under a launcher without --threads, OMP_NUM_THREADS is the
 * thread count per rank (torchrun's convention; classwise-at launch sets it to cores / nproc-per-node).
 */
export async function joinRanks(options: { backend?: Backend; timeout?: number; device?: string; threads?: number }): Promise<Ranks> {
  const environment = rankEnvironment();
  const threads = options.threads ?? (environment && process.env.OMP_NUM_THREADS ? Number(process.env.OMP_NUM_THREADS) : undefined);
  if (threads && Number.isInteger(threads) && threads > 0) nativeAddon().setThreads({ threads });
  const joined = await processGroupFromEnvironment({ backend: options.backend, timeoutSeconds: options.timeout, device: options.device });
  if (!joined) return { leads: true, device: options.device ?? 'auto', describe: () => undefined };
  const { group, environment: env } = joined;
  return {
    group,
    leads: group.rank === 0,
    device: joined.device ?? options.device ?? 'auto',
    describe: () => `data parallel: ${group.worldSize} ranks (${group.backend}, rendezvous ${env.masterAddr}:${env.masterPort}, from ${env.launcher}'s environment), timeout ${group.timeoutSeconds} s`,
  };
}
