/**
 * Options that the rest of a `train` command line makes meaningless would be accepted and have no effect; a
 * researcher reading the run header later would believe they applied. Each is refused, naming the option.
 */
import type { Command } from 'commander';

import type { AttackOptions } from '../attack';
import { invalidArgument } from '../errors';
import { parseAttackSpec, RunConfig } from '../run';

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
  if (given('dataPack') && config.dataset !== 'imagenet') refuse(`--data-pack reads a packed ImageNet split; --dataset ${config.dataset} is read from its own files; leave it out`);
  if (given('imageSize') && config.dataset !== 'imagenet') refuse(`--image-size sets the decoded side of ImageNet images; --dataset ${config.dataset} has a fixed size; leave it out`);
  if (given('nesterov') && config.momentum === 0) refuse('--nesterov needs momentum; with --momentum 0 it has no effect; give --momentum above 0 or leave --nesterov out');
  if (given('evalStepSize') && config.evalStepSize === 0) refuse('--eval-step-size 0 never moves the evaluation attack (robust accuracy would equal clean); give a step above 0 or leave it out (default 2.5*eps/steps)');
  if (given('trainStepSize') && config.method !== 'standard' && config.trainStepSize === 0) {
    refuse('--train-step-size 0 never moves the training attack (adversarial training would train on clean images); give a step above 0 or leave it out');
  }
}

/** The attack options of `evaluate` beside --attack, by commander key and flag. */
const ATTACK_OPTION_FLAGS = [
  ['eps', '--eps'], ['norm', '--norm'], ['steps', '--steps'], ['stepSize', '--step-size'], ['restarts', '--restarts'],
  ['temperature', '--temperature'], ['queries', '--queries'], ['targetClasses', '--target-classes'], ['ensemble', '--ensemble'],
] as const;

/**
 * `evaluate`'s attack options that --attack makes meaningless: any of them with `--attack none`, a count given both
 * in the spec and as an option (`pgd@20 --steps 50`: the spec wins), and --steps or --restarts with FGSM (one
 * deterministic step). Options a kind does not read at all (--temperature with pgd) are refused by the addon.
 */
export function refuseIgnoredAttackOptions(command: Pick<Command, 'getOptionValueSource' | 'opts'>, specText: string): void {
  const given = (key: string) => command.getOptionValueSource(key) === 'cli';
  const value = (key: string) => String(command.opts()[key]);
  if (specText === 'none') {
    for (const [key, flag] of ATTACK_OPTION_FLAGS) {
      if (given(key)) throw invalidArgument(`${flag} sets the attack, but --attack none measures clean accuracy only; leave ${flag} out or choose an attack, e.g. --attack pgd@20`);
    }
    return;
  }
  const fromSpec: AttackOptions = parseAttackSpec(specText, { eps: 0 }, '--attack');
  const twice = (key: 'steps' | 'queries' | 'restarts', flag: string, written: string) => {
    if (fromSpec[key] !== undefined && given(key)) {
      throw invalidArgument(`${flag} ${value(key)} and --attack "${specText}" both set the ${key} (the spec's ${fromSpec[key]} would be used); give them once, e.g. --attack ${written}`);
    }
  };
  const base = specText.replace(/[@x].*$/, '');
  twice('steps', '--steps', `${base}@${value('steps')}`);
  twice('queries', '--queries', `${base}@${value('queries')}`);
  twice('restarts', '--restarts', `${specText.replace(/x\d+$/, '')}x${value('restarts')}`);
  if (fromSpec.kind === 'fgsm') {
    if (given('steps')) throw invalidArgument(`--steps with --attack fgsm: FGSM takes one step whatever --steps says; leave it out or choose an iterative attack, e.g. --attack pgd@${value('steps')}`);
    if (given('restarts') && Number(value('restarts')) > 1) {
      throw invalidArgument(`--restarts ${value('restarts')} with --attack fgsm: FGSM starts from the clean image, so every restart gives the same result; leave it out or choose --attack pgd@20x${value('restarts')} (random starts)`);
    }
  }
}
