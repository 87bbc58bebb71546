/** Experiments 5, 6, 7: attack comparison and rank consistency, the temperature sweep, mitigation. */
import { describeAttack as attackLabel, evaluate, loadMnistSample, Model, takePerClass } from '../../src';
import { parseAttackList, parseAttackSpec } from '../../src/run';
import { attackStrengthFromAccuracies, attackStrengthSection } from '../../src/study/attack-strength';
import { mitigationComparison, mitigationSection, parseLogitBias } from '../../src/study/mitigation';
import { temperatureSection, temperatureSweep } from '../../src/study/temperature';
import { standardTrainedMnistModel } from '../helpers/mnist-model';

test('attack specs: KIND[@STEPS][xRESTARTS] with the other options given beside them; the library supplies defaults', () => {
  expect(parseAttackList('fgsm,pgd@20,pgd@100x5', { eps: 0.1 })).toEqual([
    { kind: 'fgsm', eps: 0.1 },
    { kind: 'pgd', eps: 0.1, steps: 20 },
    { kind: 'pgd', eps: 0.1, steps: 100, restarts: 5 },
  ]);
  expect(parseAttackSpec('apgd-ce@100', { eps: 0.03 })).toEqual({ kind: 'apgd-ce', eps: 0.03, steps: 100 });
  expect(parseAttackSpec('tpgd@5', { eps: 0.03, temperature: 2 })).toEqual({ kind: 'tpgd', eps: 0.03, steps: 5, temperature: 2 });
  expect(() => parseAttackSpec('pgd@twenty', { eps: 0.1 }, '--attack')).toThrow('--attack "pgd@twenty" is not KIND[@STEPS][xRESTARTS], e.g. fgsm, pgd@20, pgd@100x5');
  expect(() => parseAttackSpec('fab', { eps: 0.1 }, '--attack')).toThrow(/^--attack "fab": unknown attack kind "fab"; accepted: fgsm, pgd, /);
  expect(() => parseAttackList(' , ', { eps: 0.1 }, '--attacks')).toThrow('--attacks is empty; expected KIND[@STEPS][xRESTARTS], e.g. fgsm, pgd@20, pgd@100x5, comma-separated');
  expect(attackLabel({ kind: 'tpgd', eps: 0.1, steps: 20, temperature: 2 })).toBe('T-PGD(T=2)-20 Linf eps=0.1 step=0.0125');
});

test('known answer: drops, their correlation with robustness, rank agreement across attacks and models', () => {
  const study = attackStrengthFromAccuracies(
    ['a', 'b', 'c', 'd'],
    ['FGSM', 'PGD-20'],
    [0.9, 0.9, 0.9, 0.9],
    [[0.8, 0.6, 0.5, 0.3], [0.75, 0.45, 0.3, 0.05]],
    [{ label: 'm1', robust: [0.75, 0.45, 0.3, 0.05] }, { label: 'm2', robust: [0.7, 0.5, 0.2, 0.1] }],
  );
  expect(study.drop.map((d) => Number(d.toFixed(6)))).toEqual([0.05, 0.15, 0.2, 0.25]);
  expect(study.dropVsRobustness.spearman.coefficient).toBeCloseTo(-1, 12);
  expect(study.rankAcrossAttacks).toHaveLength(1);
  expect(study.rankAcrossAttacks[0].kendall.coefficient).toBeCloseTo(1, 12);
  expect(study.rankAcrossModels[0].spearman.coefficient).toBeCloseTo(1, 12);
  const section = attackStrengthSection(study);
  expect(section.findings[1]).toBe('largest drops: d 25.0 points, c 20.0 points, b 15.0 points; smallest: b 15.0 points, a 5.0 points.');
  expect(section.tables.map((t) => t.title)).toEqual(['Robust accuracy per class and attack (%)', 'Rank consistency across attacks', 'Rank consistency across models']);
});

test('the temperature sweep runs Temperature-PGD per T, and T = 1 reproduces PGD', async () => {
  const model = await standardTrainedMnistModel();
  const data = takePerClass(loadMnistSample('test'), 5, 0);
  const base = { kind: 'pgd' as const, eps: 0.1, steps: 3, seed: 4 };
  const study = await temperatureSweep(model, data, { base, temperatures: [1, 5], seed: 4 });
  expect(study.rows.map((r) => r.attack)).toEqual(['T-PGD(T=1)-3 Linf eps=0.1 step=0.08333', 'T-PGD(T=5)-3 Linf eps=0.1 step=0.08333']);
  expect(study.rows[0].robust).toEqual(study.pgd);
  expect(temperatureSection(study).findings[0]).toMatch(/^PGD \(T = 1\): mean robust [\d.]+%; strongest T = (1|5): [\d.]+%\.$/);
  const custom = await temperatureSweep(model, data, {
    base: { kind: 'pgd', eps: 0.3, steps: 2 },
    temperatures: [3],
    attackForTemperature: (base, t) => ({ ...base, steps: t }),
  });
  expect(custom.rows.map((r) => r.attack)).toEqual(['PGD-3 Linf eps=0.3 step=0.25']);
});

test('a logit bias towards one class moves every clean prediction there; mitigation compares worst and mean classes', async () => {
  // A trained model: an untrained one predicts a single class for everything and would make this test vacuous.
  const model = await standardTrainedMnistModel();
  const data = takePerClass(loadMnistSample('test'), 3, 0);
  expect(parseLogitBias('3=100,1=-0.5', model.config.classNames)).toEqual([0, -0.5, 0, 100, 0, 0, 0, 0, 0, 0]);
  expect(() => parseLogitBias('shirt=1', model.config.classNames)).toThrow('--logit-bias "shirt=1" is not CLASS=VALUE');
  const before = await evaluate(model, data);
  expect(new Set(before.cleanConfusion.flatMap((row) => row.flatMap((n, k) => (n > 0 ? [k] : [])))).size).toBeGreaterThanOrEqual(8);
  const logitBias = parseLogitBias('3=100', model.config.classNames);
  const clean = await evaluate(model, data, { logitBias });
  expect(clean.cleanConfusion.map((row) => row[3])).toEqual(Array(10).fill(3));
  const study = await mitigationComparison({ label: 'before', model }, { label: 'bias 3=100', model, logitBias }, data, { attack: { kind: 'fgsm', eps: 0.1 }, mitigation: 'logit bias' });
  // FGSM moves logits far less than 100: class 3 keeps every example, every other class loses all of them.
  expect(study.after.robust).toEqual([0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  expect(study.after.clean).toEqual(clean.cleanAccuracy);
  expect(Math.min(...study.before.robust)).toBeLessThan(1);
  const findings = mitigationSection(study).findings;
  expect(findings).toHaveLength(3);
  expect(findings[1]).toMatch(/^per-class robust change: largest gains class 3 \+/);
});

test('the study\'s logit bias works on every architecture (ResNet-50 has no classifier.fc3 or linear bias)', async () => {
  const model = Model.create({ architecture: 'resnet50', inputShape: [3, 32, 32], classNames: ['a', 'b', 'c'], mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], device: 'cpu' });
  const images = Uint8Array.from({ length: 4 * 3 * 32 * 32 }, (_, i) => (i * 7919) % 256);
  const data = { images, labels: Int32Array.of(0, 1, 2, 0) };
  const study = await mitigationComparison({ label: 'before', model }, { label: 'bias c=1000', model, logitBias: [0, 0, 1000] }, data, { attack: { kind: 'fgsm', eps: 0.01 }, mitigation: 'logit bias' });
  // Every example is now predicted as c, under attack too: only c's example counts as correct.
  expect(study.after.clean).toEqual([0, 0, 1]);
  expect(study.after.robust).toEqual([0, 0, 1]);
});
