import Table from 'cli-table3';
import { invalidArgument, outOfRange } from '../errors';
import { terminalText } from './escape';
import { halfWidthPoints, shareInterval } from '../study/proportions';

/** The one definition of robust accuracy, as RobustBench and AutoAttack count it; every table and report states it. */
export const ROBUST_DEFINITION =
  'robust = share of the class classified correctly both clean and under attack (the ball includes the clean point), so robust <= clean';

export interface ClassAccuracyRow {
  name: string;
  /** Test examples of this class. */
  count: number;
  /** Share classified correctly without attack, 0..1. */
  clean: number;
  /** Share of the class classified correctly both clean and under attack, 0..1 (never above clean). */
  robust: number;
}

export interface ClassSummary {
  /** Class with the highest robust accuracy (the first one on ties). */
  best: ClassAccuracyRow;
  /** Class with the lowest robust accuracy (the first one on ties). */
  worst: ClassAccuracyRow;
  /** best.robust - worst.robust, 0..1 like the rows (x100 for percentage points). */
  gap: number;
  /** Unweighted mean over classes, 0..1, so every class counts the same whatever its size. */
  meanClean: number;
  meanRobust: number;
  /** Classes with no test examples: n/a in tables, left out of the means, best and worst. */
  untested: string[];
}

export interface ClassTableOptions {
  title?: string;
  /** The attack behind the robust column, e.g. 'PGD-20 eps=0.1'. */
  attackLabel: string;
}

/** Characters of the robust-accuracy bar at 100%. */
const BAR_WIDTH = 10;

export function summarizeClasses(rows: readonly ClassAccuracyRow[]): ClassSummary {
  if (!Array.isArray(rows)) throw invalidArgument('class rows must be an array of { name, count, clean, robust }');
  if (rows.length === 0) throw outOfRange('class rows are empty, expected at least one class');
  for (const row of rows) checkRow(row);
  // A class without test examples has no accuracy (its 0 would be a division by zero): it is left out.
  const tested = rows.filter((row) => row.count > 0);
  if (tested.length === 0) throw outOfRange(`none of the ${rows.length} classes has a test example; evaluate on a test set that holds images`);

  let best = tested[0];
  let worst = tested[0];
  for (const row of tested) {
    if (row.robust > best.robust) best = row;
    if (row.robust < worst.robust) worst = row;
  }
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  return {
    best,
    worst,
    gap: best.robust - worst.robust,
    meanClean: mean(tested.map((row) => row.clean)),
    meanRobust: mean(tested.map((row) => row.robust)),
    untested: rows.filter((row) => row.count === 0).map((row) => row.name),
  };
}

/** The warning line for classes without test examples, or undefined when every class has some. */
export function untestedWarning(untested: readonly string[]): string | undefined {
  if (untested.length === 0) return undefined;
  const names = untested.slice(0, 5).map((name) => `"${terminalText(name)}"`).join(', ') + (untested.length > 5 ? `, ... (${untested.length} in all)` : '');
  return `warning: ${untested.length === 1 ? 'class' : 'classes'} ${names} ${untested.length === 1 ? 'has' : 'have'} no test images: n/a, left out of the mean, best and worst`;
}

/**
 * The per-class report: one row per class, then the mean, the best and worst class and the gap between them,
 * which is the class-wise robustness disparity this project studies.
 */
export function formatClassTable(rows: readonly ClassAccuracyRow[], options: ClassTableOptions): string {
  const summary = summarizeClasses(rows);
  const table = new Table({
    head: ['class', 'n', 'clean %', '±', 'robust %', '±', 'robust'],
    colAligns: ['left', 'right', 'right', 'right', 'right', 'right', 'left'],
    // No colours: reports go to log files and CI output as well as terminals.
    style: { head: [], border: [], compact: true },
  });
  for (const row of rows) {
    if (row.count === 0) {
      table.push([terminalText(row.name), 0, 'n/a', '', 'n/a', '', '']);
      continue;
    }
    table.push([
      terminalText(row.name), row.count,
      formatPercent(row.clean), halfWidthPoints(row.clean, shareInterval(row.clean, row.count)),
      formatPercent(row.robust), halfWidthPoints(row.robust, shareInterval(row.robust, row.count)),
      robustBar(row.robust),
    ]);
  }

  const title = `${options.title ?? 'Per-class accuracy'} (robust under ${options.attackLabel})`;
  // From the printed (rounded) values, so that the line adds up for a reader checking it by eye.
  const gapPoints = (Number(formatPercent(summary.best.robust)) - Number(formatPercent(summary.worst.robust))).toFixed(1);
  return [
    title,
    table.toString(),
    `mean: clean ${formatPercent(summary.meanClean)}%  robust ${formatPercent(summary.meanRobust)}%`,
    `best: ${terminalText(summary.best.name)} ${formatPercent(summary.best.robust)}%  ` +
      `worst: ${terminalText(summary.worst.name)} ${formatPercent(summary.worst.robust)}%  gap: ${gapPoints} points`,
    `robust = classified correctly both clean and under attack (${options.attackLabel}), so robust <= clean; ± = 95% Wilson interval (larger half-width)`,
    ...[untestedWarning(summary.untested)].filter((line): line is string => line !== undefined),
  ].join('\n');
}

function checkRow(row: ClassAccuracyRow): void {
  if (!Number.isInteger(row.count) || row.count < 0) {
    throw outOfRange(`class "${row.name}" count is ${row.count}, expected a non-negative integer`);
  }
  // Without examples the shares are undefined (0 or NaN by the caller's convention): not read.
  if (row.count === 0) return;
  for (const field of ['clean', 'robust'] as const) {
    const value = row[field];
    if (!(value >= 0 && value <= 1)) {
      throw outOfRange(`class "${row.name}" ${field} accuracy is ${value}, expected a share in [0, 1]`);
    }
  }
}

/** Percent with one decimal, without the sign: 0.8312 -> "83.1"; the one rounding of every mean printed. */
export function formatPercent(share: number): string {
  return (share * 100).toFixed(1);
}

function robustBar(share: number): string {
  const filled = Math.round(share * BAR_WIDTH);
  return '#'.repeat(filled) + '.'.repeat(BAR_WIDTH - filled);
}
