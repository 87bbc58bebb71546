/** Correlations with p-values: known answers computed with scipy.stats 1.17 (kendalltau method="asymptotic"). */
import { erfc, kendallTauB, linearFit, pearson, rank, spearman, studentTTwoSided } from '../../src/study/statistics';

const x = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const y = [2, 1, 4, 3, 7, 5, 6, 9, 10, 8];
// Ties in both variables.
const a = [0.31, 0.52, 0.52, 0.8, 0.9, 0.9, 0.9, 0.1];
const b = [1.2, 1.5, 1.4, 2.0, 2.1, 1.9, 2.1, 0.9];

test('ranks average over ties', () => {
  expect(rank([10, 20, 20, 5, 20])).toEqual([2, 4, 4, 1, 4]);
});

test('Pearson matches scipy.stats.pearsonr', () => {
  const r = pearson(x, y);
  expect(r.coefficient).toBeCloseTo(0.9030303030303026, 12);
  expect(r.pValue).toBeCloseTo(0.00034361219776328565, 10);
  const tied = pearson(a, b);
  expect(tied.coefficient).toBeCloseTo(0.9838037220149866, 12);
  expect(tied.pValue / 1.0492892052634935e-5).toBeCloseTo(1, 6);
});

test('Spearman with tie-aware ranks matches scipy.stats.spearmanr', () => {
  const tied = spearman(a, b);
  expect(tied.coefficient).toBeCloseTo(0.926208306513743, 12);
  expect(tied.pValue).toBeCloseTo(0.0009497549753251734, 10);
});

test('Kendall tau-b matches scipy.stats.kendalltau (asymptotic p)', () => {
  const plain = kendallTauB(x, y);
  expect(plain.coefficient).toBeCloseTo(0.7333333333333333, 12);
  expect(plain.pValue).toBeCloseTo(0.0031612220209069567, 6);
  const tied = kendallTauB(a, b);
  expect(tied.coefficient).toBeCloseTo(0.8642416214502248, 12);
  expect(tied.pValue).toBeCloseTo(0.004445232213196285, 6);
});

test('Student t two-sided tails match scipy.stats.t.sf * 2', () => {
  expect(studentTTwoSided(2.0, 5)).toBeCloseTo(0.10193947882985835, 10);
  expect(studentTTwoSided(0.5, 30)).toBeCloseTo(0.6207230048851272, 10);
  expect(erfc(0)).toBeCloseTo(1, 6);
});

test('perfect, reversed and constant samples', () => {
  expect(pearson([1, 2, 3], [2, 4, 6])).toEqual({ coefficient: 1, pValue: 0, n: 3 });
  expect(spearman([1, 2, 3, 4], [4, 3, 2, 1]).coefficient).toBe(-1);
  expect(pearson([1, 1, 1], [1, 2, 3]).coefficient).toBeNaN();
  expect(kendallTauB([1, 1, 1], [1, 2, 3]).pValue).toBeNaN();
});

test('linear fit of an exact line', () => {
  expect(linearFit([0, 1, 2], [1, 3, 5])).toEqual({ slope: 2, intercept: 1 });
});

test('unequal lengths are rejected with the two lengths', () => {
  expect(() => pearson([1, 2], [1])).toThrow('paired samples differ in length: 2 and 1');
});
