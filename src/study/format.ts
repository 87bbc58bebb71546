/** Number formats shared by findings and tables. */
import { isAvailable } from '../class-shares';
import { shareInterval } from './proportions';

/** 0.3124 -> "31.2%"; "n/a" for a share not available (a class without test examples: NaN, or null from JSON). */
export function percent(share: number): string {
  return isAvailable(share) ? `${(100 * share).toFixed(1)}%` : 'n/a';
}

/**
 * 0.3124 -> 31.2 (for tables and charts in percent); NaN for a share not available, which tables show as n/a
 * (empty in CSV, null in JSON) and charts leave out.
 */
export function percentValue(share: number): number {
  return isAvailable(share) ? Number((100 * share).toFixed(2)) : NaN;
}

/** Difference of two shares in percentage points, one decimal; "n/a" when either share is not available. */
export function points(share: number): string {
  return isAvailable(share) ? `${(100 * share).toFixed(1)} points` : 'n/a';
}

export function coefficient(value: number): string {
  return Number.isFinite(value) ? value.toFixed(3) : 'n/a';
}

export function pValue(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (value === 0) return '0';
  return value < 1e-4 ? value.toExponential(1) : value.toPrecision(2);
}


/** Class names for sentences and charts: digit names (MNIST) read as "class 3", others unchanged. */
export function displayNames(names: readonly string[]): string[] {
  return names.map((name) => (/^\d+$/.test(name) ? `class ${name}` : name));
}

/** A share of n examples as chart fields in percent: value and its 95% Wilson interval (error bars). */
export function percentWithInterval(share: number, n: number): { value: number; low: number; high: number } {
  if (!isAvailable(share) || n === 0) return { value: NaN, low: NaN, high: NaN };
  const interval = shareInterval(share, n);
  return { value: percentValue(share), low: percentValue(interval.low), high: percentValue(interval.high) };
}

/** The 95% Wilson interval of a share of n examples as two table cells in percent: [low, high]. */
export function intervalCells(share: number, n: number): [number, number] {
  if (!isAvailable(share) || n === 0) return [NaN, NaN];
  const interval = shareInterval(share, n);
  return [percentValue(interval.low), percentValue(interval.high)];
}

/** "2,000 test examples, 200 per class" (or "from 180 to 220 per class"), for every section's description. */
export function describeCounts(counts: readonly number[]): string {
  const total = counts.reduce((a, b) => a + b, 0);
  const low = Math.min(...counts);
  const high = Math.max(...counts);
  return `${total.toLocaleString('en-US')} test examples, ${low === high ? low : `${low} to ${high}`} per class`;
}
