/**
 * Training a run into its folder: checkpoint.safetensors every epoch, best.safetensors whenever robust accuracy on
 * the evaluation subset is the highest so far, metrics.jsonl one line per epoch. `resume` continues from the last
 * checkpoint; epochs after it are recomputed bit for bit. A run whose loss turns non-finite stops with an error
 * naming the epoch, step and learning rate, and its checkpoints stay those of the last good epoch.
 */
import fs from 'fs';
import path from 'path';

import { availableMean } from '../class-shares';
import { appendLineDurable, CHECKPOINT_FORMAT, loadCheckpoint, removeLeftoverTempFiles, saveCheckpoint, TensorMap } from '../checkpoint';
import { ImageDataset } from '../data/dataset';
import { ProcessGroup } from '../distributed/group';
import { ClasswiseError, invalidArgument } from '../errors';
import { ClassEvaluation } from '../evaluate';
import { FastPathOptions } from '../fast-path';
import { DeviceName, Model } from '../model';
import { NativeModelInfo, NativeProgress } from '../native';
import { ClassAccuracyRow, formatClassTable, summarizeClasses } from '../report/class-table';
import { RECIPES } from '../recipes';
import { parseClassValues } from '../train/mitigation';
import { describeSchedule, parseSchedule } from '../train/schedule';
import { FairnessState, selectionScore } from '../train/fairness';
import { EpochRecord, train } from '../train/trainer';
import { compareConfigs, evalAttack, recipeTrainOptions, RunConfig, runArchitecture } from './config';
import { loadRunData, RunTrainData, streamedTrainData } from './data';
import { perClassShortfall } from './per-class-request';
import { checkRunSplits } from './splits';
import { BEST_CHECKPOINT_FILE, CHECKPOINT_FILE, FAWA_CHECKPOINT_FILE, METRICS_FILE, prepareRunFolder, readMetrics, trimMetrics } from './folder';
import { FolderLock, lockFolder } from './lock';

/** Checkpoint tensors that carry CFA's FAWA average for resume (model loads ignore them). */
const FAWA_PREFIX = 'fairness.fawa.';

export interface RunReporter {
  start?(info: { config: RunConfig; model: NativeModelInfo; train: RunTrainData; test: ImageDataset; startEpoch: number; out: string }): void;
  progress?(epoch: number, progress: NativeProgress): void;
  /** `best`: the best epoch so far by the run's selection score (mean robust accuracy over classes on the evaluation subset unless selectOn says otherwise; this one when isBest). */
  epochEnd?(record: EpochRecord, table: string, best: { epoch: number; robust: number; isBest: boolean }): void;
  message?(text: string): void;
}

/** How a run computes (not what): precision / memoryFormat are recorded in every metrics line. */
export interface RunOptions extends FastPathOptions {
  out: string;
  resume?: boolean;
  device?: DeviceName;
  reporter?: RunReporter;
  /**
   * Data parallelism (this process is one rank): every rank trains and evaluates its shard; rank 0 alone writes
   * the run folder, and the ranks wait for each other after every epoch's checkpoint. Resume with the same ranks.
   */
  processGroup?: ProcessGroup;
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
export function metricsLine(record: EpochRecord, config: RunConfig, best?: { epoch: number; isBest: boolean; score?: number }): Record<string, unknown> {
  const evaluation = record.evaluation!;
  const summary = summarizeClasses(classRows(evaluation));
  return {
    epoch: record.epoch,
    method: config.method,
    ...(config.fairness ? { fairness: config.fairness, fairnessSettings: record.fairnessSettings, fairnessState: record.fairnessState } : {}),
    ...(record.fawaUpdated !== undefined ? { fawaUpdated: record.fawaUpdated } : {}),
    selectOn: config.selectOn ?? 'test',
    selectRule: config.selectRule ?? 'robust',
    ...(best?.score !== undefined ? { selectScore: best.score } : {}),
    ...(record.validation ? {
      validation: {
        counts: record.validation.counts, cleanAccuracy: record.validation.cleanAccuracy, robustAccuracy: record.validation.robustAccuracy,
        overallRobust: record.validation.overall.robust, attack: record.validation.attackLabel,
      },
    } : {}),
    classWeights: record.classWeights,
    learningRate: record.learningRate,
    trainLoss: record.trainLoss,
    trainAccuracy: record.trainAccuracy,
    trainSeconds: record.trainSeconds,
    imagesPerSecond: record.imagesPerSecond,
    precision: record.precision,
    memoryFormat: record.memoryFormat,
    evalPrecision: evaluation.precision,
    attack: evaluation.attackLabel,
    classNames: evaluation.classNames,
    counts: evaluation.counts,
    cleanAccuracy: evaluation.cleanAccuracy,
    robustAccuracy: evaluation.robustAccuracy,
    meanClean: summary.meanClean,
    meanRobust: summary.meanRobust,
    overallRobust: evaluation.overall.robust,
    ...(best ? { bestEpoch: best.epoch, isBestEpoch: best.isBest } : {}),
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

/**
 * The best epoch among the finished ones in metrics.jsonl (resume continues the comparison), by the mean robust
 * accuracy over classes: the same mean, rounded the same way, as the per-class table's "mean" line.
 */
function bestSoFar(out: string, epochs: number): { epoch: number; robust: number } | undefined {
  if (epochs === 0 || !fs.existsSync(path.join(out, METRICS_FILE))) return undefined;
  let best: { epoch: number; robust: number } | undefined;
  for (const line of readMetrics(out).filter((m) => m.epoch <= epochs)) {
    const robust = line.selectScore ?? line.meanRobust ?? availableMean(line.robustAccuracy);
    if (!best || robust > best.robust) best = { epoch: line.epoch, robust };
  }
  return best;
}

/** The validation split's PGD steps: the fairness method's (FRL 20, others 10), else the run's evaluation steps. */
function validationSteps(config: RunConfig): number {
  return config.fairness?.validationSteps ?? config.evalSteps;
}

/** A checkpoint as Model.save writes it, from the given tensors (the model's, plus CFA's FAWA average for resume). */
function saveTensors(file: string, tensors: TensorMap, model: Model, meta: { epoch: number; seed: number; config: Record<string, unknown> }): void {
  saveCheckpoint(file, { tensors, meta: { format: CHECKPOINT_FORMAT, epoch: meta.epoch, seed: meta.seed, config: { ...meta.config, model: model.config } } });
}

/**
 * --init-from: the weights of a run (its best checkpoint, else its last) or a checkpoint file, refused when it was
 * written for another architecture, input shape or class list. The optimizer starts fresh.
 */
async function initializeFrom(model: Model, target: string): Promise<void> {
  let file = target;
  if (fs.existsSync(target) && fs.statSync(target).isDirectory()) {
    file = fs.existsSync(path.join(target, BEST_CHECKPOINT_FILE)) ? path.join(target, BEST_CHECKPOINT_FILE) : path.join(target, CHECKPOINT_FILE);
  }
  if (!fs.existsSync(file)) throw new ClasswiseError('ERR_CHECKPOINT_MISSING', `--init-from ${target}: ${file} not found; pass a run folder or a .safetensors checkpoint`);
  const checkpoint = loadCheckpoint(file);
  const saved = checkpoint.meta.config.model as { architecture?: string; classNames?: string[]; inputShape?: number[] } | undefined;
  const own = model.config;
  if (!saved || saved.architecture !== own.architecture || JSON.stringify(saved.inputShape) !== JSON.stringify(own.inputShape)) {
    throw new ClasswiseError('ERR_RUN_MISMATCH', `--init-from ${file} holds a ${saved?.architecture ?? 'unknown'} model of input ${JSON.stringify(saved?.inputShape)}, ` +
      `this run trains ${own.architecture} of input ${JSON.stringify(own.inputShape)}; pass a checkpoint of the same --arch and dataset`);
  }
  if (JSON.stringify(saved.classNames) !== JSON.stringify(own.classNames)) {
    throw new ClasswiseError('ERR_RUN_MISMATCH', `--init-from ${file} was trained on ${saved.classNames?.length} classes (${(saved.classNames ?? []).slice(0, 3).join(', ')}, ...), ` +
      `this run has ${own.classNames.length} (${own.classNames.slice(0, 3).join(', ')}, ...); pass a checkpoint of the same classes`);
  }
  const weights: TensorMap = {};
  for (const [name, tensor] of Object.entries(checkpoint.tensors)) {
    if (!name.startsWith('optimizer.') && !name.startsWith('fairness.')) weights[name] = tensor;
  }
  await model.loadState(weights);
}

export async function runTraining(config: RunConfig, options: RunOptions): Promise<EpochRecord[]> {
  if (!config || typeof config !== 'object') throw invalidArgument('runTraining needs a RunConfig (see runConfig(settings))');
  if (!options || typeof options.out !== 'string') throw invalidArgument('runTraining options.out must name the run folder');
  const reporter = options.reporter ?? {};
  const out = options.out;
  const schedule = parseSchedule(config.schedule, config.learningRate, config.epochs);
  const group = options.processGroup;
  const writes = !group || group.rank === 0;
  let lock: FolderLock | undefined;
  if (writes) {
    prepareRunFolder(out);
    lock = lockFolder(out, 'run folder', reporter.message);
  }
  try {
    return await trainLockedFolder(config, options, schedule);
  } finally {
    lock?.release();
  }
}

/** runTraining once rank 0 holds the run folder's lock. */
async function trainLockedFolder(config: RunConfig, options: RunOptions, schedule: ReturnType<typeof parseSchedule>): Promise<EpochRecord[]> {
  const reporter = options.reporter ?? {};
  const out = options.out;
  const checkpointPath = path.join(out, CHECKPOINT_FILE);
  const bestPath = path.join(out, BEST_CHECKPOINT_FILE);
  const metricsPath = path.join(out, METRICS_FILE);
  const group = options.processGroup;
  const writes = !group || group.rank === 0;
  if (writes) {
    for (const file of removeLeftoverTempFiles(out)) reporter.message?.(`removed ${file}, left by a write that was killed`);
  }
  // The others read the folder only once rank 0 has cleaned it.
  await group?.barrier('the start of the run');

  let startEpoch = 0;
  let savedTensors: Awaited<ReturnType<Model['state']>> | undefined;
  let fairnessState: FairnessState | undefined;
  let fawa: TensorMap | undefined;
  if (fs.existsSync(checkpointPath)) {
    if (!options.resume) {
      throw new ClasswiseError('ERR_RUN_EXISTS', `${out} already holds a run (${checkpointPath}); pass --resume to continue it or choose another --out`);
    }
    const checkpoint = loadCheckpoint(checkpointPath);
    compareConfigs(checkpoint.meta.config.run as RunConfig, config, out);
    // The shards and each rank's noise rows depend on the number of ranks: a resume continues with the same.
    const savedRanks = (checkpoint.meta.config.ranks as number | undefined) ?? 1;
    const ranks = group?.worldSize ?? 1;
    if (savedRanks !== ranks) {
      throw new ClasswiseError('ERR_DISTRIBUTED', `${out} was trained with ${savedRanks} rank${savedRanks === 1 ? '' : 's'} and is resumed with ${ranks}; ` +
        (savedRanks === 1 ? 'resume it as one process (without classwise-at launch, torchrun or srun)' : `resume it with ${savedRanks} ranks, e.g. classwise-at launch --nproc-per-node ${savedRanks} -- train --out ${out} --resume`));
    }
    startEpoch = checkpoint.meta.epoch;
    savedTensors = {};
    fawa = undefined;
    for (const [name, tensor] of Object.entries(checkpoint.tensors)) {
      if (name.startsWith(FAWA_PREFIX)) (fawa ??= {})[name.slice(FAWA_PREFIX.length)] = tensor;
      else savedTensors[name] = tensor;
    }
    fairnessState = checkpoint.meta.config.fairnessState as FairnessState | undefined;
    reporter.message?.(`resuming ${out} after epoch ${startEpoch} of ${config.epochs}`);
  } else if (options.resume) {
    reporter.message?.(`--resume: no checkpoint in ${out} yet, starting from epoch 1`);
  }

  const onSkip = (file: string, message: string) => reporter.message?.(`skipped ${file}: it could not be decoded (${message})`);
  const { train: trainSet, test: testSet, heldOut, validation } = await loadRunData(config, onSkip);
  checkRunSplits(config.dataset, trainSet, testSet);
  for (const warning of [perClassShortfall(trainSet.labels, trainSet.classNames, config.trainPerClass, '--train-per-class'),
    perClassShortfall(testSet.labels, testSet.classNames, config.evalPerClass, '--eval-per-class')]) {
    if (warning) reporter.message?.(`warning: ${warning}`);
  }
  const classWeights = config.classWeights ? parseClassValues(config.classWeights, trainSet.classNames, 1, 'class weights', [0, 1e6]) : undefined;
  const classEps = config.classEps ? parseClassValues(config.classEps, trainSet.classNames, config.eps, 'class eps', [0, 1]) : undefined;
  const recipe = RECIPES[config.dataset];
  const model = Model.create({
    architecture: runArchitecture(config),
    inputShape: trainSet.shape,
    classNames: trainSet.classNames,
    mean: recipe.mean,
    std: recipe.std,
    device: options.device,
    seed: config.seed,
  });
  if (savedTensors) await model.loadState(savedTensors);
  else if (config.initFrom) await initializeFrom(model, config.initFrom);
  if (writes) trimMetrics(metricsPath, startEpoch);
  reporter.start?.({ config, model: model.info, train: trainSet, test: testSet, startEpoch, out });
  reporter.message?.(`schedule: ${describeSchedule(schedule)}`);
  if (startEpoch >= config.epochs) {
    reporter.message?.(`${out} already finished its ${config.epochs} epochs`);
    return [];
  }

  let best = bestSoFar(out, startEpoch);
  let lastSaved = startEpoch;
  const evaluationAttack = evalAttack(config);
  if (group && 'files' in trainSet && config.onDecodeError === 'skip') {
    // A skipped file would give one rank fewer steps than the others, and the ranks' all-reduces would pair up wrongly.
    throw new ClasswiseError('ERR_DISTRIBUTED', '--on-decode-error skip cannot be used with several ranks (a skipped file changes one rank\'s ' +
      'number of steps); use --on-decode-error fail, or remove the undecodable files first (a one-process run with skip names them)');
  }
  const trainData = 'files' in trainSet ? streamedTrainData(trainSet, config.onDecodeError ?? 'fail', onSkip) : trainSet;
  try {
    return await train(model, trainData, {
      ...recipeTrainOptions(config, 'files' in trainSet),
      classWeights,
      classEps,
      autoMitigation: heldOut && { data: heldOut, attack: evaluationAttack },
      fairness: config.fairness,
      fairnessState,
      fawa,
      validation: validation && { data: validation, attack: { ...evaluationAttack, steps: validationSteps(config), stepSize: (2.5 * config.eps) / validationSteps(config) } },
      startEpoch,
      processGroup: group,
      precision: options.precision,
      memoryFormat: options.memoryFormat,
      evaluation: { data: testSet, attack: evaluationAttack },
      onProgress: reporter.progress,
      onWarning: (message) => reporter.message?.(`warning: ${message}`),
      onEpochEnd: async (record) => {
        // The score that chooses best.safetensors: on the validation split (carved from training data) or the test subset.
        const robust = config.selectOn
          ? selectionScore(config.selectRule ?? 'robust', config.selectOn === 'validation' ? record.validation! : record.evaluation!)
          : summarizeClasses(classRows(record.evaluation!)).meanRobust;
        const isBest = !best || robust > best.robust;
        if (isBest) best = { epoch: record.epoch, robust };
        const meta = {
          epoch: record.epoch, seed: config.seed,
          config: { run: config, ...(group ? { ranks: group.worldSize } : {}), ...(record.fairnessState ? { fairnessState: record.fairnessState } : {}) },
        };
        // Metrics, best, FAWA, then last: a kill in between leaves a metrics line that resume trims and redoes.
        if (writes) {
          appendLineDurable(metricsPath, JSON.stringify(metricsLine(record, config, { epoch: best!.epoch, isBest, score: robust })));
          if (isBest) await model.save(bestPath, meta);
          if (record.fawa) saveTensors(path.join(out, FAWA_CHECKPOINT_FILE), record.fawa, model, meta);
          const state = await model.state();
          if (record.fawa) for (const [name, tensor] of Object.entries(record.fawa)) state[FAWA_PREFIX + name] = tensor;
          saveTensors(checkpointPath, state, model, meta);
        }
        // No rank starts the next epoch before the checkpoint of this one is complete.
        await group?.barrier(`the checkpoint of epoch ${record.epoch}`);
        lastSaved = record.epoch;
        const table = formatClassTable(classRows(record.evaluation!), {
          title: `epoch ${record.epoch}/${config.epochs}: per-class accuracy on ${testSet.count} test images (${record.evaluation!.precision})`,
          attackLabel: record.evaluation!.attackLabel,
        });
        reporter.epochEnd?.(record, table, { ...best!, isBest });
      },
    });
  } catch (error) {
    if (error instanceof ClasswiseError && error.code === 'ERR_NON_FINITE') {
      const kept = lastSaved > 0 ? `${checkpointPath} keeps epoch ${lastSaved}, the last good one` : 'no checkpoint was written';
      throw new ClasswiseError('ERR_NON_FINITE', `${error.message}; the run stopped: ${kept}`);
    }
    throw error;
  }
}
