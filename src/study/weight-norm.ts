/**
 * Experiment 4 (claim 4): per-class L2 norm of the final linear layer's row against per-class robust
 * accuracy, Pearson and Spearman with two-sided p-values, at every epoch of a run (from metrics.jsonl).
 */
import { isAvailable, unavailableClasses } from '../class-shares';
import { classCurvesChart, scatterWithFitChart } from '../report/charts';
import { untestedWarning } from '../report/class-table';
import { ReportSection } from '../report/study-report';
import { coefficient, describeCounts, displayNames, percent, percentValue, pValue } from './format';
import { EpochMetrics, studyError } from './run-folder';
import { Correlation, pearson, spearman } from './statistics';

export interface WeightNormEpoch {
  epoch: number;
  weightNorms: number[];
  robustAccuracy: number[];
  pearson: Correlation;
  spearman: Correlation;
}

export interface WeightNormStudy {
  classNames: string[];
  attack: string;
  /** Test examples per class of the run's evaluation subset (metrics.jsonl). */
  counts?: number[];
  epochs: WeightNormEpoch[];
}

export function weightNormStudy(metrics: EpochMetrics[]): WeightNormStudy {
  if (metrics.length === 0) throw studyError('no epochs to study');
  return {
    classNames: metrics[0].classNames,
    attack: metrics[metrics.length - 1].attack,
    counts: metrics[metrics.length - 1].counts,
    epochs: metrics.map((line) => {
      // Over the classes with test examples: one without has no robust accuracy to correlate.
      const measured = line.robustAccuracy.flatMap((robust, k) => (isAvailable(robust) ? [k] : []));
      const norms = measured.map((k) => line.weightNorms[k]);
      const robust = measured.map((k) => line.robustAccuracy[k]);
      return { epoch: line.epoch, weightNorms: line.weightNorms, robustAccuracy: line.robustAccuracy, pearson: pearson(norms, robust), spearman: spearman(norms, robust) };
    }),
  };
}

export function weightNormSection(study: WeightNormStudy): ReportSection {
  const names = displayNames(study.classNames);
  const last = study.epochs[study.epochs.length - 1];
  const byNorm = last.weightNorms.map((norm, k) => ({ k, norm })).sort((a, b) => a.norm - b.norm);
  const positive = study.epochs.filter((e) => e.spearman.coefficient > 0).length;
  const findings = [
    `epoch ${last.epoch}: Pearson r = ${coefficient(last.pearson.coefficient)} (p = ${pValue(last.pearson.pValue)}), ` +
      `Spearman rho = ${coefficient(last.spearman.coefficient)} (p = ${pValue(last.spearman.pValue)}) between ||w_k|| and robust accuracy over ${last.pearson.n} classes.`,
    `smallest row norm: ${names[byNorm[0].k]} ${byNorm[0].norm.toFixed(3)} (robust ${percent(last.robustAccuracy[byNorm[0].k])}); ` +
      `largest: ${names[byNorm[byNorm.length - 1].k]} ${byNorm[byNorm.length - 1].norm.toFixed(3)} (robust ${percent(last.robustAccuracy[byNorm[byNorm.length - 1].k])}).`,
    `Spearman rho is positive at ${positive} of ${study.epochs.length} epochs.`,
  ];
  const warning = untestedWarning(unavailableClasses(last.robustAccuracy).map((k) => study.classNames[k]));
  if (warning) findings.push(warning);
  const coefficientPoints = study.epochs.flatMap((e) => [
    { className: 'Pearson r', x: e.epoch, value: 100 * e.pearson.coefficient },
    { className: 'Spearman rho', x: e.epoch, value: 100 * e.spearman.coefficient },
  ]);
  const overEpochs = classCurvesChart({
    title: 'Correlation of weight norm and robustness per epoch',
    points: coefficientPoints,
    xTitle: 'epoch',
    integerX: true,
    yTitle: 'coefficient x 100',
    yDomain: [-100, 100],
    legendTitle: 'coefficient',
  });
  return {
    id: 'weight-norm',
    title: '4. Weight norm and robustness',
    description:
      `Per class k: L2 norm of row k of the final linear layer, against the class's robust accuracy, at every epoch, on the run's own evaluation subset${study.counts ? ` (${describeCounts(study.counts)})` : ''} recorded during training (metrics.jsonl), which can differ from the study's test subset. ` +
      'Pearson and Spearman (tie-aware ranks) with two-sided p-values from the t distribution with n-2 degrees of freedom (n = number of classes).',
    findings,
    charts: [
      {
        spec: scatterWithFitChart({
          title: `Row norm vs robust accuracy, epoch ${last.epoch}`,
          points: names.map((name, k) => ({ className: name, x: last.weightNorms[k], y: percentValue(last.robustAccuracy[k]) })),
          xTitle: '||w_k|| (final layer row)',
          yTitle: 'robust accuracy (%)',
        }),
        caption: `Dashed: least-squares fit. Pearson r = ${coefficient(last.pearson.coefficient)}, Spearman rho = ${coefficient(last.spearman.coefficient)}. Attack: ${study.attack}.`,
      },
      { spec: overEpochs },
    ],
    tables: [
      {
        title: 'Correlation per epoch',
        columns: ['epoch', 'Pearson r', 'Pearson p', 'Spearman rho', 'Spearman p', 'classes'],
        rows: study.epochs.map((e) => [e.epoch, round(e.pearson.coefficient), round(e.pearson.pValue), round(e.spearman.coefficient), round(e.spearman.pValue), e.pearson.n]),
      },
      {
        title: `Row norm and robust accuracy per class, epoch ${last.epoch}`,
        columns: ['class', '||w_k||', 'robust %'],
        rows: names.map((name, k) => [name, round(last.weightNorms[k]), percentValue(last.robustAccuracy[k])]),
      },
    ],
    data: study,
  };
}

function round(value: number): number | null {
  return Number.isFinite(value) ? Number(value.toPrecision(4)) : null;
}
