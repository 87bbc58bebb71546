/**
 * Correlation statistics for the class-wise study: Pearson, Spearman (tie-aware ranks) and Kendall tau-b,
 * each with a two-sided p-value. Pearson and Spearman use the t distribution with n-2 degrees of freedom
 * (as scipy.stats does); Kendall uses the normal approximation with the tie-corrected variance (scipy's
 * method="asymptotic"). Known answers from scipy 1.17 are in test/study/statistics.test.ts.
 */
import { outOfRange } from '../errors';

export interface Correlation {
  /** Coefficient in [-1, 1]; NaN when a variable is constant or n < 3. */
  coefficient: number;
  /** Two-sided p-value of "no association"; NaN when the coefficient is NaN. */
  pValue: number;
  n: number;
}

function checkPaired(x: readonly number[], y: readonly number[]): void {
  if (x.length !== y.length) throw outOfRange(`paired samples differ in length: ${x.length} and ${y.length}`);
  for (const value of [...x, ...y]) {
    if (!Number.isFinite(value)) throw outOfRange(`samples must be finite numbers, got ${value}`);
  }
}

export function mean(values: readonly number[]): number {
  return values.length ? values.reduce((sum, value) => sum + value, 0) / values.length : NaN;
}

function pearsonCoefficient(x: readonly number[], y: readonly number[]): number {
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  if (sxx === 0 || syy === 0) return NaN;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/** Two-sided p-value of a correlation coefficient under t = r sqrt((n-2)/(1-r^2)), n-2 degrees of freedom. */
function tTestPValue(r: number, n: number): number {
  if (!Number.isFinite(r) || n < 3) return NaN;
  if (Math.abs(r) >= 1) return 0;
  const df = n - 2;
  const t = r * Math.sqrt(df / (1 - r * r));
  return studentTTwoSided(t, df);
}

export function pearson(x: readonly number[], y: readonly number[]): Correlation {
  checkPaired(x, y);
  const coefficient = x.length < 3 ? NaN : pearsonCoefficient(x, y);
  return { coefficient, pValue: tTestPValue(coefficient, x.length), n: x.length };
}

/** Ranks 1..n, ties get the average of the ranks they span. */
export function rank(values: readonly number[]): number[] {
  const order = values.map((value, index) => ({ value, index })).sort((a, b) => a.value - b.value);
  const ranks = new Array<number>(values.length);
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && order[end + 1].value === order[start].value) end++;
    const averageRank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) ranks[order[k].index] = averageRank;
    start = end + 1;
  }
  return ranks;
}

export function spearman(x: readonly number[], y: readonly number[]): Correlation {
  checkPaired(x, y);
  const coefficient = x.length < 3 ? NaN : pearsonCoefficient(rank(x), rank(y));
  return { coefficient, pValue: tTestPValue(coefficient, x.length), n: x.length };
}

/** Tie-group sums as scipy's kendalltau uses them: pairs, t(t-1)(t-2), t(t-1)(2t+5). */
function tieSums(values: readonly number[]): { pairs: number; cubic: number; variance: number } {
  const counts = new Map<number, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  let pairs = 0;
  let cubic = 0;
  let variance = 0;
  for (const t of counts.values()) {
    if (t < 2) continue;
    pairs += (t * (t - 1)) / 2;
    cubic += t * (t - 1) * (t - 2);
    variance += t * (t - 1) * (2 * t + 5);
  }
  return { pairs, cubic, variance };
}

/** Kendall's tau-b (ties in either variable corrected), two-sided p from the normal approximation. */
export function kendallTauB(x: readonly number[], y: readonly number[]): Correlation {
  checkPaired(x, y);
  const n = x.length;
  if (n < 3) return { coefficient: NaN, pValue: NaN, n };
  let concordantMinusDiscordant = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      concordantMinusDiscordant += Math.sign(x[i] - x[j]) * Math.sign(y[i] - y[j]);
    }
  }
  const tx = tieSums(x);
  const ty = tieSums(y);
  const total = (n * (n - 1)) / 2;
  if (tx.pairs === total || ty.pairs === total) return { coefficient: NaN, pValue: NaN, n };
  const coefficient = concordantMinusDiscordant / Math.sqrt(total - tx.pairs) / Math.sqrt(total - ty.pairs);
  const m = n * (n - 1);
  const variance =
    (m * (2 * n + 5) - tx.variance - ty.variance) / 18 + (2 * tx.pairs * ty.pairs) / m + (tx.cubic * ty.cubic) / (9 * m * (n - 2));
  const z = Math.abs(concordantMinusDiscordant) / Math.sqrt(variance);
  return { coefficient: Math.max(-1, Math.min(1, coefficient)), pValue: Math.min(1, erfc(z / Math.SQRT2)), n };
}

/** Least-squares line y = slope * x + intercept (for the fit drawn over a scatter plot). */
export function linearFit(x: readonly number[], y: readonly number[]): { slope: number; intercept: number } {
  checkPaired(x, y);
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

// --- special functions -------------------------------------------------------------------------------

/** Two-sided tail P(|T| >= |t|) of Student's t with df degrees of freedom = I_{df/(df+t^2)}(df/2, 1/2). */
export function studentTTwoSided(t: number, df: number): number {
  if (!Number.isFinite(t)) return 0;
  return regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/** log Gamma by the Lanczos approximation (g = 7, 9 terms), relative error about 1e-15. */
export function logGamma(x: number): number {
  const coefficients = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const shifted = x - 1;
  let sum = coefficients[0];
  for (let i = 1; i < 9; i++) sum += coefficients[i] / (shifted + i);
  const t = shifted + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (shifted + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** I_x(a, b) by the continued fraction of Numerical Recipes (betacf), using the symmetry for fast convergence. */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const logFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x);
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(logFront) * betaContinuedFraction(x, a, b)) / a;
  return 1 - (Math.exp(logFront) * betaContinuedFraction(1 - x, b, a)) / b;
}

function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  const epsilon = 1e-15;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 1000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < epsilon) break;
  }
  return h;
}

/** Complementary error function (Numerical Recipes erfcc, Chebyshev fit, relative error < 1.2e-7). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 +
          t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}
