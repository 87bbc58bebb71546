/**
 * Uncertainty of per-class accuracies, each a share of 100-1,000 test images: the Wilson score interval of one
 * share, Newcombe's hybrid score interval of a difference of two shares, and Fisher's exact test of two shares.
 * Known answers from scipy 1.17 and Newcombe (1998) are in test/study/proportions.test.ts.
 */
import { outOfRange } from '../errors';
import { logGamma } from './statistics';

/** Two-sided 95% normal quantile. */
export const Z_95 = 1.959963984540054;

export interface Interval {
  low: number;
  high: number;
}

function checkCount(successes: number, n: number): void {
  if (!Number.isInteger(n) || n < 0) throw outOfRange(`count is ${n}, expected a non-negative integer`);
  if (!Number.isInteger(successes) || successes < 0 || successes > n) {
    throw outOfRange(`successes are ${successes}, expected an integer in [0, ${n}]`);
  }
}

/** 95% Wilson score interval of successes / n; [0, 1] when n is 0 (nothing is known). */
export function wilsonInterval(successes: number, n: number, z = Z_95): Interval {
  checkCount(successes, n);
  if (n === 0) return { low: 0, high: 1 };
  const p = successes / n;
  const z2 = z * z;
  const center = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // Exact ends at 0 and 1, which rounding would otherwise leave a hair inside.
  return { low: successes === 0 ? 0 : Math.max(0, center - half), high: successes === n ? 1 : Math.min(1, center + half) };
}

/** The Wilson interval from a share and its count (share * n is rounded to the nearest whole example). */
export function shareInterval(share: number, n: number): Interval {
  if (!(share >= 0 && share <= 1)) throw outOfRange(`share is ${share}, expected a number in [0, 1]`);
  return wilsonInterval(Math.round(share * n), n);
}

/** 95% interval of p1 - p2 for independent samples (Newcombe's hybrid score method 10, from the Wilson intervals). */
export function differenceInterval(successes1: number, n1: number, successes2: number, n2: number): Interval {
  const a = wilsonInterval(successes1, n1);
  const b = wilsonInterval(successes2, n2);
  const p1 = n1 ? successes1 / n1 : 0.5;
  const p2 = n2 ? successes2 / n2 : 0.5;
  const d = p1 - p2;
  return {
    low: Math.max(-1, d - Math.sqrt((p1 - a.low) ** 2 + (b.high - p2) ** 2)),
    high: Math.min(1, d + Math.sqrt((a.high - p1) ** 2 + (p2 - b.low) ** 2)),
  };
}

function logChoose(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

/**
 * Two-sided p-value of Fisher's exact test on the 2x2 table [[a, b], [c, d]] (rows: the two groups; columns:
 * successes, failures): the probability, with the margins fixed, of a table at most as likely as this one (as
 * scipy.stats.fisher_exact). 1 when a margin is 0.
 */
export function fisherExact(a: number, b: number, c: number, d: number): number {
  for (const cell of [a, b, c, d]) {
    if (!Number.isInteger(cell) || cell < 0) throw outOfRange(`a 2x2 table cell is ${cell}, expected a non-negative integer`);
  }
  const row1 = a + b;
  const row2 = c + d;
  const column1 = a + c;
  const n = row1 + row2;
  if (row1 === 0 || row2 === 0 || column1 === 0 || column1 === n) return 1;
  const logDenominator = logChoose(n, column1);
  const probability = (x: number) => Math.exp(logChoose(row1, x) + logChoose(row2, column1 - x) - logDenominator);
  const observed = probability(a);
  // scipy's relative tolerance, so tables as likely as the observed one are not lost to rounding.
  const threshold = observed * (1 + 1e-7);
  let p = 0;
  for (let x = Math.max(0, column1 - row2); x <= Math.min(row1, column1); x++) {
    const px = probability(x);
    if (px <= threshold) p += px;
  }
  return Math.min(1, p);
}

/** "65.5% [58.7, 71.7]": a share with its 95% interval, in percent, one decimal. */
export function formatShareWithInterval(share: number, interval: Interval): string {
  return `${(100 * share).toFixed(1)}% [${(100 * interval.low).toFixed(1)}, ${(100 * interval.high).toFixed(1)}]`;
}

/** "±6.6": the larger half-width of a 95% interval in points, for compact console columns. */
export function halfWidthPoints(share: number, interval: Interval): string {
  return `±${(100 * Math.max(share - interval.low, interval.high - share)).toFixed(1)}`;
}
