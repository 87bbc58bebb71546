/**
 * The study reads a run's data through the run layer's one loader: a run of a class subset is studied on those
 * classes, and class removal retrains with the run's own architecture.
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { loadCheckpoint, Model } from '../../src';
import { loadRunTestSet, RunConfig, runTraining } from '../../src/run';
import { classRemoval } from '../../src/study/class-removal';
import { targetStatistics } from '../../src/study/confusion';
import { writeTinyDatasets } from '../data/fixtures/write-tiny-datasets';

const root = path.resolve(__dirname, '../..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'study-run-data-'));
const runDir = path.join(dir, 'run');
// Three CIFAR-10 classes on SmallCNN: both differ from the CIFAR-10 recipe (ten classes, PreActResNet-18).
const config: RunConfig = {
  dataset: 'cifar10', dataDir: path.join(dir, 'data', 'cifar10'), architecture: 'smallcnn', classes: ['cat', 'dog', 'ship'],
  method: 'pgd', epochs: 1, batchSize: 16, learningRate: 0.05, schedule: 'constant', momentum: 0.9, weightDecay: 5e-4, nesterov: false,
  seed: 0, eps: 8 / 255, trainSteps: 1, trainStepSize: 8 / 255, evalSteps: 2, evalStepSize: 4 / 255, evalRestarts: 1, trainPerClass: null, evalPerClass: null,
};

beforeAll(async () => {
  await writeTinyDatasets(path.join(dir, 'data'));
  await runTraining(config, { out: runDir, device: 'cpu' });
});

test('a study of a --classes run attacks the run\'s classes with the labels the model was trained on', () => {
  const result = spawnSync(process.execPath, ['dist/cli/main.js', 'study', 'confusion', '--run', runDir, '--seeds', '1', '--device', 'cpu'], { cwd: root, encoding: 'utf8' });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  const report = JSON.parse(fs.readFileSync(path.join(runDir, 'study-confusion', 'report.json'), 'utf8'));
  const confusion = report.sections[0].data;
  expect(confusion.classNames).toEqual(['cat', 'dog', 'ship']);
  // The tiny test split has 4 images per class: 12 studied, each row of the matrix holding 4.
  expect(confusion.confusion.map((row: number[]) => row.reduce((a, b) => a + b, 0))).toEqual([4, 4, 4]);
});

test('class removal retrains the run\'s architecture on the run\'s classes minus the removed one', async () => {
  // A confusion study in which every cat example only ever went to dog fixes the selection without attacks.
  const test = await loadRunTestSet(config, null, config.seed + 1);
  const runs = [Int32Array.from(test.labels, (label) => (label === 0 ? 1 : label))];
  const confusion = { classNames: test.classNames, attacks: ['given'], seeds: 1, ...targetStatistics(test.labels, runs, 3) };
  const result = await classRemoval({
    model: runDir, out: path.join(dir, 'removal'), source: 'cat', targets: ['dog'], confusion,
    selectionAttacks: [], removalAttacks: [{ kind: 'pgd', eps: 8 / 255, steps: 2 }], device: 'cpu',
  });
  expect(result.retrain.keptClasses).toEqual(['cat', 'ship']);
  const retrained = path.join(dir, 'removal', 'retrain', 'checkpoint.safetensors');
  const { model } = await Model.load(retrained, { device: 'cpu' });
  expect(model.config.architecture).toBe('smallcnn');
  expect(model.config.classNames).toEqual(['cat', 'ship']);
  expect((loadCheckpoint(retrained).meta.config.run as RunConfig).classes).toEqual(['cat', 'ship']);
  expect(result.retrain.trainExamples).toBe(20);
});
