/**
 * This process's membership of a c10d process group (Gloo on CPU, NCCL on CUDA). The collectives run natively,
 * inside the training step and the evaluation; JavaScript only connects, waits at barriers and passes the group.
 */
import { ClasswiseError, invalidArgument } from '../errors';
import { nativeAddon, NativeProcessGroupHandle } from '../native';
import { RankEnvironment, rankEnvironment } from './environment';

export const BACKENDS = ['gloo', 'nccl'] as const;
export type Backend = (typeof BACKENDS)[number];

/** How long a rank waits for the others (a collective, the rendezvous) before naming the ones that stopped. */
export const DEFAULT_TIMEOUT_SECONDS = 1800;

export interface ProcessGroupOptions extends Omit<RankEnvironment, 'launcher'> {
  /** gloo (CPU) or nccl (CUDA); default: nccl for a CUDA device, else gloo. */
  backend?: Backend;
  timeoutSeconds?: number;
  /** The device the model runs on, which picks the default backend. */
  device?: string;
}

export class ProcessGroup {
  private constructor(
    /** For options.processGroup of the native train and evaluate calls. */
    readonly native: NativeProcessGroupHandle,
    readonly backend: Backend,
    readonly timeoutSeconds: number,
  ) {}

  get rank(): number {
    return this.native.rank;
  }

  get worldSize(): number {
    return this.native.worldSize;
  }

  /** Every rank waits here until all arrived (or the timeout names the missing ones). */
  barrier(what: string): Promise<void> {
    return this.native.barrier(what);
  }

  /** Element-wise sums over the ranks. */
  allReduceSum(values: Float64Array, what: string): Promise<Float64Array> {
    return this.native.allReduceSum(values, what);
  }

  /** Joins the group: resolves once every rank has, rejects after the timeout naming the ranks that never came. */
  static async connect(options: ProcessGroupOptions): Promise<ProcessGroup> {
    const backend = options.backend ?? (options.device?.startsWith('cuda') ? 'nccl' : 'gloo');
    if (!BACKENDS.includes(backend)) throw invalidArgument(`backend is "${backend}"; accepted: ${BACKENDS.join(', ')}`);
    if (backend === 'nccl' && !options.device?.startsWith('cuda')) {
      throw new ClasswiseError('ERR_DISTRIBUTED', `backend nccl reduces CUDA tensors only, and the device is "${options.device ?? 'cpu'}"; ` +
        'use --device cuda (each rank takes cuda:LOCAL_RANK) or --backend gloo');
    }
    const available = nativeAddon().distributedBackends();
    if (!available.includes(backend)) {
      throw new ClasswiseError('ERR_DISTRIBUTED', `backend "${backend}" is not in this build (it has: ${available.join(', ')}); ` +
        (backend === 'nccl' ? 'NCCL comes with the CUDA build (npm run build:cuda); ' : '') + 'choose one with --backend');
    }
    const timeoutSeconds = options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
    const { NativeProcessGroup } = nativeAddon();
    const native = new NativeProcessGroup({
      rank: options.rank,
      worldSize: options.worldSize,
      masterAddr: options.masterAddr,
      masterPort: options.masterPort,
      useAgentStore: options.useAgentStore,
      restartCount: options.restartCount,
      backend,
      timeoutSeconds,
    });
    await native.connect();
    return new ProcessGroup(native, backend, timeoutSeconds);
  }
}

/**
 * The group the launcher's environment asks for, or null for one process. With a CUDA device each rank takes
 * the GPU of its LOCAL_RANK ("cuda" becomes "cuda:LOCAL_RANK").
 */
export async function processGroupFromEnvironment(
  options: { backend?: Backend; timeoutSeconds?: number; device?: string } = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ group: ProcessGroup; environment: RankEnvironment; device?: string } | null> {
  const environment = rankEnvironment(env);
  if (!environment) return null;
  const cuda = options.device === 'cuda' || (options.device === 'auto' && nativeAddon().runtimeInfo().cudaAvailable);
  const device = cuda ? `cuda:${environment.localRank}` : options.device;
  const group = await ProcessGroup.connect({ ...environment, ...options, device });
  return { group, environment, device };
}

let defaultGroup: ProcessGroup | undefined;

/**
 * The group evaluate() uses when its options name none, as torch.distributed's default process group: the study
 * command sets it, so that every experiment's evaluations are sharded without passing the group through each.
 */
export function setDefaultProcessGroup(group: ProcessGroup | undefined): void {
  defaultGroup = group;
}

export function defaultProcessGroup(): ProcessGroup | undefined {
  return defaultGroup;
}
