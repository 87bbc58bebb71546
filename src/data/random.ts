/**
 * Seeded randomness for choosing and ordering examples. Integer-only arithmetic (Math.imul),
 * so a seed gives the same sequence on every platform and Node version, unlike Math.random.
 */
import { outOfRange } from '../errors';

const UINT32_RANGE = 2 ** 32;

function checkSeed(seed: number): void {
  if (!Number.isSafeInteger(seed)) throw outOfRange(`seed must be an integer, got ${seed}`);
}

/**
 * Mulberry32 (Tommy Ettinger's 32-bit generator): returns a function giving floats in [0, 1).
 * The seed is taken modulo 2^32.
 */
export function seededRandom(seed: number): () => number {
  checkSeed(seed);
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / UINT32_RANGE;
  };
}

/** A permutation of 0..count-1, the same for the same seed (Fisher-Yates shuffle). */
export function shuffledIndices(count: number, seed: number): Int32Array {
  if (!Number.isInteger(count) || count < 0 || count > 0x7fffffff) {
    throw outOfRange(`count must be an integer in [0, 2^31), got ${count}`);
  }
  const random = seededRandom(seed);
  const indices = new Int32Array(count);
  for (let index = 0; index < count; index++) indices[index] = index;
  for (let last = count - 1; last > 0; last--) {
    const swapWith = Math.floor(random() * (last + 1));
    const kept = indices[last];
    indices[last] = indices[swapWith];
    indices[swapWith] = kept;
  }
  return indices;
}
