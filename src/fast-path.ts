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
  /** Default 'fp32'. */
  precision?: Precision;
  /** Default 'contiguous'. */
  memoryFormat?: MemoryFormat;
}

/** What a call ran with ('auto' resolved). */
export interface FastPathUsed {
  precision: Exclude<Precision, 'auto'>;
  memoryFormat: Exclude<MemoryFormat, 'auto'>;
}

/** The options as the addon takes them; undefined keys are left out so the addon's defaults apply. */
export function nativeFastPath(options: FastPathOptions | undefined): FastPathOptions {
  const out: FastPathOptions = {};
  if (options?.precision !== undefined) out.precision = options.precision;
  if (options?.memoryFormat !== undefined) out.memoryFormat = options.memoryFormat;
  return out;
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
