/** `classwise-at evaluate`: load a checkpoint, attack the test set, print the per-class table. */
import { Command, Option } from 'commander';

import { AttackOptions } from '../attack';
import { DATASET_NAMES, DatasetError, isDatasetName } from '../data/index';
import { evaluate } from '../evaluate';
import { DeviceName, Model } from '../model';
import { nativeAddon } from '../native';
import { RECIPES } from '../recipes';
import { formatClassTable } from '../report/class-table';
import { classRows, loadRunTestSet, RunConfig } from '../train/run';
import { parseChoice, parseDevice, parseInteger, parseNumberIn, parsePerClass } from './parse';
import { ProgressLine } from './progress';
import { writeFileAtomic } from '../checkpoint';

export function evaluateCommand(): Command {
  return new Command('evaluate')
    .description('load a checkpoint, run an attack on the test set and print per-class clean and robust accuracy')
    .requiredOption('--checkpoint <file>', 'a checkpoint.safetensors written by train')
    .addOption(new Option('--attack <kind>', 'attack: pgd, fgsm, none').default('pgd').argParser(parseChoice(['pgd', 'fgsm', 'none'] as const)))
    .addOption(new Option('--norm <norm>', 'threat model: linf, l2').default('linf').argParser(parseChoice(['linf', 'l2'] as const)))
    .addOption(new Option('--eps <e>', 'budget in pixel units (default: the checkpoint run\'s eps)').argParser(parseNumberIn(0, 1e6)))
    .addOption(new Option('--steps <n>', 'PGD steps').default(20).argParser(parseInteger(1, 100000)))
    .addOption(new Option('--step-size <s>', 'attack step (default 2.5*eps/steps; eps for fgsm)').argParser(parseNumberIn(0, 1e6)))
    .addOption(new Option('--restarts <n>', 'random restarts, worst case kept per example').default(1).argParser(parseInteger(1, 1000)))
    .option('--dataset <name>', 'dataset (default: the one the checkpoint was trained on)')
    .option('--data-dir <dir>', 'dataset folder (default: the checkpoint run\'s)')
    .addOption(new Option('--per-class <n|all>', 'test examples per class').default(null, 'all').argParser(parsePerClass))
    .addOption(new Option('--batch-size <n>', 'examples per native batch').default(256).argParser(parseInteger(1, 1 << 20)))
    .addOption(new Option('--seed <n>', 'seed of the attack noise and subset').default(0).argParser(parseInteger(0, 2 ** 31 - 1)))
    .addOption(new Option('--device <d>', 'auto | cpu | cuda | cuda:N').default('auto').argParser(parseDevice))
    .addOption(new Option('--threads <n>', 'CPU threads (default: all cores)').argParser(parseInteger(1, 1024)))
    .option('--json <file>', 'also write the full per-class result (confusion matrices included) as JSON')
    .action(async (options) => {
      if (options.threads) nativeAddon().setThreads({ threads: options.threads });
      const { model, meta } = await Model.load(options.checkpoint, { device: options.device as DeviceName });
      const run = (meta.config.run ?? {}) as Partial<RunConfig>;
      const dataset: string = options.dataset ?? run.dataset ?? 'fashion-mnist';
      if (!isDatasetName(dataset)) throw new DatasetError('ERR_DATASET_UNKNOWN', `unknown dataset "${dataset}"; accepted: ${DATASET_NAMES.join(', ')}`);
      // The run's class subset, CIFAR-100 labels and image size apply, so the table matches the model's classes.
      const test = await loadRunTestSet({ ...run, dataset, dataDir: options.dataDir ?? run.dataDir } as RunConfig, options.perClass, options.seed + 1);
      const eps: number = options.eps ?? run.eps ?? RECIPES[dataset as 'mnist']?.eps ?? 0.1;
      const attack: AttackOptions | null =
        options.attack === 'none'
          ? null
          : { kind: options.attack, norm: options.norm, eps, steps: options.steps, stepSize: options.stepSize, restarts: options.restarts };
      console.log(`checkpoint ${options.checkpoint}: ${model.config.architecture}, epoch ${meta.epoch}, trained with ${run.method ?? '?'} eps ${run.eps ?? '?'}`);
      const bar = new ProgressLine('evaluate');
      const result = await evaluate(model, test, { attack, batchSize: options.batchSize, seed: options.seed, onProgress: (p) => bar.update(p) });
      bar.stop();
      console.log(formatClassTable(classRows(result), { title: `per-class accuracy on ${test.count} ${dataset} test images (${result.seconds.toFixed(1)} s)`, attackLabel: result.attackLabel }));
      if (options.json) {
        const { cleanPredictions, adversarialPredictions, ...rest } = result;
        writeFileAtomic(options.json, JSON.stringify({ ...rest, cleanPredictions: Array.from(cleanPredictions), adversarialPredictions: Array.from(adversarialPredictions) }, null, 1));
        console.log(`wrote ${options.json}`);
      }
    });
}
