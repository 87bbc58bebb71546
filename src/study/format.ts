/** Number formats shared by findings and tables. */

/** 0.3124 -> "31.2%". */
export function percent(share: number): string {
  return Number.isFinite(share) ? `${(100 * share).toFixed(1)}%` : 'n/a';
}

/** 0.3124 -> 31.2 (for tables and charts in percent). */
export function percentValue(share: number): number {
  return Number((100 * share).toFixed(2));
}

/** Difference of two shares in percentage points, one decimal. */
export function points(share: number): string {
  return `${(100 * share).toFixed(1)} points`;
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
