/** Experiments 1 and 4 read metrics.jsonl lines: bands, class sampling, histogram, weight-norm correlations. */
import { robustnessOverEpochs, robustnessOverEpochsSection } from '../../src/study/epochs';
import { EpochMetrics } from '../../src/study/run-folder';
import { weightNormSection, weightNormStudy } from '../../src/study/weight-norm';

function line(epoch: number, robust: number[], norms = robust.map((r) => 1 + r)): EpochMetrics {
  return {
    epoch,
    attack: 'PGD-20 Linf eps=0.1 step=0.0125',
    classNames: robust.map((_, k) => `class ${k}`),
    counts: robust.map(() => 100),
    cleanAccuracy: robust.map((r) => Math.min(1, r + 0.2)),
    robustAccuracy: robust,
    weightNorms: norms,
  };
}

test('the band follows the best and worst class of every epoch', () => {
  const result = robustnessOverEpochs([line(1, [0.2, 0.5, 0.4]), line(2, [0.35, 0.3, 0.9])]);
  expect(result.bands.map((b) => [b.best.classIndex, b.worst.classIndex])).toEqual([[1, 0], [2, 1]]);
  expect(result.bands[1].gap).toBeCloseTo(0.6, 12);
  expect(result.plottedClasses).toEqual([0, 1, 2]);
  expect(result.histogram.map((bin) => bin.count)).toEqual([0, 0, 0, 2, 0, 0, 0, 0, 0, 1]);
  const section = robustnessOverEpochsSection(result);
  expect(section.findings[0]).toBe('epoch 2: robust accuracy ranges from 30.0% (class 1) to 90.0% (class 2), a class-wise gap of 60.0 points; mean 51.7% robust, 68.3% clean.');
});

test('above 20 classes 12 classes are drawn, reproducibly; every class still counts in the band and histogram', () => {
  const robust = Array.from({ length: 100 }, (_, k) => k / 100);
  const a = robustnessOverEpochs([line(1, robust)], { seed: 3 });
  expect(a.plottedClasses).toHaveLength(12);
  expect(new Set(a.plottedClasses).size).toBe(12);
  expect(robustnessOverEpochs([line(1, robust)], { seed: 3 }).plottedClasses).toEqual(a.plottedClasses);
  expect(a.bands[0].best.classIndex).toBe(99);
  expect(a.histogram.map((bin) => bin.count)).toEqual(Array(10).fill(10));
});

test('weight-norm correlation per epoch, perfect when norms rise with robustness', () => {
  const study = weightNormStudy([line(1, [0.1, 0.5, 0.3, 0.7]), line(2, [0.1, 0.5, 0.3, 0.7], [4, 3, 2, 1])]);
  expect(study.epochs[0].spearman.coefficient).toBeCloseTo(1, 12);
  expect(study.epochs[0].pearson.coefficient).toBeCloseTo(1, 12);
  expect(study.epochs[1].spearman.coefficient).toBeCloseTo(-0.8, 12);
  const section = weightNormSection(study);
  expect(section.findings[2]).toBe('Spearman rho is positive at 1 of 2 epochs.');
  expect(section.tables[0].rows[1][3]).toBeCloseTo(-0.8, 12);
});
