/** Options that the rest of the command line makes meaningless are refused before any data is read. */
import { execFileSync } from 'child_process';
import path from 'path';

const CLI = path.join(__dirname, '..', '..', 'dist', 'cli', 'main.js');

function refusal(args: string[]): { status: number | null; stderr: string } {
  try {
    execFileSync('node', [CLI, 'train', '--out', path.join('/nonexistent-dir-never-written', 'run'), ...args], { encoding: 'utf8', stdio: 'pipe' });
    return { status: 0, stderr: '' };
  } catch (caught) {
    const error = caught as { status: number | null; stderr: string };
    return { status: error.status, stderr: error.stderr };
  }
}

test.each([
  [['--method', 'standard', '--train-steps', '5'], '--train-steps sets the training attack, but --method standard trains without one; leave it out or choose --method pgd, trades, mart or fgsm-rs'],
  [['--method', 'standard', '--train-step-size', '0.01'], '--train-step-size sets the training attack, but --method standard trains without one; leave it out or choose --method pgd, trades, mart or fgsm-rs'],
  [['--method', 'pgd', '--beta', '6'], '--beta weighs the KL term of TRADES and MART, which --method pgd does not have; leave it out or choose --method trades or mart'],
  [['--labels', 'coarse'], "--labels chooses CIFAR-100's fine or coarse classes; --dataset fashion-mnist has one class list; leave it out"],
  [['--dataset', 'mnist', '--image-size', '64'], '--image-size sets the decoded side of ImageNet images; --dataset mnist has a fixed size; leave it out'],
  [['--nesterov', '--momentum', '0'], '--nesterov needs momentum; with --momentum 0 it has no effect; give --momentum above 0 or leave --nesterov out'],
  [['--eval-step-size', '0'], '--eval-step-size 0 never moves the evaluation attack (robust accuracy would equal clean); give a step above 0 or leave it out (default 2.5*eps/steps)'],
  [['--train-step-size', '0'], '--train-step-size 0 never moves the training attack (adversarial training would train on clean images); give a step above 0 or leave it out'],
])('train %j is refused in one line', (args, message) => {
  const { status, stderr } = refusal(args);
  expect(status).toBe(1);
  expect(stderr.trim()).toBe(`error: ${message}`);
});

function evaluateRefusal(args: string[]): { status: number | null; stderr: string } {
  try {
    execFileSync('node', [CLI, 'evaluate', '--checkpoint', '/nonexistent-dir-never-written/checkpoint.safetensors', ...args], { encoding: 'utf8', stdio: 'pipe' });
    return { status: 0, stderr: '' };
  } catch (caught) {
    const error = caught as { status: number | null; stderr: string };
    return { status: error.status, stderr: error.stderr };
  }
}

// Refused before the checkpoint is even looked for: the path above does not exist.
test.each([
  [['--attack', 'pgd@5x2', '--restarts', '3'], '--restarts 3 and --attack "pgd@5x2" both set the restarts (the spec\'s 2 would be used); give them once, e.g. --attack pgd@5x3'],
  [['--attack', 'PGD-5', '--steps', '7'], '--steps 7 and --attack "pgd@5" both set the steps (the spec\'s 5 would be used); give them once, e.g. --attack pgd@7'],
  [['--attack', 'square@50', '--queries', '100'], '--queries 100 and --attack "square@50" both set the queries (the spec\'s 50 would be used); give them once, e.g. --attack square@100'],
  [['--attack', 'fgsm', '--steps', '5'], '--steps with --attack fgsm: FGSM takes one step whatever --steps says; leave it out or choose an iterative attack, e.g. --attack pgd@5'],
  [['--attack', 'fgsm', '--restarts', '2'], '--restarts 2 with --attack fgsm: FGSM starts from the clean image, so every restart gives the same result; leave it out or choose --attack pgd@20x2 (random starts)'],
  [['--attack', 'none', '--steps', '5'], '--steps sets the attack, but --attack none measures clean accuracy only; leave --steps out or choose an attack, e.g. --attack pgd@20'],
  [['--attack', 'none', '--eps', '0.2'], '--eps sets the attack, but --attack none measures clean accuracy only; leave --eps out or choose an attack, e.g. --attack pgd@20'],
])('evaluate %j is refused in one line', (args, message) => {
  const { status, stderr } = evaluateRefusal(args);
  expect(status).toBe(1);
  expect(stderr.trim()).toBe(`error: ${message}`);
});

test('evaluate accepts a count given once, in the spec or as an option', () => {
  // Past the option checks, the missing checkpoint is what stops it.
  for (const args of [['--attack', 'pgd@5', '--restarts', '2'], ['--attack', 'pgd', '--steps', '3', '--restarts', '2']]) {
    expect(evaluateRefusal(args).stderr).toMatch(/^error: .*nonexistent-dir-never-written/);
  }
});
