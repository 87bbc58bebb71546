/** Option parsers: each rejects a bad value with one line naming the value and what is accepted. */
import { InvalidArgumentError } from 'commander';

import { parseFraction } from '../train/mitigation';

/** A number in [min, max]; a fraction such as 8/255 is accepted wherever a number is. */
export function parseNumberIn(min: number, max: number, hint = '') {
  return (text: string): number => {
    const value = parseFraction(text);
    if (!Number.isFinite(value) || value < min || value > max) {
      throw new InvalidArgumentError(`expected a number in [${min}, ${max}] or a fraction such as 8/255${hint}`);
    }
    return value;
  };
}

export function parseInteger(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (text: string): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER ? `expected an integer >= ${min}` : `expected an integer in [${min}, ${max}]`,
      );
    }
    return value;
  };
}

/** A count per class, or "all" (commander 14 turns a parser's null into "", so "all" stays a string here). */
export function parsePerClass(text: string): number | 'all' {
  if (text === 'all') return 'all';
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError('expected an integer >= 1 or "all"');
  return value;
}

export function parseChoice<T extends string>(choices: readonly T[]) {
  return (text: string): T => {
    if (!(choices as readonly string[]).includes(text)) {
      throw new InvalidArgumentError(`accepted: ${choices.join(', ')}`);
    }
    return text as T;
  };
}

export function parseDevice(text: string): string {
  if (!/^(auto|cpu|cuda(:\d+)?)$/.test(text)) throw new InvalidArgumentError('accepted: auto, cpu, cuda, cuda:N');
  return text;
}

/** An --*-per-class value as the library takes it: a count, null for "all", undefined when not given. */
export function perClassValue(value: number | 'all' | null | undefined): number | null | undefined {
  return value === 'all' ? null : value;
}

/** --precision and --memory-format, as the library takes them. */
export const PRECISION_HELP = "fp32 | bf16 | auto (bf16 where the device has fast bf16: AMX or AVX512-BF16 CPUs, CUDA compute capability 8.0+)";
export const MEMORY_FORMAT_HELP = 'contiguous | channels_last | auto (channels_last on CUDA and on CPU, where NHWC convolutions are faster in fp32 and bf16)';
