/** What a new user's mistakes print: one line naming the option and the fix, exit code 1, never a stack trace. */
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { FASHION_MNIST_CLASSES, loadCheckpoint, Model, saveCheckpoint } from '../../src';

const root = path.resolve(__dirname, '../..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-errors-'));
const aFile = path.join(dir, 'a-file');
fs.writeFileSync(aFile, 'not a folder');
const checkpoint = path.join(dir, 'model.safetensors');
const nanCheckpoint = path.join(dir, 'nan.safetensors');

function cli(args: string[]) {
  const result = spawnSync(process.execPath, ['dist/cli/main.js', ...args], { cwd: root, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(async () => {
  // Fashion-MNIST's classes: a bare checkpoint is evaluated on Fashion-MNIST, and other class names are refused.
  const model = Model.create({ architecture: 'smallcnn', inputShape: [1, 28, 28], classNames: [...FASHION_MNIST_CLASSES], mean: [0.3], std: [0.35], device: 'cpu' });
  await model.save(checkpoint);
  const saved = loadCheckpoint(checkpoint);
  const weight = saved.tensors['classifier.fc3.weight'];
  saved.tensors['classifier.fc3.weight'] = { ...weight, data: new Uint8Array(new Float32Array(weight.data.length / 4).fill(NaN).buffer) };
  saveCheckpoint(nanCheckpoint, saved);
});

const quick = ['--epochs', '1', '--train-per-class', '5', '--eval-per-class', '2', '--train-steps', '1', '--eval-steps', '1', '--threads', '1'];

test.each([
  ['an unknown class', ['train', '--classes', 'Shirt,Unicorn', '--out', path.join(dir, 'r1'), ...quick],
    'error: class "Unicorn" is not a class of fashion-mnist; accepted: 0..9 or "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"'],
  ['a schedule with no fractions', ['train', '--schedule', 'piecewise:abc', '--out', path.join(dir, 'r2'), ...quick],
    "error: learning-rate schedule is 'piecewise:abc', expected 'constant', 'cyclic' or 'piecewise:F1,F2,...' with increasing fractions of the total epochs in (0, 1), e.g. 'piecewise:0.5,0.75'"],
  ['--out naming a file', ['train', '--out', aFile, ...quick], `error: --out ${aFile} is a file; expected a run folder (created when missing)`],
  ['--json inside a file', ['evaluate', '--checkpoint', checkpoint, '--per-class', '2', '--json', path.join(aFile, 'out.json')],
    `error: --json ${path.join(aFile, 'out.json')}: ${aFile} is not a folder; create it or choose another path`],
  ['a checkpoint with NaN weights', ['evaluate', '--checkpoint', nanCheckpoint, '--per-class', '2'],
    `error: ${nanCheckpoint}: tensor "classifier.fc3.weight" holds 2000 of 2000 values that are NaN or infinite; refused, a model with them predicts nothing meaningful`],
  ['an attack spec that is not one', ['evaluate', '--checkpoint', checkpoint, '--attack', 'pgd@twenty'],
    'error: --attack "pgd@twenty" is not KIND[@STEPS][xRESTARTS], e.g. fgsm, pgd@20, pgd@100x5'],
])('%s: exit 1 and one line', (_case, args, line) => {
  const result = cli(args as string[]);
  expect(result.stderr.trim()).toBe(line);
  expect(result.status).toBe(1);
  // Refused before any work: no table was printed.
  expect(result.stdout).not.toContain('per-class accuracy');
});

test('evaluate takes an attack written KIND@STEPSxRESTARTS, as the study does', () => {
  const result = cli(['evaluate', '--checkpoint', checkpoint, '--per-class', '1', '--attack', 'pgd@2x2', '--threads', '1']);
  expect(result.stderr.split('\n').filter((line) => line.startsWith('error'))).toEqual([]);
  expect(result.status).toBe(0);
  expect(result.stdout).toContain('PGD-2 Linf eps=0.1 step=0.125 x2 restarts');
});

test('"all" per class reaches the library as every example (commander turned it into "" before)', () => {
  const result = cli(['evaluate', '--checkpoint', checkpoint, '--per-class', 'all', '--attack', 'none', '--threads', '1']);
  expect(result.stderr.split('\n').filter((line) => line.startsWith('error'))).toEqual([]);
  expect(result.status).toBe(0);
  expect(result.stdout).toContain('per-class accuracy on 10000 fashion-mnist test images');
});
