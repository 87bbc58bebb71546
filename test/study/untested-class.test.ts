/**
 * A class with no test examples has no accuracy: NaN in the library's evaluation (null in JSON), n/a in every
 * table, left out of the means, best, worst and deltas of `study epochs` and `study mitigation`, with a warning.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';

import { evaluate, loadMnistSample, readMetrics, takeFirst } from '../../src';
import { selectExamples } from '../../src/data/subset';
import { formatClassTable } from '../../src/report/class-table';
import { toCsv } from '../../src/report/escape';
import { classRows } from '../../src/run/train';
import { attackStrengthFromAccuracies, attackStrengthSection } from '../../src/study/attack-strength';
import { confusionSection, targetStatistics } from '../../src/study/confusion';
import { robustnessOverEpochs, robustnessOverEpochsSection } from '../../src/study/epochs';
import { summarizeClasswise } from '../../src/study/fairness';
import { mitigationComparison, mitigationSection } from '../../src/study/mitigation';
import { temperatureSection } from '../../src/study/temperature';
import { weightNormSection, weightNormStudy } from '../../src/study/weight-norm';
import { fawaGate, frlErrors, selectionScore } from '../../src/train/fairness';
import { mitigationWeights } from '../../src/train/trainer';
import { mnistModel } from '../helpers/mnist-model';

const WARNING_3 = 'warning: class "3" has no test images: n/a, left out of the mean, best and worst';
const WARNING_B = 'warning: class "b" has no test images: n/a, left out of the mean, best and worst';

/** 120 real test digits without any 3. */
function digitsWithoutThree() {
  const digits = takeFirst(loadMnistSample('test'), 120);
  const kept = Array.from(digits.labels.keys()).filter((i) => digits.labels[i] !== 3);
  return selectExamples(digits, kept, 'no 3s');
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

test('evaluate: a class without test examples has NaN accuracies (null in JSON); the table shows n/a and warns', async () => {
  const model = mnistModel(2);
  const data = digitsWithoutThree();
  const evaluation = await evaluate(model, data, { attack: { kind: 'fgsm', eps: 0.1 } });
  expect(evaluation.counts[3]).toBe(0);
  expect(evaluation.cleanAccuracy[3]).toBeNaN();
  expect(evaluation.robustAccuracy[3]).toBeNaN();
  const others = [0, 1, 2, 4, 5, 6, 7, 8, 9];
  for (const k of others) expect(Number.isFinite(evaluation.cleanAccuracy[k]) && Number.isFinite(evaluation.robustAccuracy[k])).toBe(true);
  // The overall share counts examples, so the class without any adds nothing.
  const diagonal = evaluation.cleanConfusion.reduce((sum, row, k) => sum + row[k], 0);
  expect(evaluation.overall.clean).toBeCloseTo(diagonal / data.count, 12);
  expect(JSON.parse(JSON.stringify(evaluation.cleanAccuracy))[3]).toBeNull();
  const table = formatClassTable(classRows(evaluation), { attackLabel: evaluation.attackLabel });
  expect(table).toMatch(/│ 3 +│ +0 │ +n\/a │ +│ +n\/a │/);
  expect(table).toContain(`mean: clean ${(100 * mean(others.map((k) => evaluation.cleanAccuracy[k]))).toFixed(1)}%`);
  expect(table.split('\n').pop()).toBe(WARNING_3);
});

test('study mitigation: the class is n/a, out of the worst class, means and changes, and a finding names it', async () => {
  const data = digitsWithoutThree();
  const model = mnistModel(2);
  const bias = [0, 0, 0, 5, 0, 0, 0, 0, 0, 0];
  const study = await mitigationComparison({ label: 'before', model }, { label: 'after', model, logitBias: bias }, data, { attack: { kind: 'fgsm', eps: 0.1 }, mitigation: 'logit bias 3=5' });
  const others = [0, 1, 2, 4, 5, 6, 7, 8, 9];
  for (const side of [study.before, study.after]) {
    expect(side.robust[3]).toBeNaN();
    expect(side.worst.classIndex).not.toBe(3);
    expect(side.worst.robust).toBe(Math.min(...others.map((k) => side.robust[k])));
    expect(side.meanRobust).toBeCloseTo(mean(others.map((k) => side.robust[k])), 12);
    expect(side.meanClean).toBeCloseTo(mean(others.map((k) => side.clean[k])), 12);
  }
  // Drawn again from report.json (null for NaN), the section reads the same.
  for (const saved of [study, JSON.parse(JSON.stringify(study))]) {
    const section = mitigationSection(saved);
    expect(section.findings).toContain(WARNING_3);
    expect(section.findings.join(' ')).not.toMatch(/NaN|class 3 [-+]/);
    const row = section.tables[0].rows[3];
    expect(row.slice(0, 2)).toEqual(['class 3', 0]);
    expect(row.slice(2).every((cell) => Number.isNaN(cell))).toBe(true);
    expect(toCsv(section.tables[0].columns, [row])).toBe(`${section.tables[0].columns.join(',')}\nclass 3,0${','.repeat(14)}\n`);
    const bars = (section.charts[0].spec as unknown as { data: { values: { className: string }[] } }).data.values;
    expect(bars.some((bar) => bar.className === 'class 3')).toBe(false);
    expect(bars).toHaveLength(2 * 9);
  }
});

test('study epochs: metrics.jsonl with a class without test examples (null, or 0 from runs before) is n/a, out of the band and means', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'untested-class-'));
  const line = (epoch: number, robust: (number | null)[]) => JSON.stringify({
    epoch, attack: 'PGD-20', classNames: ['a', 'b', 'c', 'd'], counts: [10, 0, 10, 10],
    cleanAccuracy: robust.map((r) => (r === null ? null : Math.min(1, r + 0.2))), robustAccuracy: robust, weightNorms: [1, 1, 1, 1],
  });
  // Epoch 1 as older runs wrote it (0 for the class without examples), epoch 2 as JSON writes NaN (null).
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), `${line(1, [0.5, 0, 0.2, 0.4])}\n${line(2, [0.6, null, 0.3, 0.7])}\n`);
  const metrics = readMetrics(dir);
  expect(metrics.map((m) => m.robustAccuracy[1])).toEqual([NaN, NaN]);
  const result = robustnessOverEpochs(metrics);
  expect(result.bands.map((b) => [b.best.classIndex, b.worst.classIndex])).toEqual([[0, 2], [3, 2]]);
  expect(result.bands[1].meanRobust).toBeCloseTo((0.6 + 0.3 + 0.7) / 3, 12);
  expect(result.bands[1].meanClean).toBeCloseTo((0.8 + 0.5 + 0.9) / 3, 12);
  expect(result.histogram.reduce((sum, bin) => sum + bin.count, 0)).toBe(3);
  for (const saved of [result, JSON.parse(JSON.stringify(result))]) {
    const section = robustnessOverEpochsSection(saved);
    expect(section.findings[0]).toBe('epoch 2: robust accuracy ranges from 30.0% (c) to 70.0% (d), a class-wise gap of 40.0 points; mean 53.3% robust, 73.3% clean.');
    expect(section.findings[1]).toBe('weakest classes at epoch 2: c 30.0%, a 60.0%, d 70.0%.');
    expect(section.findings).toContain(WARNING_B);
    const [perClass, band] = section.tables;
    expect(perClass.rows[1].slice(0, 2)).toEqual(['b', 0]);
    expect(perClass.rows[1].slice(2).every((cell) => Number.isNaN(cell))).toBe(true);
    expect(band.rows.flat().some((cell) => typeof cell === 'number' && !Number.isFinite(cell))).toBe(false);
    const curves = (section.charts[0].spec as unknown as { layer: { data?: { values: { className: string }[] } }[] }).layer;
    const points = curves.flatMap((layer) => layer.data?.values ?? []);
    expect(points.some((p) => p.className === 'b')).toBe(false);
  }
});

test('training: a class without held-out examples gets mitigation weight 1 and is out of FAWA, FRL and the robust+worst score', () => {
  mitigationWeights([0.5, NaN, 0.7]).forEach((weight, k) => expect(weight).toBeCloseTo([1.25, 1, 0.75][k], 12));
  expect(fawaGate([0.5, NaN, 0.7], 0.4)).toBe(true);
  expect(selectionScore('robust+worst', { robustAccuracy: [0.5, NaN, 0.7], overall: { robust: 0.6 } })).toBeCloseTo(1.1, 12);
  const errors = frlErrors([0.9, NaN, 0.7], [0.5, NaN, 0.5]);
  expect(errors.averageNatural).toBeCloseTo(0.2, 12);
  expect(errors.averageBoundary).toBeCloseTo(0.3, 12);
  expect(errors.natural[1]).toBeCloseTo(0.2, 12);
  expect(errors.boundary[1]).toBeCloseTo(0.3, 12);
});

test('confusion, weight norm, attack strength, temperature and fairness leave the class out and warn', () => {
  // Class 1 has no example: labels 0, 0, 2, 2, 3, 3.
  const labels = Int32Array.from([0, 0, 2, 2, 3, 3]);
  const confusion = targetStatistics(labels, [Int32Array.from([0, 2, 2, 2, 0, 3])], 4);
  expect(confusion.robustAccuracy).toEqual([0.5, NaN, 1, 0.5]);
  const classNames = ['a', 'b', 'c', 'd'];
  const confusionStudy = { ...confusion, classNames, attacks: ['PGD-20'], seeds: 1 };
  for (const saved of [confusionStudy, JSON.parse(JSON.stringify(confusionStudy))]) {
    const section = confusionSection(saved);
    expect(section.findings.slice(0, 3).map((line) => line.split(':')[0])).toEqual(['a', 'd', 'c']);
    expect(section.findings).toContain(WARNING_B);
    expect(section.tables[0].rows[1].slice(0, 5)).toEqual(['b', 0, NaN, NaN, NaN]);
  }

  const norms = weightNormStudy([{ epoch: 1, attack: 'PGD-20', classNames, counts: [2, 0, 2, 2], cleanAccuracy: [1, NaN, 1, 1], robustAccuracy: [0.2, NaN, 0.4, 0.6], weightNorms: [1, 9, 2, 3] }]);
  expect(norms.epochs[0].spearman.n).toBe(3);
  expect(norms.epochs[0].spearman.coefficient).toBeCloseTo(1, 12);
  expect(weightNormSection(norms).findings).toContain(WARNING_B);

  const strength = attackStrengthFromAccuracies(classNames, ['FGSM', 'PGD'], [1, NaN, 1, 1], [[0.5, NaN, 0.8, 0.9], [0.1, NaN, 0.6, 0.85]], [], [2, 0, 2, 2]);
  expect(strength.drop[1]).toBeNaN();
  expect(strength.rankAcrossAttacks[0].spearman.n).toBe(3);
  const strengthSection = attackStrengthSection(JSON.parse(JSON.stringify(strength)));
  expect(strengthSection.findings[0]).toBe('mean robust accuracy falls from 73.3% (FGSM) to 51.7% (PGD).');
  expect(strengthSection.findings[1]).toBe('largest drops: a 40.0 points, c 20.0 points, d 5.0 points; smallest: c 20.0 points, d 5.0 points.');
  expect(strengthSection.findings).toContain(WARNING_B);

  const temperature = temperatureSection(JSON.parse(JSON.stringify({ classNames, baseAttack: 'PGD', counts: [2, 0, 2, 2], pgd: [0.5, NaN, 0.5, 1], rows: [{ temperature: 5, attack: 'PGD T=5', robust: [0, NaN, 0.5, 1] }] })));
  expect(temperature.findings[0]).toBe('PGD (T = 1): mean robust 66.7%; strongest T = 5: 50.0%.');
  expect(temperature.findings).toContain(WARNING_B);

  const summary = summarizeClasswise([0.5, NaN, 1, 0.5], [2, 0, 2, 4]);
  expect(summary.average).toBeCloseTo(5 / 8, 12);
  expect(summary.worstClass).toBe(0.5);
  expect(Number.isFinite(summary.std)).toBe(true);
});
