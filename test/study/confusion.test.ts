/** Experiment 2: confusion, top targets, per-example target sets and single-target groups. */
import { loadMnistSample, takePerClass } from '../../src';
import { adversarialConfusion, confusionSection, meanAndStd, robustAccuracyPerRun, targetStatistics } from '../../src/study/confusion';
import { mnistModel, standardTrainedMnistModel } from '../helpers/mnist-model';
import { watchNativeCalls } from '../helpers/native-calls';

test('known answer: three classes, two attack runs', () => {
  const labels = Int32Array.from([0, 0, 0, 0, 1, 1, 2]);
  const runs = [Int32Array.from([1, 1, 2, 0, 1, 0, 2]), Int32Array.from([1, 2, 2, 1, 1, 0, 2])];
  const stats = targetStatistics(labels, runs, 3);
  expect(stats.confusion).toEqual([[1, 2, 1], [1, 1, 0], [0, 0, 1]]);
  expect(stats.rowNormalised[0]).toEqual([0.25, 0.5, 0.25]);
  expect(stats.robustAccuracy).toEqual([0.25, 0.5, 1]);
  expect(stats.robustAccuracyUnion).toEqual([0, 0.5, 1]);
  expect(stats.topTargets[0]).toEqual([{ target: 1, count: 2, share: 2 / 3 }, { target: 2, count: 1, share: 1 / 3 }]);
  expect(stats.targetSets).toEqual([[1], [1, 2], [2], [1], [], [0], []]);
  expect(stats.singleTargetGroups).toEqual([
    { source: 0, target: 1, examples: [0, 3], shareOfAttackable: 0.5 },
    { source: 0, target: 2, examples: [2], shareOfAttackable: 0.25 },
    { source: 1, target: 0, examples: [5], shareOfAttackable: 1 },
  ]);
  expect(stats.attackable).toEqual([4, 1, 0]);
  expect(stats.singleTarget).toEqual([3, 1, 0]);
});

test('known answer: per-class robust accuracy of each seed, and its mean and sample standard deviation', () => {
  const labels = Int32Array.from([0, 0, 0, 0, 1, 1, 2]);
  const runs = [Int32Array.from([1, 1, 2, 0, 1, 0, 2]), Int32Array.from([0, 0, 2, 1, 1, 1, 2]), Int32Array.from([0, 0, 0, 0, 0, 1, 0])];
  expect(robustAccuracyPerRun(labels, runs, 3)).toEqual([[0.25, 0.5, 1], [0.5, 1, 0.5], [1, 1, 0]]);
  // sqrt(((1/3)^2 + (1/12)^2 + (5/12)^2) / 2) = sqrt(42/288)
  const { mean, std } = meanAndStd([0.25, 0.5, 1]);
  expect(mean).toBeCloseTo(7 / 12, 12);
  expect(std).toBeCloseTo(0.381881307912987, 12);
  expect(meanAndStd([0.5])).toEqual({ mean: 0.5, std: 0 });
});

test('examples misclassified without attack are not counted as attackable', () => {
  const labels = Int32Array.from([0, 0, 1]);
  const runs = [Int32Array.from([1, 1, 0])];
  const stats = targetStatistics(labels, runs, 2, 3, Int32Array.from([0, 1, 1]));
  expect(stats.cleanCorrect).toEqual([true, false, true]);
  expect(stats.attackable).toEqual([1, 1]);
  expect(stats.singleTargetGroups.map((g) => g.examples)).toEqual([[0], [2]]);
  expect(stats.robustAccuracy).toEqual([0, 0]);
});

test('on a trained MNIST model: rows add up to the class counts, more runs only grow target sets', async () => {
  const model = await standardTrainedMnistModel();
  const data = takePerClass(loadMnistSample('test'), 10, 0);
  const study = await adversarialConfusion(model, data, { attacks: [{ kind: 'fgsm', eps: 0.2 }, { kind: 'pgd', eps: 0.2, steps: 5 }], seeds: 2 });
  expect(study.confusion.map((row) => row.reduce((a, b) => a + b, 0))).toEqual(Array(10).fill(10));
  study.robustAccuracyUnion.forEach((union, k) => expect(union).toBeLessThanOrEqual(study.robustAccuracy[k]));
  study.targetSets.forEach((set, i) => expect(set).not.toContain(study.labels[i]));
  const grouped = study.singleTargetGroups.reduce((sum, g) => sum + g.examples.length, 0);
  expect(grouped).toBe(study.singleTarget.reduce((a, b) => a + b, 0));
  expect(study.attacks).toEqual(['FGSM Linf eps=0.2', 'PGD-5 Linf eps=0.2 step=0.1']);
  // Per seed of the first attack: seed 1 is the matrix's run; FGSM has no random start, so the seeds agree.
  expect(study.robustAccuracyPerSeed?.map((seeds) => seeds[0])).toEqual(study.robustAccuracy);
  study.robustAccuracyPerSeed?.forEach((seeds) => expect(seeds[1]).toBe(seeds[0]));
  const section = confusionSection(study);
  expect(section.findings).toHaveLength(5);
  expect(section.findings[4]).toMatch(/^Over 2 seeds \(random starts\) of FGSM Linf eps=0.2, per-class robust accuracy varies by a standard deviation of at most 0.0 points/);
  expect(section.tables[0].columns.slice(5, 7)).toEqual(['robust % mean over 2 seeds', 'std over seeds']);
  expect(section.tables[0].rows).toHaveLength(10);
  section.tables[0].rows.forEach((row, k) => expect(row.slice(5, 7)).toEqual([Number((100 * study.robustAccuracy[k]).toFixed(2)), 0]));
});

test('the images go into the addon once as uint8 and every attack run reads them there: no float copies, no attack() calls', async () => {
  const model = mnistModel();
  const data = takePerClass(loadMnistSample('test'), 2, 0);
  const calls: { method: string; keys: string[] }[] = [];
  watchNativeCalls(model, (method, args) => calls.push({ method, keys: Object.keys(args[0] as object) }));
  const study = await adversarialConfusion(model, data, { attacks: [{ kind: 'fgsm', eps: 0.1 }, { kind: 'pgd', eps: 0.1, steps: 2 }], seeds: 2 });
  // One clean pass and 2 attacks x 2 seeds, each an evaluation given the handle only.
  expect(calls).toEqual(Array(5).fill({ method: 'evaluate', keys: ['dataset'] }));
  expect(study.targetSets).toHaveLength(20);
});

/** The trained fixture with its logit for `digit` pushed far down: a model that never predicts that digit. */
async function neverPredicting(digit: number) {
  const state = await (await standardTrainedMnistModel()).state();
  // The classifier's bias: the last 10-element bias among the weights (optimizer state left out).
  const name = Object.keys(state).filter((key) => !key.startsWith('optimizer') && key.endsWith('bias') && state[key].shape[0] === 10).pop()!;
  const bias = new Float32Array(state[name].data.slice().buffer);
  bias[digit] = -1e4;
  const model = mnistModel();
  await model.loadState({ ...state, [name]: { ...state[name], data: new Uint8Array(bias.buffer) } });
  return model;
}

test('a class the model never predicts is recorded as collapsed; its finding says where its images go clean, not adversarial targets', async () => {
  const model = await neverPredicting(3);
  const digits = takePerClass(loadMnistSample('test'), 10, 0);
  const study = await adversarialConfusion(model, digits, { attacks: [{ kind: 'pgd', eps: 0.1, steps: 5 }], seeds: 1 });
  expect(study.collapsed).toHaveLength(1);
  const [three] = study.collapsed!;
  expect(three).toMatchObject({ index: 3, name: '3', predicted: 0, count: 10 });
  expect(three.goesTo.reduce((sum, [, share]) => sum + share, 0)).toBeGreaterThan(0.5);
  const findings = confusionSection(JSON.parse(JSON.stringify(study))).findings;
  // Reports name digit classes "class 3"; the collapsed class comes first.
  expect(findings[0]).toMatch(/^class 3: collapsed, not an adversarial finding: the model predicts it for 0 of the studied images \(10 of them class 3\); clean, its images already go to class \d \(\d+\.\d%\)/);
  expect(findings.filter((line) => line.startsWith('class 3: '))).toHaveLength(1);
  // The unmodified model predicts every digit: nothing collapsed.
  const unmodified = await adversarialConfusion(await standardTrainedMnistModel(), digits, { attacks: [{ kind: 'pgd', eps: 0.1, steps: 5 }], seeds: 1 });
  expect(unmodified.collapsed).toEqual([]);
});
