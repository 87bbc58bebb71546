/** The command line as a user meets it: wrong arguments, --help, a tiny real run, then evaluate. */
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

const root = path.resolve(__dirname, '..');

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const firstLine = (text: string) => text.split('\n')[0];

describe('wrong arguments get one clear line and exit code 1', () => {
  test.each([
    [['--dataset', 'cifar11'], "error: option '--dataset <name>' argument 'cifar11' is invalid. accepted: fashion-mnist, mnist, cifar10, cifar100, svhn, stl10, imagenet"],
    [['--eps', '2'], "error: option '--eps <e>' argument '2' is invalid. expected a number in [0, 1] or a fraction such as 8/255 (pixels are in [0,1])"],
    [['--epochs', '0'], "error: option '--epochs <n>' argument '0' is invalid. expected an integer in [1, 100000]"],
    [['--method', 'awp'], "error: option '--method <method>' argument 'awp' is invalid. accepted: standard, pgd, fgsm-rs, trades, mart"],
    [['--train-per-class', 'many'], "error: option '--train-per-class <n|all>' argument 'many' is invalid. expected an integer >= 1 or \"all\""],
    [['--precision', 'fp16'], "error: option '--precision <p>' argument 'fp16' is invalid. accepted: fp32, bf16, auto"],
    [['--memory-format', 'nhwc'], "error: option '--memory-format <f>' argument 'nhwc' is invalid. accepted: contiguous, channels_last, auto"],
  ])('train.js %p', (args, message) => {
    const result = run(['train.js', ...args]);
    expect(result.status).toBe(1);
    expect(firstLine(result.stderr)).toBe(message);
  });

  test('a missing data folder is named with the layout expected in it', () => {
    const result = run(['train.js', '--data-dir', '/nonexistent/fmnist', '--out', fs.mkdtempSync(path.join(os.tmpdir(), 'cli-'))]);
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(
      "error: Fashion-MNIST folder not found: /nonexistent/fmnist (expected train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz] in /nonexistent/fmnist; install Debian's dataset-fashion-mnist or pass --data-dir)",
    );
  });

  test('evaluate names a checkpoint that does not exist', () => {
    const result = run(['dist/cli/main.js', 'evaluate', '--checkpoint', '/nonexistent/none.safetensors']);
    expect(result.status).toBe(1);
    // The rest of the line lists the run folders of runs/, which depend on this checkout.
    expect(result.stderr.trim()).toMatch(/^error: \/nonexistent\/none\.safetensors does not exist; (runs that exist: |no run folders in \/nonexistent or runs; )/);
  });
});

test('--help documents every option with its default', () => {
  const result = run(['train.js', '--help']);
  expect(result.status).toBe(0);
  const help = result.stdout.replace(/\s+/g, ' ');
  for (const option of ['--dataset', '--data-dir', '--method', '--epochs', '--eps', '--train-steps', '--eval-steps', '--train-per-class', '--eval-per-class', '--batch-size', '--lr', '--schedule', '--seed', '--device', '--threads', '--out', '--resume', '--arch', '--labels', '--classes', '--no-augment', '--image-size', '--on-decode-error', '--chunk-batches', '--precision', '--memory-format']) {
    expect(help).toContain(option);
  }
  expect(help).toContain('dataset: fashion-mnist, mnist, cifar10, cifar100, svhn, stl10, imagenet (default: "fashion-mnist")');
  expect(help).toContain('--epochs <n> epochs (default: 2 (fashion-mnist), 3 (mnist, cifar10, cifar100, svhn, stl10, imagenet))');
  expect(help).toContain('--precision <p> fp32 | bf16 | auto (bf16 where the device has fast bf16: AMX or AVX512-BF16 CPUs, CUDA compute capability 8.0+) (default: "auto")');
  expect(help).toContain('training method: standard, pgd, fgsm-rs, trades, mart (default: pgd; fgsm-rs for imagenet)');
  expect(help).toContain('--eps <e> Linf budget in pixel units [0,1] (default: 0.1 fashion-mnist, 0.3 mnist, 8/255 cifar10/cifar100/svhn/stl10, 4/255 imagenet)');
});

test('a tiny MNIST run prints per-class tables, writes metrics and a checkpoint, and evaluate reads it back', () => {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cli-run-')), 'digits');
  const trained = run([
    'train.js', '--dataset', 'mnist', '--epochs', '2', '--train-per-class', '30', '--eval-per-class', '10',
    '--train-steps', '2', '--eval-steps', '2', '--batch-size', '50', '--out', out,
  ]);
  expect(trained.stderr).not.toMatch(/error/i);
  expect(trained.status).toBe(0);
  expect(trained.stdout).toContain('epoch 2/2: per-class accuracy on 100 test images');
  expect(trained.stdout).toMatch(/best: \d .*worst: \d .*gap: [\d.]+ points/);
  const metrics = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  expect(metrics.map((m) => m.epoch)).toEqual([1, 2]);
  expect(metrics[1].classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  expect(metrics[1].robustAccuracy).toHaveLength(10);

  const evaluated = run(['dist/cli/main.js', 'evaluate', '--checkpoint', path.join(out, 'checkpoint.safetensors'), '--attack', 'fgsm', '--per-class', '10', '--json', path.join(out, 'eval.json')]);
  expect(evaluated.status).toBe(0);
  expect(evaluated.stdout).toContain('robust under FGSM Linf eps=0.3');
  const json = JSON.parse(fs.readFileSync(path.join(out, 'eval.json'), 'utf8'));
  expect(json.counts).toEqual(Array(10).fill(10));
  expect(json.adversarialConfusion).toHaveLength(10);

  // The run folder itself, with --best, evaluates best.safetensors: the epoch metrics.jsonl marks as best.
  const best = metrics[1].bestEpoch;
  expect(metrics.map((m) => m.isBestEpoch)).toEqual([true, best === 2]);
  expect(trained.stdout).toContain(`best epoch so far: ${best} (mean robust `);
  // One rounding of the mean: the best-epoch line repeats the table's "mean: ... robust" figure of that epoch.
  const tableMeans = (trained.stdout.match(/^mean: clean [\d.]+%  robust [\d.]+%$/gm) ?? []).map((line) => /robust ([\d.]+)%$/.exec(line)![1]);
  const bestMean = /best epoch so far: \d+ \(mean robust ([\d.]+)%\)/.exec(trained.stdout)![1];
  expect(tableMeans).toContain(bestMean);
  const fromBest = run(['dist/cli/main.js', 'evaluate', '--checkpoint', out, '--best', '--attack', 'fgsm', '--per-class', '10']);
  expect(fromBest.status).toBe(0);
  expect(fromBest.stdout).toContain(`checkpoint ${path.join(out, 'best.safetensors')}: smallcnn, epoch ${best}`);

  const again = run(['train.js', '--dataset', 'mnist', '--out', out]);
  expect(again.status).toBe(1);
  expect(again.stderr).toContain('pass --resume to continue it or choose another --out');
});
