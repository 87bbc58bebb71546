/**
 * A training run on disk: runs/NAME/checkpoint.safetensors (atomic, every epoch) and metrics.jsonl (one line
 * per epoch). `resume` continues from the last checkpoint; epochs after it are recomputed bit for bit.
 */
import fs from 'fs';
import path from 'path';

import { AttackOptions } from '../attack';
import { appendLineDurable, loadCheckpoint, writeFileAtomic } from '../checkpoint';
import { ImageDataset } from '../data/dataset';
import { loadDataset } from '../data/index';
import { holdOutPerClass, takePerClass } from '../data/subset';
import { parseClassValues } from './mitigation';
import { ClasswiseError } from '../errors';
import { ClassEvaluation } from '../evaluate';
import { DeviceName, Model } from '../model';
import { NativeModelInfo, NativeProgress } from '../native';
import { ClassAccuracyRow, formatClassTable, summarizeClasses } from '../report/class-table';
import { RECIPES } from '../recipes';
import { describeSchedule, parseSchedule } from './schedule';
import { EpochRecord, train, TrainMethod } from './trainer';

/** Every setting that shapes the result; stored in the checkpoint and compared on resume. */
export interface RunConfig {
  dataset: 'fashion-mnist' | 'mnist';
  dataDir?: string;
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

export interface RunReporter {
  start?(info: { config: RunConfig; model: NativeModelInfo; train: ImageDataset; test: ImageDataset; startEpoch: number; out: string }): void;
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
    if (JSON.stringify(saved[key]) !== JSON.stringify(requested[key])) {
      throw runError(
        `--resume: the run in ${out} was started with ${key} = ${JSON.stringify(saved[key])}, this command asks for ` +
          `${JSON.stringify(requested[key])}; repeat the original options or choose another --out`,
        'ERR_RUN_MISMATCH',
      );
    }
  }
}

export function loadRunData(config: RunConfig): { train: ImageDataset; test: ImageDataset; heldOut?: ImageDataset } {
  let fullTrain = loadDataset(config.dataset, 'train', { dataDir: config.dataDir });
  const fullTest = loadDataset(config.dataset, 'test', { dataDir: config.dataDir });
  let heldOut: ImageDataset | undefined;
  if (config.mitigation === 'auto') {
    ({ kept: fullTrain, heldOut } = holdOutPerClass(fullTrain, config.mitigationPerClass ?? 100, config.seed + 2));
  }
  return {
    train: config.trainPerClass === null ? fullTrain : takePerClass(fullTrain, config.trainPerClass, config.seed),
    test: config.evalPerClass === null ? fullTest : takePerClass(fullTest, config.evalPerClass, config.seed + 1),
    heldOut,
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

  const { train: trainSet, test: testSet, heldOut } = loadRunData(config);
  const classWeights = config.classWeights ? parseClassValues(config.classWeights, trainSet.classNames, 1, 'class weights', [0, 1e6]) : undefined;
  const classEps = config.classEps ? parseClassValues(config.classEps, trainSet.classNames, config.eps, 'class eps', [0, 1]) : undefined;
  const recipe = RECIPES[config.dataset];
  const model = Model.create({
    architecture: recipe.architecture,
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
  return train(model, trainSet, {
    method: config.method,
    epochs: config.epochs,
    schedule,
    attack: trainAttack(config),
    batchSize: config.batchSize,
    momentum: config.momentum,
    weightDecay: config.weightDecay,
    nesterov: config.nesterov,
    seed: config.seed,
    beta: config.beta,
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
