/**
 * The fast path of a native call: its numeric precision and memory layout. 'auto' is resolved by the addon for
 * the model's device (bf16 and channels_last where the device has fast bf16: AMX or AVX512-BF16 on CPU, compute
 * capability 8.0+ on CUDA), and every result says what really ran, so a bf16 result is never taken for fp32.
 */
import { nativeAddon } from './native';

export const PRECISIONS = ['fp32', 'bf16', 'auto'] as const;
/**
 * 'bf16': autocast to bfloat16 with fp32 master weights, losses, optimizer state and perturbations; decisions (the
 * clean and adversarial predictions a call reports, restart scoring, the points a cascade's next stage attacks) are
 * made by an fp32 pass: bf16 finds the adversarial examples, fp32 judges them.
 */
export type Precision = (typeof PRECISIONS)[number];
export const MEMORY_FORMATS = ['contiguous', 'channels_last', 'auto'] as const;
export type MemoryFormat = (typeof MEMORY_FORMATS)[number];

export interface FastPathOptions {
  /**
   * Default 'auto' (bf16 where the device has fast bf16, else fp32); 'fp32' with memoryFormat 'contiguous' is the
   * exact reference. AutoAttack runs fp32 under 'auto' (see autoAttackPrecision).
   */
  precision?: Precision;
  /** Default 'auto'. */
  memoryFormat?: MemoryFormat;
}

/** What a call ran with ('auto' resolved). */
export interface FastPathUsed {
  precision: Exclude<Precision, 'auto'>;
  memoryFormat: Exclude<MemoryFormat, 'auto'>;
}

/** What the library runs when a call names no precision or memory format: the fast path the device has. */
export const DEFAULT_FAST_PATH: Required<FastPathOptions> = { precision: 'auto', memoryFormat: 'auto' };

/**
 * AutoAttack's final numbers are the ones compared across papers, and bf16 gradients change an attack's strength:
 * under 'auto' (or no precision) an AutoAttack runs fp32; an explicit 'bf16' is honoured.
 */
export function autoAttackPrecision(precision: Precision | undefined): Precision {
  return precision === undefined || precision === 'auto' ? 'fp32' : precision;
}

/** Why a call runs fp32 although it asked for 'auto' (undefined when it does not), for run headers. */
export const AUTOATTACK_FP32_NOTE = "AutoAttack runs fp32 under 'auto' so its final numbers are the reference ones (--precision bf16 to override)";

/** The options as the addon takes them, the defaults ('auto') filled in; AutoAttack keeps fp32 under 'auto'. */
export function nativeFastPath(options: FastPathOptions | undefined, attackKind?: string): Required<FastPathOptions> {
  const precision = options?.precision ?? DEFAULT_FAST_PATH.precision;
  return {
    precision: attackKind === 'autoattack' ? autoAttackPrecision(precision) : precision,
    memoryFormat: options?.memoryFormat ?? DEFAULT_FAST_PATH.memoryFormat,
  };
}

/** "bf16, channels_last", for run headers and tables. */
export function describeFastPath(used: FastPathUsed): string {
  return `${used.precision}, ${used.memoryFormat}`;
}

/** What 'auto' chooses on a device kind and why (the same answer as runtimeInfo().autoFastPath). */
export function autoFastPath(device: 'cpu' | 'cuda' = 'cpu'): FastPathUsed & { reason: string } {
  const choices = nativeAddon().runtimeInfo().autoFastPath;
  const choice = device === 'cuda' ? choices.cuda : choices.cpu;
  if (!choice) return { precision: 'fp32', memoryFormat: 'contiguous', reason: 'no CUDA device is visible' };
  return choice;
}
