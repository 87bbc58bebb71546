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
