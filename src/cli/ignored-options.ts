/**
 * Options that the rest of a `train` command line makes meaningless would be accepted and have no effect; a
 * researcher reading the run header later would believe they applied. Each is refused, naming the option.
 */
import type { Command } from 'commander';

import { ClasswiseError } from '../errors';
import type { RunConfig } from '../run';

/** `given('train-steps')`: whether the user typed the option (not its default). */
export function refuseIgnoredOptions(command: Pick<Command, 'getOptionValueSource'>, config: RunConfig, options: { momentum?: number; evalStepSize?: number }): void {
  const given = (name: string) => command.getOptionValueSource(name) === 'cli';
  const refuse = (message: string) => {
    throw new ClasswiseError('ERR_INVALID_ARGUMENT', message);
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
  if (given('nesterov') && options.momentum === 0) refuse('--nesterov needs momentum; with --momentum 0 it has no effect; give --momentum above 0 or leave --nesterov out');
  if (given('evalStepSize') && options.evalStepSize === 0) refuse('--eval-step-size 0 never moves the evaluation attack (robust accuracy would equal clean); give a step above 0 or leave it out (default 2.5*eps/steps)');
  if (given('trainStepSize') && config.method !== 'standard' && config.trainStepSize === 0) {
    refuse('--train-step-size 0 never moves the training attack (adversarial training would train on clean images); give a step above 0 or leave it out');
  }
}
