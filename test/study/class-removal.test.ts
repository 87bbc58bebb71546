/** Experiment 3: choosing source and targets, selecting examples, and the resumable three-stage protocol. */
import fs from 'fs';
import os from 'os';
import path from 'path';

import { learnedMnistRun } from '../helpers/mnist-model';
import { chooseSelection, classRemoval, ClassRemovalResult, classRemovalSection, classRemovalWarnings, removalTest, selectExamplesForRemoval, stageIsCurrent } from '../../src/study/class-removal';
import { RunConfig } from '../../src/run';
import { ConfusionStudy, targetStatistics } from '../../src/study/confusion';

function study(): ConfusionStudy {
  const labels = Int32Array.from([0, 0, 0, 0, 1, 1, 2]);
  const runs = [Int32Array.from([1, 1, 2, 0, 1, 0, 2]), Int32Array.from([1, 2, 2, 1, 1, 0, 2])];
  return { classNames: ['a', 'b', 'c'], attacks: ['x'], seeds: 2, ...targetStatistics(labels, runs, 3) };
}

/** The case: 17 selected vs 5 control examples, a retrained model far weaker than the full one. */
function removalResult(): ClassRemovalResult {
  const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);
  return {
    selection: { classNames: ['Coat', 'Pullover', 'Shirt'], source: 0, targets: [1], testPerClass: 200, selected: range(17), control: range(5, 17), classExamples: 200, selectionAttacks: ['PGD-10'], seeds: 3 },
    retrain: { config: {} as RunConfig, architecture: 'smallcnn', keptClasses: ['Coat', 'Shirt'], trainExamples: 2000, overrides: [], clean: 0.499, robust: 0.271, robustOfSource: 0.3, evalAttack: 'PGD-10', fullOnKept: { clean: 0.78, robust: 0.656 }, testExamples: 400 },
    attacks: [{ attack: 'PGD-10', selected: { count: 17, stillCorrect: 10, share: 10 / 17, predictedAs: { Shirt: 7 } }, control: { count: 5, stillCorrect: 2, share: 0.4 } }],
  };
}

test("selected vs control: the difference's interval and Fisher's exact test", () => {
  const { difference, interval, fisherP } = removalTest(removalResult().attacks[0]);
  expect(difference).toBeCloseTo(10 / 17 - 0.4, 12);
  expect(interval.low).toBeLessThan(0);
  expect(interval.high).toBeGreaterThan(difference);
  // scipy.stats.fisher_exact([[10, 7], [2, 3]]).pvalue
  expect(fisherP).toBeCloseTo(0.6240601503759399, 10);
});

test('warns when a set is under 20 examples and when the retrained model is more than 10 points weaker', () => {
  expect(classRemovalWarnings(removalResult())).toEqual([
    'warning: the selected set has 17 examples (under 20): one example moves its share by 5.9 points; read the intervals, not the percentages.',
    'warning: the control set has 5 examples (under 20): one example moves its share by 20.0 points; read the intervals, not the percentages.',
    "warning: the retrained model's clean accuracy on the kept classes is 49.9%, 28.1 points below the full model's 78.0% on the same examples: it may be undertrained, and \"no adversarial example any more\" then compares a weaker model.",
    "warning: the retrained model's robust accuracy on the kept classes is 27.1%, 38.5 points below the full model's 65.6% on the same examples: it may be undertrained, and \"no adversarial example any more\" then compares a weaker model.",
  ]);
  const section = classRemovalSection(removalResult());
  expect(section.findings.filter((f) => f.startsWith('warning:'))).toHaveLength(4);
  expect(section.findings).toContain(
    'after retraining without {Pullover}, under PGD-10: 58.8% [36.0, 78.4] of the selected examples (10/17) have no adversarial example any more, vs 40.0% [11.8, 76.9] of the control (2/5); difference +18.8 [-24.6, +53.2], Fisher\'s exact test p = 0.62.',
  );
  expect(section.description).toContain("the study's test subset (200 test examples per class)");
  expect(section.tables[0].columns).toContain('Fisher p');
});

test('by default the largest single-target group gives source and target', () => {
  expect(chooseSelection(study())).toEqual({ source: 0, targets: [1] });
  expect(chooseSelection(study(), 'b')).toEqual({ source: 1, targets: [0] });
  expect(chooseSelection(study(), 'a', ['c', 'b'])).toEqual({ source: 0, targets: [2, 1] });
  expect(() => chooseSelection(study(), 'a', ['a'])).toThrow('the target set must not contain the source class');
  expect(() => chooseSelection(study(), 'shirt')).toThrow('class "shirt" is not a class of this model; accepted: "a", "b", "c" or 0..2');
});

test('selected: attacked only into S; control: attacked into a class outside S; never-broken examples are neither', () => {
  expect(selectExamplesForRemoval(study(), 0, [1])).toEqual({ selected: [0, 3], control: [1, 2], classExamples: 4 });
  expect(selectExamplesForRemoval(study(), 0, [1, 2])).toEqual({ selected: [0, 1, 2, 3], control: [], classExamples: 4 });
});

test('on an MNIST model that learned, the three stages run, their numbers agree, and a rerun resumes from the files', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'removal-'));
  // Standard training (the protocol is the same for any method). The full model learned: far above the 10% of
  // guessing on its evaluation subset.
  expect(await learnedMnistRun(path.join(dir, 'run'))).toBeGreaterThan(0.6);
  const log: string[] = [];
  const options = {
    model: path.join(dir, 'run'),
    out: path.join(dir, 'removal'),
    selectionAttacks: [{ kind: 'pgd' as const, eps: 0.3, steps: 5 }],
    seeds: 1,
    removalAttacks: [{ kind: 'pgd' as const, eps: 0.1, steps: 3 }, { kind: 'pgd' as const, eps: 0.1, steps: 6, restarts: 2 }],
    device: 'cpu' as const,
    log: (line: string) => log.push(line),
  };
  const result = await classRemoval(options);
  const names = result.selection.classNames;
  const source = names[result.selection.source];
  const removed = result.selection.targets.map((t) => names[t]);
  expect(result.retrain.keptClasses).toEqual(names.filter((name) => !removed.includes(name)));
  expect(result.retrain.architecture).toBe('smallcnn');
  // The retrained model learned too, on the nine classes left.
  expect(result.retrain.clean).toBeGreaterThan(0.6);
  expect(result.selection.selected.length).toBeGreaterThan(0);
  expect(result.attacks.map((row) => row.attack)).toEqual(['PGD-3 Linf eps=0.1 step=0.08333', 'PGD-6 Linf eps=0.1 step=0.04167 x2 restarts']);
  for (const row of result.attacks) {
    // Every selected example ends up somewhere, never in a removed class; "still correct" is the source's share.
    expect(Object.values(row.selected.predictedAs).reduce((a, b) => a + b, 0)).toBe(row.selected.count);
    for (const name of removed) expect(row.selected.predictedAs[name]).toBeUndefined();
    expect(row.selected.predictedAs[source] ?? 0).toBe(row.selected.stillCorrect);
    expect(row.selected.share).toBe(row.selected.stillCorrect / row.selected.count);
    expect(row.selected.count).toBe(result.selection.selected.length);
    expect(row.control.count).toBe(result.selection.control.length);
  }
  expect(log.filter((line) => line.startsWith('stage')).map((line) => line.split(':')[0])).toEqual(['stage 1/3 select', 'stage 2/3 retrain', 'stage 3/3 attack', 'stage 3/3 attack']);
  log.length = 0;
  const again = await classRemoval(options);
  expect(again).toEqual(result);
  expect(log[0]).toMatch(/^stage 1\/3 select: reusing /);
  expect(log[1]).toMatch(/^stage 2\/3 retrain: reusing /);
  expect(log.slice(2)).toEqual(['stage 3/3 attack: PGD-3 Linf eps=0.1 step=0.08333 already done', 'stage 3/3 attack: PGD-6 Linf eps=0.1 step=0.04167 x2 restarts already done']);

  // Saved stages made with other settings are refused, naming the setting, before any work.
  const selectionFile = path.join(options.out, 'selection.json');
  const retrainFile = path.join(options.out, 'retrain', 'result.json');
  await expect(classRemoval({ ...options, seeds: 2 })).rejects.toThrow(
    `${selectionFile} was made with other seeds (saved 1, now 2); pass --fresh to recompute this stage and the later ones, or choose another --out`);
  await expect(classRemoval({ ...options, targets: [9], source: 0 })).rejects.toThrow(`${selectionFile} was made with other source (saved null, now 0)`);
  await expect(classRemoval({ ...options, retrainEpochs: 1 })).rejects.toMatchObject({
    code: 'ERR_STUDY_CHANGED',
    message: expect.stringMatching(new RegExp(`^${retrainFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} was made with other config \\(saved .*"epochs":2.*, now .*"epochs":1.*\\)`)),
  });
  await expect(classRemoval({ ...options, removalAttacks: [{ kind: 'pgd' as const, eps: 0.2, steps: 3 }] })).rejects.toThrow(/result\.json was made with other evalAttack \(saved "PGD-3 Linf eps=0.1 step=0.08333", now "PGD-3 Linf eps=0.2 step=0.1667"\)/);
}, 900_000);

test('a stage made with other settings is refused naming the setting, or with fresh removed with the later stages', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'removal-stage-'));
  const later = [path.join(dir, 'result.json'), path.join(dir, 'attacks.json')];
  for (const file of later) fs.writeFileSync(file, '{}');
  const check = { stage: 2, file: later[0], saved: { config: { epochs: 2 }, evalAttack: 'PGD-3' }, wanted: { config: { epochs: 2 }, evalAttack: 'PGD-3' }, log: () => undefined, remove: later };
  expect(stageIsCurrent(check)).toBe(true);
  expect(() => stageIsCurrent({ ...check, wanted: { config: { epochs: 1 }, evalAttack: 'PGD-3' } })).toThrow(
    `${later[0]} was made with other config (saved {"epochs":2}, now {"epochs":1}); pass --fresh to recompute this stage and the later ones, or choose another --out`);
  expect(() => stageIsCurrent({ ...check, saved: undefined })).toThrow(`${later[0]} was made before stages recorded their settings`);
  expect(later.every((file) => fs.existsSync(file))).toBe(true);
  const log: string[] = [];
  expect(stageIsCurrent({ ...check, wanted: { config: { epochs: 1 }, evalAttack: 'PGD-3' }, fresh: true, log: (line) => log.push(line) })).toBe(false);
  expect(log).toEqual([`stage 2/3: ${later[0]} was made with other config (saved {"epochs":2}, now {"epochs":1}); recomputing (--fresh)`]);
  expect(later.some((file) => fs.existsSync(file))).toBe(false);
});
