/**
 * One CLI training epoch on tiny copies of each official format (written by
 * test/data/fixtures/write-tiny-datasets.ts), checking that the per-class table shows the dataset's class names.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { makeTempFolder } from './data/idx-fixtures';

const ROOT = path.join(__dirname, '..');
let temp: ReturnType<typeof makeTempFolder>;

beforeAll(async () => {
  temp = makeTempFolder();
  const { writeTinyDatasets } = await import('./data/fixtures/write-tiny-datasets');
  await writeTinyDatasets(temp.folder);
});
afterAll(() => temp.remove());

function train(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const common = ['--epochs', '1', '--threads', '2', '--train-steps', '1', '--eval-steps', '1', '--out', path.join(temp.folder, 'runs', args[1] + args.length)];
  return spawnSync(process.execPath, [path.join(ROOT, 'train.js'), ...args, ...common], { encoding: 'utf8' });
}

test.each([
  { args: ['--dataset', 'cifar10', '--train-per-class', '2', '--eval-per-class', '1'], dir: 'cifar10', names: ['airplane', 'automobile', 'truck'], augment: 'random crop, padding 4 + horizontal flip' },
  { args: ['--dataset', 'cifar100', '--labels', 'coarse', '--train-per-class', '2', '--eval-per-class', '1'], dir: 'cifar100', names: ['aquatic_mammals', 'food_containers'], augment: 'random crop, padding 4 + horizontal flip' },
  { args: ['--dataset', 'svhn', '--train-per-class', '2', '--eval-per-class', '1'], dir: 'svhn', names: ['│ 0 ', '│ 9 '], augment: 'random crop, padding 4\n' },
  { args: ['--dataset', 'stl10', '--train-per-class', '1', '--eval-per-class', '1'], dir: 'stl10', names: ['monkey', 'airplane'], augment: 'random crop, padding 12 + horizontal flip' },
  { args: ['--dataset', 'imagenet', '--image-size', '64', '--batch-size', '4', '--chunk-batches', '1', '--train-per-class', '2', '--eval-per-class', '1'], dir: 'imagenet', names: ['tench', 'goldfish', 'great white shark'], augment: 'random-resized crop + flip (decoder)' },
])('one epoch of $dir from its official format, with its class names in the table', ({ args, dir, names, augment }) => {
  const result = train([...args, '--data-dir', path.join(temp.folder, dir)]);
  expect(result.stderr).not.toMatch(/error/i);
  expect(result.status).toBe(0);
  expect(result.stdout).toContain('epoch 1/1: per-class accuracy on');
  expect(result.stdout).toContain(`augmentation: ${augment}`);
  expect(result.stdout).toMatch(/img\/s, .* s per epoch, expected finish \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(0 epochs left\)/);
  for (const name of names) expect(result.stdout).toContain(name);
});

test('a class subset by name trains on those classes only, in the order given', () => {
  const result = train(['--dataset', 'cifar10', '--classes', 'cat,dog', '--train-per-class', '2', '--eval-per-class', '2', '--data-dir', path.join(temp.folder, 'cifar10')]);
  expect(result.status).toBe(0);
  expect(result.stdout).toContain('(2 classes)');
  expect(result.stdout).toMatch(/│ cat +│ 2 │/);
  expect(result.stdout).not.toContain('airplane');
});

test('a missing dataset folder names the layout expected under --data-dir', () => {
  const result = train(['--dataset', 'svhn', '--data-dir', path.join(temp.folder, 'nothing')]);
  expect(result.status).toBe(1);
  expect(result.stderr.trim()).toBe(
    `error: SVHN file not found: ${path.join(temp.folder, 'nothing', 'train_32x32.mat')} (expected under --data-dir: train_32x32.mat, test_32x32.mat and optionally extra_32x32.mat (the cropped-digits format))`,
  );
});
