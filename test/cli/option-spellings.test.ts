/** The spellings a user writes are read as meant, and the mistakes that remain are refused with the fix. */
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { FASHION_MNIST_CLASSES, Model, parseAttackSpec } from '../../src';
import { parseNumberIn } from '../../src/cli/parse';
import { cpuLoadNote } from '../../src/cli/cpu-load';
import { normalizeAttackSpec } from '../../src/run/attack-spec';
import { parseClassValues } from '../../src/train/mitigation';

const root = path.resolve(__dirname, '../..');
const cli = path.join(root, 'dist/cli/main.js');

function run(args: string[], cwd = root) {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr.trim() };
}

describe('attack specs', () => {
  test.each([
    ['pgd-20', 'pgd@20'], ['PGD-20', 'pgd@20'], ['pgd20', 'pgd@20'], ['pgd_20', 'pgd@20'], ['PGD-20x5', 'pgd@20x5'],
    ['apgd-ce-100', 'apgd-ce@100'], ['APGD-CE', 'apgd-ce'], ['pgd@20', 'pgd@20'], ['square@5000x5', 'square@5000x5'], ['fab-t', 'fab-t'],
  ])('%s is %s', (text, normal) => {
    expect(normalizeAttackSpec(text)).toBe(normal);
  });

  test('PGD-20 parses as pgd@20', () => {
    expect(parseAttackSpec('PGD-20', { eps: 0.1 })).toEqual({ eps: 0.1, kind: 'pgd', steps: 20 });
    expect(parseAttackSpec('pgd20x3', { eps: 0.1 })).toEqual({ eps: 0.1, kind: 'pgd', steps: 20, restarts: 3 });
  });

  test('an unknown kind is still refused with the accepted kinds', () => {
    expect(() => parseAttackSpec('pdg-20', { eps: 0.1 }, '--attack')).toThrow('--attack "pdg-20": unknown attack kind "pdg"; accepted: fgsm, pgd,');
  });

  test('zero steps, queries or restarts are refused, not run as a clean evaluation', () => {
    expect(() => parseAttackSpec('pgd@0', { eps: 0.1 }, '--attack')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', message: '--attack "pgd@0": steps must be at least 1 (pgd@0 takes no attack step); e.g. pgd@20' }));
    expect(() => parseAttackSpec('PGD-0', { eps: 0.1 }, '--attack')).toThrow('--attack "PGD-0": steps must be at least 1');
    expect(() => parseAttackSpec('square@0', { eps: 0.1 }, '--attack')).toThrow('--attack "square@0": queries must be at least 1 (square@0 takes no attack step); e.g. square@5000');
    expect(() => parseAttackSpec('pgd@20x0', { eps: 0.1 }, '--attack')).toThrow('--attack "pgd@20x0": restarts must be at least 1 (x0 runs no attack); e.g. pgd@20x1');
    expect(parseAttackSpec('pgd@1x1', { eps: 0.1 })).toEqual({ eps: 0.1, kind: 'pgd', steps: 1, restarts: 1 });
  });
});

describe('numbers', () => {
  const eps = parseNumberIn(0, 1);
  test('a fraction is a number', () => {
    expect(eps('8/255')).toBeCloseTo(8 / 255, 12);
    expect(eps(' 4 / 255 ')).toBeCloseTo(4 / 255, 12);
    expect(eps('0.1')).toBe(0.1);
  });
  test.each(['8/0', '1/2/3', '/255', 'a/b', '', '300/255'])('%p is refused', (text) => {
    expect(() => eps(text)).toThrow('expected a number in [0, 1] or a fraction such as 8/255');
  });
  test('class eps takes fractions too', () => {
    expect(parseClassValues('shirt=8/255', FASHION_MNIST_CLASSES, 0.1, 'class eps', [0, 1])[6]).toBeCloseTo(8 / 255, 12);
  });
});

test('class names match whatever their case; an unknown one lists the names', () => {
  const weights = parseClassValues('shirt=2,PULLOVER=1.5,t-shirt/top=3', FASHION_MNIST_CLASSES, 1, 'class weights', [0, 1e6]);
  expect(weights).toEqual([3, 1, 1.5, 1, 1, 1, 2, 1, 1, 1]);
  expect(() => parseClassValues('shrt=2', FASHION_MNIST_CLASSES, 1, 'class weights', [0, 1e6])).toThrow('class weights: unknown class "shrt"; accepted: T-shirt/top, Trouser,');
});

test('the CPU load note appears only above the threads', () => {
  expect(cpuLoadNote(2, 2, 1.9)).toBeUndefined();
  expect(cpuLoadNote(2, 2, 6.3)).toBe('note: the CPU is shared: load average 6.3 over the last minute on 2 cores before this run\'s 2 threads; ' +
    'expect slower steps than on an idle machine (set --threads below the free cores, or wait)');
});

describe('the command line', () => {
  test('evaluate --eps 8/255 is accepted up to the missing checkpoint, which lists the runs that exist', () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'spell-'));
    fs.mkdirSync(path.join(folder, 'runs', 'fm-a'), { recursive: true });
    fs.writeFileSync(path.join(folder, 'runs', 'fm-a', 'checkpoint.safetensors'), '');
    const result = run(['evaluate', '--checkpoint', 'runs/fm-b', '--eps', '8/255', '--attack', 'PGD-20'], folder);
    expect(result.stderr).toBe('error: runs/fm-b does not exist; runs that exist: runs/fm-a');
    expect(result.status).toBe(1);
    const none = run(['evaluate', '--checkpoint', 'nowhere/x.safetensors'], fs.mkdtempSync(path.join(os.tmpdir(), 'spell-')));
    expect(none.stderr).toBe('error: nowhere/x.safetensors does not exist; no run folders in nowhere or runs; train one with `npm start` or `classwise-at train --out DIR`');
  });

  test('study all --skip refuses an unknown experiment name', () => {
    const result = run(['study', 'all', '--run', '/nonexistent/run', '--skip', 'removal,temprature']);
    expect(result.stderr).toBe('error: --skip: unknown experiment "temprature"; accepted: epochs, confusion, removal, weight-norm, attacks, temperature, mitigation');
    expect(result.status).toBe(1);
  });

  test('evaluate refuses a Fashion-MNIST checkpoint on MNIST, naming both, unless --allow-dataset-mismatch', async () => {
    const model = Model.create({ architecture: 'smallcnn', inputShape: [1, 28, 28], classNames: [...FASHION_MNIST_CLASSES], mean: [0.286], std: [0.353], device: 'cpu' });
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'spell-')), 'checkpoint.safetensors');
    await model.save(file, { config: { run: { dataset: 'fashion-mnist', eps: 0.1, evalPerClass: 2, seed: 0 } } });
    const refused = run(['evaluate', '--checkpoint', file, '--dataset', 'mnist', '--per-class', '2', '--attack', 'none', '--device', 'cpu']);
    expect(refused.stderr).toBe('error: the model was trained on fashion-mnist (10 classes T-shirt/top, Trouser, Pullover, ...; input 1x28x28) but the data is ' +
      'mnist (10 classes 0, 1, 2, ...; input 1x28x28) (dataset, class names differ); use the model\'s dataset, or pass --allow-dataset-mismatch to run it anyway');
    expect(refused.status).toBe(1);
    const allowed = run(['evaluate', '--checkpoint', file, '--dataset', 'mnist', '--per-class', '2', '--attack', 'none', '--device', 'cpu', '--allow-dataset-mismatch']);
    expect(allowed.stderr).not.toContain('error');
    expect(allowed.status).toBe(0);
    expect(allowed.stdout).toContain('per-class accuracy on 20 mnist test images');
  });
});
