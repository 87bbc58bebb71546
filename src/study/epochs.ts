/**
 * Experiment 1 (claim 1, the class-wise gap): per-class clean and robust accuracy at every epoch of a run,
 * with the band between the best and the worst class. Above 20 classes, 12 seeded-random classes are drawn
 * and a histogram counts the classes per robust-accuracy interval, as in the study's appendix.
 */
import { availableMean, isAvailable, shareOrNaN, unavailableClasses } from '../class-shares';
import { shuffledIndices } from '../data/random';
import { classCurvesChart, histogramChart } from '../report/charts';
import { untestedWarning } from '../report/class-table';
import { ReportSection } from '../report/study-report';
import { describeCounts, displayNames, intervalCells, percent, percentValue, percentWithInterval, points } from './format';
import { EpochMetrics, studyError } from './run-folder';
import { spearman } from './statistics';

/** Above this many classes the curves show a sample (the study's figure 1 plots 12 of CIFAR-100's classes). */
export const MAX_PLOTTED_CLASSES = 20;
export const SAMPLED_CLASSES = 12;
/** Width of a histogram interval in robust accuracy (share). */
export const HISTOGRAM_INTERVAL = 0.1;

export interface EpochBand {
  epoch: number;
  best: { classIndex: number; robust: number };
  worst: { classIndex: number; robust: number };
  gap: number;
  meanRobust: number;
  meanClean: number;
}

export interface RobustnessOverEpochs {
  classNames: string[];
  epochs: number[];
  attack: string;
  /** Test examples per class of the run's evaluation subset (metrics.jsonl), behind every share. */
  counts: number[];
  /** [epoch position][class] */
  robustAccuracy: number[][];
  cleanAccuracy: number[][];
  bands: EpochBand[];
  /** Classes drawn in the curves (all of them up to 20 classes). */
  plottedClasses: number[];
  /** Classes per robust-accuracy interval at the last epoch. */
  histogram: { from: number; to: number; count: number }[];
  /** Spearman correlation of the per-class robust accuracy of the first and last epoch: is the order stable? */
  orderStability: { coefficient: number; pValue: number };
}

export function robustnessOverEpochs(metrics: EpochMetrics[], options: { seed?: number } = {}): RobustnessOverEpochs {
  if (metrics.length === 0) throw studyError('no epochs to study');
  const classNames = metrics[0].classNames;
  const classes = classNames.length;
  const bands = metrics.map((line): EpochBand => {
    // Classes without test examples (robust NaN: not available) are left out of the best, worst and means.
    const tested = line.robustAccuracy.flatMap((robust, k) => (isAvailable(robust) ? [k] : []));
    if (tested.length === 0) throw studyError(`epoch ${line.epoch} of metrics.jsonl has no class with test examples; evaluate on a test set that holds images`);
    let best = tested[0];
    let worst = tested[0];
    for (const k of tested) {
      if (line.robustAccuracy[k] > line.robustAccuracy[best]) best = k;
      if (line.robustAccuracy[k] < line.robustAccuracy[worst]) worst = k;
    }
    return {
      epoch: line.epoch,
      best: { classIndex: best, robust: line.robustAccuracy[best] },
      worst: { classIndex: worst, robust: line.robustAccuracy[worst] },
      gap: line.robustAccuracy[best] - line.robustAccuracy[worst],
      meanRobust: availableMean(line.robustAccuracy),
      meanClean: availableMean(line.cleanAccuracy),
    };
  });
  const plottedClasses =
    classes > MAX_PLOTTED_CLASSES
      ? Array.from(shuffledIndices(classes, options.seed ?? 0).subarray(0, SAMPLED_CLASSES)).sort((a, b) => a - b)
      : Array.from({ length: classes }, (_, k) => k);
  const last = metrics[metrics.length - 1].robustAccuracy;
  const intervals = Math.round(1 / HISTOGRAM_INTERVAL);
  const histogram = Array.from({ length: intervals }, (_, i) => ({ from: i * HISTOGRAM_INTERVAL, to: (i + 1) * HISTOGRAM_INTERVAL, count: 0 }));
  for (const robust of last.filter(isAvailable)) histogram[Math.min(intervals - 1, Math.floor(robust / HISTOGRAM_INTERVAL + 1e-9))].count++;
  // The order is compared over the classes measured at both epochs.
  const both = metrics[0].robustAccuracy.flatMap((robust, k) => (isAvailable(robust) && isAvailable(last[k]) ? [k] : []));
  const stability = metrics.length > 1 && both.length >= 3 ? spearman(both.map((k) => metrics[0].robustAccuracy[k]), both.map((k) => last[k])) : { coefficient: NaN, pValue: NaN };
  return {
    classNames,
    epochs: metrics.map((line) => line.epoch),
    attack: metrics[metrics.length - 1].attack,
    counts: metrics[metrics.length - 1].counts,
    robustAccuracy: metrics.map((line) => line.robustAccuracy),
    cleanAccuracy: metrics.map((line) => line.cleanAccuracy),
    bands,
    plottedClasses,
    histogram,
    orderStability: { coefficient: stability.coefficient, pValue: stability.pValue },
  };
}

export function robustnessOverEpochsSection(saved: RobustnessOverEpochs): ReportSection {
  // report.json holds null for a share not available: NaN again, so no arithmetic reads it as 0.
  const result = { ...saved, robustAccuracy: saved.robustAccuracy.map((row) => row.map(shareOrNaN)), cleanAccuracy: saved.cleanAccuracy.map((row) => row.map(shareOrNaN)) };
  const names = displayNames(result.classNames);
  const last = result.bands[result.bands.length - 1];
  const widest = result.bands.reduce((a, b) => (b.gap > a.gap ? b : a));
  const lastRobust = result.robustAccuracy[result.robustAccuracy.length - 1];
  const ranked = lastRobust.map((robust, k) => ({ k, robust })).filter(({ robust }) => isAvailable(robust)).sort((a, b) => a.robust - b.robust);
  // Studies written before the counts were kept have none: no intervals then.
  const counts = result.counts as number[] | undefined;
  const findings = [
    `epoch ${last.epoch}: robust accuracy ranges from ${percent(last.worst.robust)} (${names[last.worst.classIndex]}) to ` +
      `${percent(last.best.robust)} (${names[last.best.classIndex]}), a class-wise gap of ${points(last.gap)}; mean ${percent(last.meanRobust)} robust, ${percent(last.meanClean)} clean.`,
    `weakest classes at epoch ${last.epoch}: ${ranked.slice(0, 3).map(({ k, robust }) => `${names[k]} ${percent(robust)}`).join(', ')}.`,
  ];
  const warning = untestedWarning(unavailableClasses(lastRobust).map((k) => result.classNames[k]));
  if (warning) findings.push(warning);
  if (widest.epoch !== last.epoch) findings.push(`the widest gap, ${points(widest.gap)}, was at epoch ${widest.epoch}.`);
  if (Number.isFinite(result.orderStability.coefficient)) {
    findings.push(`the order of classes is ${result.orderStability.coefficient > 0.8 ? 'stable' : 'not stable'} from epoch ${result.epochs[0]} to ${last.epoch}: Spearman ${result.orderStability.coefficient.toFixed(2)}.`);
  }
  const curvePoints = (values: number[][]) =>
    result.plottedClasses.flatMap((k) => result.epochs.map((epoch, e) => ({ className: names[k], x: epoch, ...(counts ? percentWithInterval(values[e][k], counts[k]) : { value: percentValue(values[e][k]) }) })));
  const band = result.bands.map((b) => ({ x: b.epoch, best: percentValue(b.best.robust), worst: percentValue(b.worst.robust) }));
  const sampled = result.plottedClasses.length < names.length ? ` (${result.plottedClasses.length} of ${names.length} classes, drawn at random)` : '';
  const charts = [
    {
      spec: classCurvesChart({ title: `Robust accuracy per class${sampled}`, points: curvePoints(result.robustAccuracy), band, xTitle: 'epoch', integerX: true, yTitle: 'robust accuracy (%)', classOrder: result.plottedClasses.map((k) => names[k]) }),
      caption: `Shaded: band between the best and the worst class at each epoch (all classes). Attack: ${result.attack}.${counts ? ' Vertical bars: 95% Wilson intervals.' : ''}`,
    },
    {
      spec: classCurvesChart({ title: `Clean accuracy per class${sampled}`, points: curvePoints(result.cleanAccuracy), xTitle: 'epoch', integerX: true, yTitle: 'clean accuracy (%)', classOrder: result.plottedClasses.map((k) => names[k]) }),
    },
    {
      spec: histogramChart({
        title: `Classes per robust-accuracy interval, epoch ${last.epoch}`,
        bins: result.histogram.map((bin) => ({ interval: `${Math.round(100 * bin.from)}-${Math.round(100 * bin.to)}%`, count: bin.count })),
        xTitle: 'robust accuracy',
        yTitle: 'classes',
      }),
    },
  ];
  const finalClean = result.cleanAccuracy[result.cleanAccuracy.length - 1];
  return {
    id: 'epochs',
    title: '1. Class-wise robustness over epochs',
    description:
      `Per-class clean and robust accuracy after every epoch of the run (metrics.jsonl), on the run's own evaluation subset${counts ? ` (${describeCounts(counts)})` : ''}, recorded during training; ` +
      'other sections use the study\'s test subset, which can differ. Robust accuracy of a class = share of ALL its test examples classified correctly both clean and under the attack.',
    findings,
    charts,
    tables: [
      {
        title: 'Robust accuracy per class and epoch (%)',
        columns: ['class', ...(counts ? ['n'] : []), ...result.epochs.map((e) => `epoch ${e}`), ...(counts ? ['last epoch 95% low', 'last epoch 95% high'] : []), 'clean (last epoch)', ...(counts ? ['clean 95% low', 'clean 95% high'] : [])],
        rows: names.map((name, k) => [
          name, ...(counts ? [counts[k]] : []),
          ...result.robustAccuracy.map((row) => percentValue(row[k])), ...(counts ? intervalCells(lastRobust[k], counts[k]) : []),
          percentValue(finalClean[k]), ...(counts ? intervalCells(finalClean[k], counts[k]) : []),
        ]),
      },
      {
        title: 'Best-to-worst band',
        columns: ['epoch', 'best class', 'best robust %', 'worst class', 'worst robust %', 'gap (points)', 'mean robust %', 'mean clean %'],
        rows: result.bands.map((b) => [b.epoch, names[b.best.classIndex], percentValue(b.best.robust), names[b.worst.classIndex], percentValue(b.worst.robust), percentValue(b.gap), percentValue(b.meanRobust), percentValue(b.meanClean)]),
      },
    ],
    data: result,
  };
}
