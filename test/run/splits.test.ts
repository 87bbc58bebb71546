/**
 * A run's splits are checked before any training: the test split's classes against the training split's, an
 * empty test split, a class without training images. Each is one line, on ImageNet-layout folders where
 * class folders come from the user.
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { checkRunSplits } from '../../src/run/splits';
import { IMAGENET_FIXTURE_CLASSES, writeImageNetFolder } from '../data/fixtures/official-formats';

const root = path.resolve(__dirname, '..', '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'run-splits-'));
const source = path.join(dir, 'source');
const [first, second, third] = IMAGENET_FIXTURE_CLASSES.map((c) => c.wnid);

beforeAll(async () => {
  await writeImageNetFolder(source, 2, 1, 32);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** train/<wnid>/ and val/<wnid>/ folders holding `train[wnid]` and `val[wnid]` copies of one fixture JPEG. */
function layout(name: string, train: Record<string, number>, val: Record<string, number>): string {
  const folder = path.join(dir, name);
  const image = path.join(source, 'train', first, `${first}_0.JPEG`);
  for (const [split, counts] of [['train', train], ['val', val]] as const) {
    for (const [wnid, count] of Object.entries(counts)) {
      fs.mkdirSync(path.join(folder, split, wnid), { recursive: true });
      for (let i = 0; i < count; i++) fs.copyFileSync(image, path.join(folder, split, wnid, `${i}.JPEG`));
    }
  }
  return folder;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function train(dataDir: string) {
  const out = path.join(dir, `run-${path.basename(dataDir)}`);
  const result = spawnSync(process.execPath, ['dist/cli/main.js', 'train', '--dataset', 'imagenet', '--data-dir', dataDir, '--image-size', '32',
    '--epochs', '1', '--method', 'standard', '--threads', '1', '--out', out], { cwd: root, encoding: 'utf8' });
  return { ...result, out };
}

test('a class whose test folder is missing trains, and is n/a in the epoch table with a warning', () => {
  // The classes come from train/: val/ without one of its folders leaves that class without test images.
  const data = layout('fewer-test-classes', { [first]: 2, [second]: 2, [third]: 2 }, { [first]: 1, [third]: 1 });
  const result = train(data);
  expect(result.status).toBe(0);
  const lines = result.stdout.split('\n');
  // Without a synset file the classes are named by their wnids.
  expect(lines.find((line) => line.includes(second))).toMatch(new RegExp(`^│ ${second} │ 0 │ +n/a │ +│ +n/a │ +│ +│$`));
  expect(lines).toContain(`warning: class "${second}" has no test images: n/a, left out of the mean, best and worst`);
  expect(lines.find((line) => line.startsWith('best: '))).not.toContain(second);
});

test('an empty test split is refused before training', () => {
  const data = layout('empty-test', { [first]: 2, [second]: 2 }, { [first]: 0, [second]: 0 });
  const result = train(data);
  expect(result.status).toBe(1);
  expect(result.stderr).toMatch(new RegExp(`^error: ImageNet test: no \\.JPEG/\\.jpg/\\.png files under ${escape(path.join(data, 'val'))} \\(expected under --data-dir: .*\\)\n$`));
  expect(fs.existsSync(path.join(result.out, 'checkpoint.safetensors'))).toBe(false);
});

test('a class without training images is refused before training, naming it', () => {
  const data = layout('untrained-class', { [first]: 2, [second]: 0, [third]: 2 }, { [first]: 1, [second]: 1, [third]: 1 });
  const result = train(data);
  expect(result.status).toBe(1);
  expect(result.stderr).toMatch(new RegExp(`^error: imagenet: the training split \\(${escape(path.join(data, 'train'))} .*\\) holds no images of class "${second}"; ` +
    'add its training images or leave the class out \\(--classes\\)\n$'));
  expect(fs.existsSync(path.join(result.out, 'checkpoint.safetensors'))).toBe(false);
});

describe('checkRunSplits', () => {
  const split = (classNames: string[], labels: number[]) => ({ classNames, labels: Int32Array.from(labels), count: labels.length, source: 'src' });

  test('refuses a test split with other classes, naming the first difference', () => {
    expect(() => checkRunSplits('cifar10', split(['cat', 'dog', 'frog'], [0, 1, 2]), split(['cat', 'frog'], [0, 1]))).toThrow(expect.objectContaining({
      code: 'ERR_DATASET_CORRUPT',
      message: 'cifar10: the test split (src) has 2 classes: "cat", "frog", the training split (src) has 3 classes: "cat", "dog", "frog"; ' +
        'they differ at class 1 ("dog" in training, "frog" in test): give both splits the same class folders',
    }));
  });

  test('refuses an empty test split', () => {
    expect(() => checkRunSplits('cifar10', split(['cat', 'dog'], [0, 1]), split(['cat', 'dog'], []))).toThrow(
      'cifar10: the test split (src) holds no images; add its images (the run evaluates on them every epoch)');
  });

  test('accepts splits with the same classes, every one trained', () => {
    expect(() => checkRunSplits('cifar10', split(['cat', 'dog'], [0, 1, 1]), split(['cat', 'dog'], [1]))).not.toThrow();
  });
});
