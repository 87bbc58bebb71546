/**
 * A training run on disk: runs/NAME/checkpoint.safetensors (atomic, every epoch) and metrics.jsonl (one line
 * per epoch). `resume` continues from the last checkpoint; epochs after it are recomputed bit for bit.
 */
import fs from 'fs';
import path from 'path';

import { AttackOptions } from '../attack';
import { appendLineDurable, loadCheckpoint, writeFileAtomic } from '../checkpoint';
import { ImageDataset } from '../data/dataset';
import { DatasetName, loadDataset, loadFolderDataset, STREAMED_DATASETS } from '../data/index';
import { decodeBatch, decodeToMemory, DecodeErrorPolicy, ImageFolderDataset } from '../data/imagenet';
import { holdOutPerClass, restrictToClasses, takePerClass } from '../data/subset';
import { parseClassValues } from './mitigation';
import { ClasswiseError } from '../errors';
import { ClassEvaluation } from '../evaluate';
import { Architecture, DeviceName, Model } from '../model';
import { NativeAugmentConfig, NativeModelInfo, NativeProgress } from '../native';
import { ClassAccuracyRow, formatClassTable, summarizeClasses } from '../report/class-table';
import { RECIPES } from '../recipes';
import { describeSchedule, parseSchedule } from './schedule';
import { EpochRecord, StreamedTrainData, train, TrainMethod, TrainOptions } from './trainer';

/** Every setting that shapes the result; stored in the checkpoint and compared on resume. */
export interface RunConfig {
  dataset: DatasetName;
  dataDir?: string;
  /** Default: the dataset's recipe (RECIPES). */
  architecture?: Architecture;
  /** Training augmentation; default: the recipe's (crop + flip for CIFAR, crop for SVHN, none for MNIST). */
  augment?: NativeAugmentConfig;
  /** CIFAR-100: fine (100) or coarse (20) classes. */
  cifar100Labels?: 'fine' | 'coarse';
  /** Keep only these classes (index or name), labels remapped in the order given. */
  classes?: (string | number)[] | null;
  /** Streamed datasets (ImageNet): side of the decoded images, a file that fails to decode, batches per native call. */
  imageSize?: number;
  onDecodeError?: DecodeErrorPolicy;
  chunkBatches?: number;
  method: TrainMethod;
  epochs: number;
  batchSize: number;
  learningRate: number;
  schedule: string;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
  seed: number;
  eps: number;
  trainSteps: number;
  trainStepSize: number;
  evalSteps: number;
  evalStepSize: number;
  evalRestarts: number;
  /** null: every example. */
  trainPerClass: number | null;
  evalPerClass: number | null;
  /** TRADES / MART regularisation weight. */
  beta?: number;
  /** Class-wise mitigation, "class=value,..." by name or index (see mitigation.ts); others weight 1 / the run's eps. */
  classWeights?: string;
  classEps?: string;
  /** 'auto': class weights from a held-out split of the training set, re-measured every epoch. */
  mitigation?: 'auto';
  /** Size of that held-out split per class (taken out of the training data). */
  mitigationPerClass?: number;
}

/** Training data of a run: in memory, or image files decoded while training (ImageNet). */
export type RunTrainData = ImageDataset | ImageFolderDataset;

export interface RunReporter {
  start?(info: { config: RunConfig; model: NativeModelInfo; train: RunTrainData; test: ImageDataset; startEpoch: number; out: string }): void;
  progress?(epoch: number, progress: NativeProgress): void;
  epochEnd?(record: EpochRecord, table: string): void;
  message?(text: string): void;
}

export interface RunOptions {
  out: string;
  resume?: boolean;
  device?: DeviceName;
  reporter?: RunReporter;
}

export const CHECKPOINT_FILE = 'checkpoint.safetensors';
export const METRICS_FILE = 'metrics.jsonl';

export function trainAttack(config: RunConfig): AttackOptions {
  if (config.method === 'fgsm-rs') {
    return { kind: 'fgsm', eps: config.eps, randomStart: true, stepSize: config.trainStepSize };
  }
  return { kind: 'pgd', eps: config.eps, steps: config.trainSteps, stepSize: config.trainStepSize, randomStart: true };
}

/** The training recipe a run's settings describe: the same wherever a run is trained or retrained. */
export function recipeTrainOptions(
  config: RunConfig,
  streamed: boolean,
): Pick<TrainOptions, 'method' | 'epochs' | 'schedule' | 'attack' | 'batchSize' | 'momentum' | 'weightDecay' | 'nesterov' | 'seed' | 'beta' | 'augment' | 'chunkBatches'> {
  return {
    method: config.method,
    epochs: config.epochs,
    schedule: parseSchedule(config.schedule, config.learningRate, config.epochs),
    attack: trainAttack(config),
    batchSize: config.batchSize,
    momentum: config.momentum,
    weightDecay: config.weightDecay,
    nesterov: config.nesterov,
    seed: config.seed,
    beta: config.beta,
    // Streamed images are augmented by the decoder instead.
    augment: streamed ? undefined : config.augment ?? RECIPES[config.dataset].augment,
    chunkBatches: config.chunkBatches,
  };
}

export function evalAttack(config: RunConfig): AttackOptions {
  return { kind: 'pgd', eps: config.eps, steps: config.evalSteps, stepSize: config.evalStepSize, restarts: config.evalRestarts };
}

export function classRows(evaluation: ClassEvaluation): ClassAccuracyRow[] {
  return evaluation.classNames.map((name, k) => ({
    name,
    count: evaluation.counts[k],
    clean: evaluation.cleanAccuracy[k],
    robust: evaluation.robustAccuracy[k],
  }));
}

/** One metrics.jsonl line: everything per class, so later studies need not re-run the model. */
export function metricsLine(record: EpochRecord, config: RunConfig): Record<string, unknown> {
  const evaluation = record.evaluation!;
  const summary = summarizeClasses(classRows(evaluation));
  return {
    epoch: record.epoch,
    method: config.method,
    classWeights: record.classWeights,
    learningRate: record.learningRate,
    trainLoss: record.trainLoss,
    trainAccuracy: record.trainAccuracy,
    trainSeconds: record.trainSeconds,
    imagesPerSecond: record.imagesPerSecond,
    attack: evaluation.attackLabel,
    classNames: evaluation.classNames,
    counts: evaluation.counts,
    cleanAccuracy: evaluation.cleanAccuracy,
    robustAccuracy: evaluation.robustAccuracy,
    meanClean: summary.meanClean,
    meanRobust: summary.meanRobust,
    best: { name: summary.best.name, robust: summary.best.robust },
    worst: { name: summary.worst.name, robust: summary.worst.robust },
    gap: summary.gap,
    weightNorms: evaluation.weightNorms,
    meanLoss: evaluation.meanLoss,
    meanGradientNorm: evaluation.meanGradientNorm,
    cleanConfusion: evaluation.cleanConfusion,
    adversarialConfusion: evaluation.adversarialConfusion,
    evalSeconds: evaluation.seconds,
  };
}

function runError(message: string, code: string): ClasswiseError {
  return new ClasswiseError(message, code);
}

/** Keeps metrics lines of finished epochs only, so a resumed run appends where its checkpoint stands. */
function trimMetrics(metricsPath: string, keepEpochs: number): void {
  if (!fs.existsSync(metricsPath)) return;
  const kept = fs
    .readFileSync(metricsPath, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .filter((line) => {
      try {
        return (JSON.parse(line) as { epoch: number }).epoch <= keepEpochs;
      } catch {
        return false;
      }
    });
  writeFileAtomic(metricsPath, kept.map((line) => line + '\n').join(''));
}

function compareConfigs(saved: RunConfig, requested: RunConfig, out: string): void {
  for (const key of Object.keys(requested) as (keyof RunConfig)[]) {
    if (key === 'dataDir') continue;
    // Settings added later are absent from older runs, which used their defaults.
    if (saved[key] === undefined && requested[key] === undefined) continue;
    if (JSON.stringify(saved[key]) !== JSON.stringify(requested[key])) {
      throw runError(
        `--resume: the run in ${out} was started with ${key} = ${JSON.stringify(saved[key])}, this command asks for ` +
          `${JSON.stringify(requested[key])}; repeat the original options or choose another --out`,
        'ERR_RUN_MISMATCH',
      );
    }
  }
}

/** One split as the run sees it: class subset first, then N per class. Streamed datasets stay undecoded. */
export function loadRunSplit(config: RunConfig, split: ImageDataset['split'], perClass: number | null, seed: number): RunTrainData {
  const options = { dataDir: config.dataDir, cifar100Labels: config.cifar100Labels, imageSize: config.imageSize ?? RECIPES[config.dataset].imageSize };
  let data: RunTrainData = STREAMED_DATASETS.includes(config.dataset)
    ? loadFolderDataset(config.dataset, split, options)
    : loadDataset(config.dataset, split, options);
  if (config.classes && config.classes.length > 0) data = restrictToClasses(data, config.classes);
  return perClass === null ? data : takePerClass(data, perClass, seed);
}

/** The run's test set in memory (a streamed one is decoded with the evaluation transform). */
export async function loadRunTestSet(config: RunConfig, perClass: number | null, seed: number, onSkip?: (file: string, message: string) => void): Promise<ImageDataset> {
  const data = loadRunSplit(config, 'test', perClass, seed);
  return 'files' in data ? decodeToMemory(data, config.onDecodeError ?? 'fail', onSkip) : data;
}

export async function loadRunData(
  config: RunConfig,
  onSkip?: (file: string, message: string) => void,
): Promise<{ train: RunTrainData; test: ImageDataset; heldOut?: ImageDataset }> {
  let train = loadRunSplit(config, 'train', null, config.seed);
  let heldOut: ImageDataset | undefined;
  if (config.mitigation === 'auto') {
    if ('files' in train) {
      throw new ClasswiseError(`--mitigate auto needs a dataset held in memory; ${config.dataset} is streamed`, 'ERR_INVALID_ARGUMENT');
    }
    ({ kept: train, heldOut } = holdOutPerClass(train, config.mitigationPerClass ?? 100, config.seed + 2));
  }
  if (config.trainPerClass !== null) train = takePerClass(train, config.trainPerClass, config.seed);
  return { train, test: await loadRunTestSet(config, config.evalPerClass, config.seed + 1, onSkip), heldOut };
}

/** Streamed training data: each chunk decoded with random-resized crop and flip, seeded per chunk. */
export function streamedTrainData(data: ImageFolderDataset, policy: DecodeErrorPolicy, onSkip?: (file: string, message: string) => void): StreamedTrainData {
  return {
    count: data.count,
    load: async (indices, seed) => {
      const batch = await decodeBatch(data, indices, { augment: true, seed, onDecodeError: policy });
      for (const { file, message } of batch.skipped) onSkip?.(file, message);
      return batch;
    },
  };
}

export async function runTraining(config: RunConfig, options: RunOptions): Promise<EpochRecord[]> {
  const reporter = options.reporter ?? {};
  const checkpointPath = path.join(options.out, CHECKPOINT_FILE);
  const metricsPath = path.join(options.out, METRICS_FILE);
  const schedule = parseSchedule(config.schedule, config.learningRate, config.epochs);

  let startEpoch = 0;
  let savedTensors: Awaited<ReturnType<Model['state']>> | undefined;
  if (fs.existsSync(checkpointPath)) {
    if (!options.resume) {
      throw runError(
        `${options.out} already holds a run (${checkpointPath}); pass --resume to continue it or choose another --out`,
        'ERR_RUN_EXISTS',
      );
    }
    const checkpoint = loadCheckpoint(checkpointPath);
    compareConfigs(checkpoint.meta.config.run as RunConfig, config, options.out);
    startEpoch = checkpoint.meta.epoch;
    savedTensors = checkpoint.tensors;
    reporter.message?.(`resuming ${options.out} after epoch ${startEpoch} of ${config.epochs}`);
  } else if (options.resume) {
    reporter.message?.(`--resume: no checkpoint in ${options.out} yet, starting from epoch 1`);
  }

  const onSkip = (file: string, message: string) => reporter.message?.(`skipped ${file}: it could not be decoded (${message})`);
  const { train: trainSet, test: testSet, heldOut } = await loadRunData(config, onSkip);
  const classWeights = config.classWeights ? parseClassValues(config.classWeights, trainSet.classNames, 1, 'class weights', [0, 1e6]) : undefined;
  const classEps = config.classEps ? parseClassValues(config.classEps, trainSet.classNames, config.eps, 'class eps', [0, 1]) : undefined;
  const recipe = RECIPES[config.dataset];
  const model = Model.create({
    architecture: config.architecture ?? recipe.architecture,
    inputShape: trainSet.shape,
    classNames: trainSet.classNames,
    mean: recipe.mean,
    std: recipe.std,
    device: options.device,
    seed: config.seed,
  });
  if (savedTensors) await model.loadState(savedTensors);
  fs.mkdirSync(options.out, { recursive: true });
  trimMetrics(metricsPath, startEpoch);
  reporter.start?.({ config, model: model.info, train: trainSet, test: testSet, startEpoch, out: options.out });
  reporter.message?.(`schedule: ${describeSchedule(schedule)}`);
  if (startEpoch >= config.epochs) {
    reporter.message?.(`${options.out} already finished its ${config.epochs} epochs`);
    return [];
  }

  const evaluationAttack = evalAttack(config);
  const trainData = 'files' in trainSet ? streamedTrainData(trainSet, config.onDecodeError ?? 'fail', onSkip) : trainSet;
  return train(model, trainData, {
    ...recipeTrainOptions(config, 'files' in trainSet),
    classWeights,
    classEps,
    autoMitigation: heldOut && { data: heldOut, attack: evaluationAttack },
    startEpoch,
    evaluation: { data: testSet, attack: evaluationAttack },
    onProgress: reporter.progress,
    onEpochEnd: async (record) => {
      // Metrics first, then the checkpoint: a kill in between only leaves a line that resume trims and redoes.
      appendLineDurable(metricsPath, JSON.stringify(metricsLine(record, config)));
      await model.save(checkpointPath, { epoch: record.epoch, seed: config.seed, config: { run: config } });
      const table = formatClassTable(classRows(record.evaluation!), {
        title: `epoch ${record.epoch}/${config.epochs}: per-class accuracy on ${testSet.count} test images`,
        attackLabel: record.evaluation!.attackLabel,
      });
      reporter.epochEnd?.(record, table);
    },
  });
}
