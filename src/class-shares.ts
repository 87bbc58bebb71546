/**
 * A per-class share (accuracy) of a class with no test examples is not available: NaN in memory, null once
 * written to JSON (metrics.jsonl, report.json). Means, best, worst and deltas are taken over the other classes.
 */

/** True for a share that was measured: a finite number (not NaN, not null from JSON). */
export function isAvailable(share: number | null | undefined): share is number {
  return typeof share === 'number' && Number.isFinite(share);
}

/** The share, or NaN where it is not available (null from JSON read back included). */
export function shareOrNaN(share: number | null | undefined): number {
  return isAvailable(share) ? share : NaN;
}

/** Mean of the available shares; NaN when none is. */
export function availableMean(shares: readonly (number | null)[]): number {
  const kept = shares.filter(isAvailable);
  return kept.length ? kept.reduce((a, b) => a + b, 0) / kept.length : NaN;
}

/** Smallest available share; NaN when none is. */
export function availableMin(shares: readonly (number | null)[]): number {
  const kept = shares.filter(isAvailable);
  return kept.length ? Math.min(...kept) : NaN;
}

/** Indices of the classes whose share is not available. */
export function unavailableClasses(shares: readonly (number | null)[]): number[] {
  return shares.flatMap((share, k) => (isAvailable(share) ? [] : [k]));
}

/** The pairs (x[k], y[k]) where both are available, as two arrays: correlations over the measured classes. */
export function measuredPairs(x: readonly (number | null)[], y: readonly (number | null)[]): [number[], number[]] {
  const kept = x.flatMap((value, k) => (isAvailable(value) && isAvailable(y[k]) ? [k] : []));
  return [kept.map((k) => x[k] as number), kept.map((k) => y[k] as number)];
}
