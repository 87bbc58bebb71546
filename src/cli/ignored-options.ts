/**
 * Options that the rest of a `train` command line makes meaningless would be accepted and have no effect; a
 * researcher reading the run header later would believe they applied. Each is refused, naming the option.
 */
import type { Command } from 'commander';

import { invalidArgument } from '../errors';
import type { RunConfig } from '../run';

/** `config` is the run's resolved settings; `given('trainSteps')` says whether the user typed an option (by its key). */
export function refuseIgnoredOptions(command: Pick<Command, 'getOptionValueSource'>, config: RunConfig): void {
  const given = (key: string) => command.getOptionValueSource(key) === 'cli';
  const refuse = (message: string) => {
    throw invalidArgument(message);
  };
  if (config.method === 'standard') {
    for (const [key, flag] of [['trainSteps', '--train-steps'], ['trainStepSize', '--train-step-size']] as const) {
      if (given(key)) refuse(`${flag} sets the training attack, but --method standard trains without one; leave it out or choose --method pgd, trades, mart or fgsm-rs`);
    }
  }
  if (given('beta') && config.method !== 'trades' && config.method !== 'mart') {
    refuse(`--beta weighs the KL term of TRADES and MART, which --method ${config.method} does not have; leave it out or choose --method trades or mart`);
  }
  if (given('labels') && config.dataset !== 'cifar100') refuse(`--labels chooses CIFAR-100's fine or coarse classes; --dataset ${config.dataset} has one class list; leave it out`);
  if (given('imageSize') && config.dataset !== 'imagenet') refuse(`--image-size sets the decoded side of ImageNet images; --dataset ${config.dataset} has a fixed size; leave it out`);
  if (given('nesterov') && config.momentum === 0) refuse('--nesterov needs momentum; with --momentum 0 it has no effect; give --momentum above 0 or leave --nesterov out');
  if (given('evalStepSize') && config.evalStepSize === 0) refuse('--eval-step-size 0 never moves the evaluation attack (robust accuracy would equal clean); give a step above 0 or leave it out (default 2.5*eps/steps)');
  if (given('trainStepSize') && config.method !== 'standard' && config.trainStepSize === 0) {
    refuse('--train-step-size 0 never moves the training attack (adversarial training would train on clean images); give a step above 0 or leave it out');
  }
}
