/**
 * The training loop of the library: one native call per epoch (the addon runs every step and attack),
 * optional class-wise evaluation after each epoch. Epoch e's shuffle and attack noise derive from
 * (seed, e) alone, so a run resumed at an epoch boundary ends exactly where an uninterrupted one would.
 */
import { availableMean, isAvailable } from '../class-shares';
import { attackDefaults, AttackOptions, toNativeAttack } from '../attack';
import { ImageDataset } from '../data/dataset';
import { ProcessGroup } from '../distributed/group';
import { shuffledIndices } from '../data/random';
import { nativeData } from '../data/native-dataset';
import { invalidArgument } from '../errors';
import { checkClassNames } from '../class-names';
import { FastPathOptions, FastPathUsed, nativeFastPath } from '../fast-path';
import { ClassEvaluation, evaluate } from '../evaluate';
import { Model } from '../model';
import { prefetch } from '../data/prefetch';
import { NativeAugmentConfig, NativeDatasetHandle, NativeProgress } from '../native';
import { TensorMap } from '../checkpoint/safetensors';
import {
  checkFiniteSettings, dafaLambda, fairnessEpochSettings, FairnessOptions, FairnessState, fawaAverage, fawaGate, initialFairnessState,
  nextFairnessState, resolveFairness, ResolvedFairness, TrainClassStatistics,
} from './fairness';
import { describeSchedule, learningRateIsZeroThroughout, learningRatesForEpoch, LrSchedule } from './schedule';

export const TRAIN_METHODS = ['standard', 'pgd', 'fgsm-rs', 'trades', 'mart'] as const;
export type TrainMethod = (typeof TRAIN_METHODS)[number];

/** precision / memoryFormat apply to the training steps, their attacks and the evaluations after each epoch. */
export interface TrainOptions extends FastPathOptions {
  method: TrainMethod;
  /** Total epochs of the run (also the schedule's length). */
  epochs: number;
  schedule: LrSchedule;
  /**
   * Inner maximisation: required for every method but 'standard'. TRADES maximises the KL divergence with
   * these eps / steps / stepSize (from x + N(0, 0.001^2)); MART uses the attack as given.
   */
  attack?: AttackOptions;
  /** TRADES / MART regularisation weight; default 6 (TRADES' and MART's papers use 6 and 5-6). */
  beta?: number;
  /** Class-wise mitigation in training: each example's loss is multiplied by its class's weight. */
  classWeights?: number[];
  /** Class-wise mitigation in training: each example's attack budget is its class's eps. */
  classEps?: number[];
  /**
   * Automatic mitigation: before every epoch after the first, robust accuracy per class is measured on this
   * held-out split and classWeights become (1 - robust_k) / mean(1 - robust), lifting the weakest classes.
   */
  autoMitigation?: { data: EvaluationData; attack: AttackOptions };
  /**
   * Robust-fairness training (train/fairness.ts): FRL, CFA, WAT, DAFA or FAAL on top of `method`. FRL, CFA and
   * WAT need `validation`. A resumed run passes the last epoch's `fairnessState` (and CFA's `fawa` average).
   */
  fairness?: FairnessOptions;
  fairnessState?: FairnessState;
  fawa?: TensorMap;
  /**
   * A split held out from the training data (never the test set): evaluated after every epoch into
   * record.validation, read by the fairness method and by checkpoint selection on validation.
   */
  validation?: { data: EvaluationData; attack: AttackOptions };
  batchSize?: number;
  momentum?: number;
  weightDecay?: number;
  nesterov?: boolean;
  seed?: number;
  /** Random crop (zero padding) and flip of every training batch, done natively; none by default. */
  augment?: NativeAugmentConfig;
  /**
   * Streamed data only: batches per native call, and decoded chunks held ahead of training (default: 2, or as many
   * as keep MIN_BATCHES_AHEAD batches ahead).
   */
  chunkBatches?: number;
  prefetchChunks?: number;
  /** Evaluated after every epoch. */
  evaluation?: { data: EvaluationData; attack?: AttackOptions | null; batchSize?: number };
  /** First epoch to run, 0-based (a resumed run passes the checkpoint's epoch count). */
  startEpoch?: number;
  /**
   * Data parallelism: this process is one rank of the group. batchSize is the global batch (each rank trains on
   * batchSize / worldSize examples per step); every rank starts from rank 0's model, takes the stride of the
   * epoch's permutation that starts at its rank, and all-reduces gradients natively after every backward.
   * BatchNorm statistics stay per rank and are set to rank 0's before each evaluation. Evaluations are sharded.
   */
  processGroup?: ProcessGroup;
  onProgress?: (epoch: number, progress: NativeProgress) => void;
  /** A setting that runs but is almost surely a mistake (default: console.warn). */
  onWarning?: (message: string) => void;
  onEpochEnd?: (record: EpochRecord) => void | Promise<void>;
}

/** `precision` and `memoryFormat`: what the epoch trained with ('auto' resolved). */
export interface EpochRecord extends FastPathUsed {
  /** 1-based number of the epoch just finished. */
  epoch: number;
  learningRate: { first: number; last: number };
  trainLoss: number;
  /** Accuracy on the examples trained on (adversarial ones for AT). */
  trainAccuracy: number;
  trainSeconds: number;
  imagesPerSecond: number;
  /** Streamed data only: seconds the training step waited for decoded batches, and files skipped. */
  dataWaitSeconds?: number;
  skippedFiles?: number;
  evaluation?: ClassEvaluation;
  /** The class weights this epoch trained with (automatic mitigation changes them every epoch). */
  classWeights?: number[];
  /** On options.validation after this epoch. */
  validation?: ClassEvaluation;
  /** The fairness method's state after this epoch (what a resume continues from) and the per-class settings it trained with. */
  fairnessState?: FairnessState;
  fairnessSettings?: { classEps?: number[]; naturalWeights?: number[]; robustWeights?: number[]; faalRadius?: number };
  /** CFA: the FAWA average after this epoch (undefined until a model passed the gate), and whether this epoch joined it. */
  fawa?: TensorMap;
  fawaUpdated?: boolean;
}

/** Fairness kinds that read the validation split. */
const NEEDS_VALIDATION = ['frl-rw', 'frl-rm', 'frl-rwrm', 'cfa', 'wat'];

/** CFA's FAWA step on every float32 tensor of the model (optimizer state left out; other dtypes taken as they are). */
function averageWeights(average: TensorMap | undefined, current: TensorMap, alpha: number): TensorMap {
  const next: TensorMap = {};
  for (const [name, tensor] of Object.entries(current)) {
    if (name.startsWith('optimizer.')) continue;
    if (tensor.dtype !== 'F32') {
      next[name] = tensor;
      continue;
    }
    const theta = new Float32Array(tensor.data.slice().buffer);
    const previous = average?.[name] && new Float32Array(average[name].data.slice().buffer);
    next[name] = { dtype: 'F32', shape: tensor.shape, data: new Uint8Array(fawaAverage(previous, theta, alpha).buffer) };
  }
  return next;
}

/**
 * Weights (1 - robust_k) / mean(1 - robust): the weakest class gets the largest weight, mean weight 1. A class
 * without held-out examples (robust NaN) gets the mean weakness, so weight 1.
 */
export function mitigationWeights(robustAccuracy: readonly number[]): number[] {
  const measured = availableMean(robustAccuracy.map((r) => (isAvailable(r) ? 1 - r : NaN)));
  const weakness = robustAccuracy.map((r) => (isAvailable(r) ? 1 - r : isAvailable(measured) ? measured : 0));
  const mean = weakness.reduce((a, b) => a + b, 0) / weakness.length;
  return mean > 0 ? weakness.map((w) => w / mean) : weakness.map(() => 1);
}

/**
 * Training data too large for memory: decoded on demand. `load` returns the examples `indices` in that order,
 * already augmented as the data requires (minus files it skipped, which it reports itself).
 */
export interface StreamedTrainData {
  count: number;
  /** The epoch's permutation of 0..count-1 for `seed`, when the data has its own (a pack's page-local order). */
  epochOrder?: (seed: number) => Int32Array;
  load(indices: Int32Array, seed: number): Promise<{ images: Uint8Array; labels: Int32Array; count: number }>;
}

/** In-memory data: a NativeImageSet (loadIntoNative) is read in place every epoch; plain arrays are copied per epoch. */
type TrainData = (Pick<ImageDataset, 'images' | 'labels' | 'count'> & { native?: NativeDatasetHandle }) | StreamedTrainData;
type EvaluationData = Pick<ImageDataset, 'images' | 'labels'> & { native?: NativeDatasetHandle };

function isStreamed(data: TrainData): data is StreamedTrainData {
  return 'load' in data;
}

const DEFAULT_CHUNK_BATCHES = 8;
const DEFAULT_PREFETCH_CHUNKS = 2;
/** Batches decoded ahead of the training step at least: with small chunks, more of them are prefetched. */
export const MIN_BATCHES_AHEAD = 3;

/** Seed of everything random in one epoch. */
export function epochSeed(seed: number, epoch: number): number {
  // NaN or a fraction would give a NaN or non-repeatable seed that the addon then truncates silently.
  for (const [name, value] of [['seed', seed], ['epoch', epoch]] as const) {
    if (!Number.isSafeInteger(value) || value < 0) throw invalidArgument(`epochSeed: ${name} must be an integer >= 0, got ${value}`);
  }
  return (seed * 100003 + epoch * 7919 + 1) % 2 ** 31;
}

export async function train(model: Model, data: TrainData, options: TrainOptions): Promise<EpochRecord[]> {
  if (!(model instanceof Model)) throw invalidArgument('train needs a Model as its first argument (Model.create or Model.load)');
  if (!data || typeof data !== 'object' || !Number.isInteger((data as { count?: number }).count)) {
    throw invalidArgument('train data must be a dataset { images, labels, count } (e.g. loadDataset(...)) or streamed data { count, load }');
  }
  if (!options || typeof options !== 'object') throw invalidArgument('train options must be an object such as { method: "pgd", epochs: 10, schedule: { kind: "constant", lr: 0.1 }, attack: { kind: "pgd", eps: 0.1 } }');
  if (!options.schedule || typeof options.schedule !== 'object') throw invalidArgument('train options.schedule is required, e.g. { kind: "constant", lr: 0.1 } or parseSchedule("cyclic", 0.1, epochs)');
  const batchSize = options.batchSize ?? 128;
  const seed = options.seed ?? 0;
  if (!Number.isInteger(options.epochs) || options.epochs < 1) {
    throw invalidArgument(`epochs must be an integer >= 1, got ${options.epochs}`);
  }
  const startEpoch = options.startEpoch ?? 0;
  if (!Number.isInteger(startEpoch) || startEpoch < 0 || startEpoch > options.epochs) {
    throw invalidArgument(`startEpoch must be an integer in [0, epochs = ${options.epochs}] (the number of epochs already trained), got ${options.startEpoch}`);
  }
  const described = data as { classNames?: unknown; shape?: unknown };
  if (described.classNames !== undefined) {
    checkClassNames(described.classNames, 'train data.classNames');
    if (described.classNames.length !== model.numClasses) {
      throw invalidArgument(`train data has ${described.classNames.length} classes but the model has ${model.numClasses}; create the model with the dataset's classNames`);
    }
  }
  if (Array.isArray(described.shape) && JSON.stringify(described.shape) !== JSON.stringify(model.config.inputShape)) {
    throw invalidArgument(`train data has images of shape ${described.shape.join('x')} but the model takes ${model.config.inputShape.join('x')}; create the model with inputShape ${JSON.stringify(described.shape)}`);
  }
  if (options.method !== 'standard' && !options.attack) {
    throw invalidArgument(`method "${options.method}" needs options.attack, e.g. { kind: "pgd", eps: 0.1, steps: 10 }`);
  }
  const group = options.processGroup;
  const ranks = group?.worldSize ?? 1;
  if (batchSize % ranks !== 0) {
    throw invalidArgument(`batch size ${batchSize} is the global batch and must be divisible by the ${ranks} ranks (each rank trains on batch size / ranks); choose e.g. ${Math.max(ranks, Math.round(batchSize / ranks) * ranks)}`);
  }
  const localBatchSize = batchSize / ranks;
  // A final batch of one example breaks batch-norm statistics in training mode: leave it out. With ranks, every
  // rank gets the same number of examples (the last count % ranks of the permutation are left out).
  let examplesPerEpoch = data.count % batchSize === 1 && data.count > 1 ? data.count - 1 : data.count;
  examplesPerEpoch -= examplesPerEpoch % ranks;
  if (examplesPerEpoch % batchSize === ranks && examplesPerEpoch > ranks) examplesPerEpoch -= ranks;
  if (examplesPerEpoch < ranks) throw invalidArgument(`${data.count} training examples cannot be shared by ${ranks} ranks`);
  const stepsPerEpoch = Math.ceil(examplesPerEpoch / batchSize);
  if (learningRateIsZeroThroughout(options.schedule, stepsPerEpoch, options.epochs, startEpoch)) {
    const steps = (options.epochs - startEpoch) * stepsPerEpoch;
    (options.onWarning ?? ((message: string) => console.warn(`classwise-at warning: ${message}`)))(
      `the learning-rate schedule (${describeSchedule(options.schedule)}) gives lr 0 at every one of the run's ${steps} step${steps === 1 ? '' : 's'}, ` +
        'so the weights will not change; train more steps (epochs, images) or choose another schedule or rate');
  }
  if (group) await model.native.synchronize({ processGroup: group.native, parameters: true });
  const classes = model.numClasses;
  const perClass = (name: string, values: number[] | undefined) => {
    if (values === undefined) return undefined;
    if (values.length !== classes) throw invalidArgument(`${name} has ${values.length} entries; the model has ${classes} classes (one value per class)`);
    return Float64Array.from(values);
  };
  let classWeights = perClass('classWeights', options.classWeights);
  let classEps = perClass('classEps', options.classEps);
  if (classWeights) {
    const bad = classWeights.findIndex((w) => !Number.isFinite(w) || w < 0);
    if (bad >= 0) throw invalidArgument(`classWeights[${bad}] (${model.config.classNames[bad]}) is ${classWeights[bad]}; a class's loss weight must be a finite number >= 0`);
    // Every example's loss times 0: the run would take its steps and learn nothing.
    if (classWeights.every((w) => w === 0)) throw invalidArgument('classWeights (--class-weight) are 0 for every class, so no example contributes to the loss; give at least one class a weight above 0 (others default to 1)');
  }
  if (classEps) {
    const bad = classEps.findIndex((e) => !Number.isFinite(e) || e < 0 || e > 1);
    if (bad >= 0) throw invalidArgument(`classEps[${bad}] (${model.config.classNames[bad]}) is ${classEps[bad]}; a class's attack budget must be a finite number in [0, 1] (pixel units)`);
  }
  let fairness: ResolvedFairness | undefined;
  let fairnessState: FairnessState | undefined;
  let fawa = options.fawa;
  if (options.fairness) {
    fairness = resolveFairness(options.fairness, options.method);
    if (options.classWeights || options.classEps || options.autoMitigation) {
      throw invalidArgument(`fairness ${fairness.kind} sets its own class weights and eps; leave out classWeights, classEps and automatic mitigation`);
    }
    if (NEEDS_VALIDATION.includes(fairness.kind) && !options.validation) {
      throw invalidArgument(`fairness ${fairness.kind} needs options.validation: a split held out from the training data, e.g. holdOutPerClass(train, 100, seed).heldOut`);
    }
    if (isStreamed(data)) throw invalidArgument(`fairness ${fairness.kind} needs training data held in memory (its per-class statistics come from one native call per epoch); streamed data is not supported`);
    fairnessState = options.fairnessState ?? initialFairnessState(fairness.kind, classes);
    if (fairnessState.kind !== fairness.kind) {
      throw invalidArgument(`options.fairnessState is of ${fairnessState.kind}, the run trains ${fairness.kind}; pass the state this run saved`);
    }
  }
  // WAT's Hedge input is the validation split's TRADES loss: the same pass also runs the training attack's TRADES
  // inner maximisation (as WAT's official code) and returns each class's KL natively.
  const tradesAttack = fairness?.kind === 'wat' ? options.attack : undefined;
  const validate = (withModel: Model) => evaluate(withModel, options.validation!.data, { attack: options.validation!.attack, tradesAttack, seed: seed + 1, processGroup: group, ...nativeFastPath(options) });
  const fairnessContext = (epoch: number) => ({ epoch, epochs: options.epochs, classes, dafaLam: dafaLambda(options.fairness!, classes), beta: options.beta ?? 6 });
  // FRL measures the validation split before every epoch: the first measurement precedes any training.
  if (fairness && fairnessState?.frl && startEpoch === 0) {
    const measured = await validate(model);
    fairnessState = nextFairnessState(fairnessState, fairness, fairnessContext(-1), { validation: measured });
  }
  const records: EpochRecord[] = [];
  for (let epoch = startEpoch; epoch < options.epochs; epoch++) {
    const rates = learningRatesForEpoch(options.schedule, epoch, stepsPerEpoch, options.epochs);
    if (options.autoMitigation && epoch > 0) {
      const heldOut = await evaluate(model, options.autoMitigation.data, { attack: options.autoMitigation.attack, seed, processGroup: group, ...nativeFastPath(options) });
      classWeights = Float64Array.from(mitigationWeights(heldOut.robustAccuracy));
    }
    let epochFairness: ReturnType<typeof fairnessEpochSettings> | undefined;
    if (fairness && fairnessState) {
      epochFairness = fairnessEpochSettings(fairnessState, fairness, { epoch, epochs: options.epochs, eps: options.attack?.eps ?? 0, beta: options.beta ?? 6, method: options.method, classes });
      checkFiniteSettings(epochFairness, fairness.kind, epoch);
      classWeights = epochFairness.classWeights && Float64Array.from(epochFairness.classWeights);
      classEps = epochFairness.classEps && Float64Array.from(epochFairness.classEps);
    }
    const permutation = (isStreamed(data) && data.epochOrder ? data.epochOrder(epochSeed(seed, epoch)) : shuffledIndices(data.count, epochSeed(seed, epoch))).subarray(0, examplesPerEpoch);
    // Rank r's shard: permutation[r], permutation[r + W], ...; its k-th local batch holds the rows r::W of the
    // k-th global batch, which is why the native attack keeps those rows of the global batch's random start.
    const order = group ? permutation.filter((_, i) => i % ranks === group.rank) : permutation;
    const nativeOptions = {
      method: options.method,
      attack: options.method === 'standard' ? undefined : toNativeAttack(fgsmRsDefaults(options.method, options.attack)),
      momentum: options.momentum ?? 0.9,
      weightDecay: options.weightDecay ?? 5e-4,
      nesterov: options.nesterov ?? false,
      batchSize: localBatchSize,
      seed: epochSeed(seed, epoch),
      augment: options.augment,
      beta: options.beta,
      classWeights,
      classEps,
      naturalWeights: epochFairness?.naturalWeights && Float64Array.from(epochFairness.naturalWeights),
      robustWeights: epochFairness?.robustWeights && Float64Array.from(epochFairness.robustWeights),
      faalRadius: epochFairness?.faalRadius,
      classStatistics: epochFairness?.classStatistics || undefined,
      epoch: epoch + 1,
      processGroup: group?.native,
      ...nativeFastPath(options),
    };
    const onProgress = options.onProgress && ((progress: NativeProgress) => options.onProgress!(epoch + 1, progress));
    const result = isStreamed(data)
      ? await trainStreamedEpoch(model, data, order, rates, nativeOptions, options, onProgress)
      : await model.native.train({ ...nativeData(data), order, learningRates: Float64Array.from(rates) }, nativeOptions, onProgress);
    const record: EpochRecord = {
      classWeights: classWeights && Array.from(classWeights),
      epoch: epoch + 1,
      learningRate: { first: rates[0], last: rates[rates.length - 1] },
      trainLoss: result.lossSum / result.seen,
      trainAccuracy: result.correct / result.seen,
      trainSeconds: result.seconds,
      imagesPerSecond: result.seen / result.seconds,
      precision: result.precision,
      memoryFormat: result.memoryFormat,
      ...('dataWaitSeconds' in result ? { dataWaitSeconds: result.dataWaitSeconds } : {}),
    };
    // BatchNorm statistics are per rank: every rank evaluates (and rank 0 saves) with rank 0's.
    if (group) await model.native.synchronize({ processGroup: group.native, parameters: false });
    if (options.evaluation) {
      record.evaluation = await evaluate(model, options.evaluation.data, {
        processGroup: group,
        attack: options.evaluation.attack,
        batchSize: options.evaluation.batchSize,
        seed,
        ...nativeFastPath(options),
      });
    }
    if (options.validation) record.validation = await validate(model);
    if (fairness && fairnessState && epochFairness) {
      let fawaUpdated = false;
      if (fairness.kind === 'cfa' && epoch + 1 >= fairness.begin && fawaGate(record.validation!.robustAccuracy, fairness.delta)) {
        fawa = averageWeights(fawa, await model.state(), fairness.alpha);
        fawaUpdated = true;
      }
      const trainStatistics = (result as { classStatistics?: TrainClassStatistics }).classStatistics;
      fairnessState = nextFairnessState(fairnessState, fairness, fairnessContext(epoch), { train: trainStatistics, validation: record.validation, fawaUpdated });
      record.fairnessState = fairnessState;
      record.fairnessSettings = { classEps: epochFairness.classEps, naturalWeights: epochFairness.naturalWeights, robustWeights: epochFairness.robustWeights, faalRadius: epochFairness.faalRadius };
      if (fairness.kind === 'cfa') {
        record.fawa = fawa;
        record.fawaUpdated = fawaUpdated;
      }
    }
    records.push(record);
    await options.onEpochEnd?.(record);
  }
  return records;
}

type NativeTrainOptions = Parameters<Model['native']['train']>[1];

/**
 * One epoch over streamed data: the epoch's order is cut into chunks of `chunkBatches` batches; a bounded
 * prefetch queue decodes the next chunks while the addon trains on the current one (one native call per
 * chunk, momentum carried in the model). Chunk k's decoding and attack noise derive from (epoch seed, k),
 * so an epoch is reproducible; it differs from the in-memory path only in where the random streams restart.
 */
async function trainStreamedEpoch(
  model: Model,
  data: StreamedTrainData,
  order: Int32Array,
  rates: ArrayLike<number>,
  nativeOptions: NativeTrainOptions,
  options: TrainOptions,
  onProgress?: (progress: NativeProgress) => void,
): Promise<FastPathUsed & { seen: number; lossSum: number; correct: number; seconds: number; dataWaitSeconds: number }> {
  const batchSize = nativeOptions.batchSize;
  const chunkSize = batchSize * (options.chunkBatches ?? DEFAULT_CHUNK_BATCHES);
  const chunkCount = Math.ceil(order.length / chunkSize);
  // Chunk 0 keeps the epoch seed, so a single-chunk epoch trains exactly as the in-memory path does.
  const chunkSeed = (k: number) => (k === 0 ? nativeOptions.seed : (nativeOptions.seed * 1009 + k) % 2 ** 31);
  const producers = Array.from({ length: chunkCount }, (_, k) => () => data.load(order.subarray(k * chunkSize, (k + 1) * chunkSize), chunkSeed(k)));
  const totals: FastPathUsed & { seen: number; lossSum: number; correct: number; seconds: number; dataWaitSeconds: number } =
    { seen: 0, lossSum: 0, correct: 0, seconds: 0, dataWaitSeconds: 0, precision: 'fp32', memoryFormat: 'contiguous' };
  let step = 0;
  let chunkIndex = 0;
  let excluded = 0;
  const started = process.hrtime.bigint();
  let waitStarted = process.hrtime.bigint();
  const chunkBatches = options.chunkBatches ?? DEFAULT_CHUNK_BATCHES;
  const depth = options.prefetchChunks ?? Math.max(DEFAULT_PREFETCH_CHUNKS, Math.ceil(MIN_BATCHES_AHEAD / chunkBatches));
  for await (const chunk of prefetch(producers, depth)) {
    totals.dataWaitSeconds += Number(process.hrtime.bigint() - waitStarted) / 1e9;
    // A skipped file can leave a batch of one, which breaks batch norm in training mode: leave it out.
    const usable = chunk.count % batchSize === 1 && chunk.count > 1 ? chunk.count - 1 : chunk.count;
    // The progress total drops by the images this chunk skipped or left out, so the count ends at its total.
    const requested = Math.min(chunkSize, order.length - chunkIndex * chunkSize);
    excluded += requested - usable;
    const total = order.length - excluded;
    if (usable === 0) {
      onProgress?.({ done: totals.seen, total, lossSum: totals.lossSum, correct: totals.correct });
    } else {
      const steps = Math.ceil(usable / batchSize);
      const chunkRates = Float64Array.from({ length: steps }, (_, i) => rates[Math.min(step + i, rates.length - 1)]);
      const before = { ...totals };
      const result = await model.native.train(
        { images: chunk.images, labels: chunk.labels, order: Int32Array.from({ length: usable }, (_, i) => i), learningRates: chunkRates },
        { ...nativeOptions, seed: chunkSeed(chunkIndex) },
        onProgress &&
          ((progress) => onProgress({ done: before.seen + progress.done, total, lossSum: before.lossSum + progress.lossSum, correct: before.correct + progress.correct })),
      );
      step += steps;
      totals.seen += result.seen;
      totals.lossSum += result.lossSum;
      totals.correct += result.correct;
      totals.precision = result.precision;
      totals.memoryFormat = result.memoryFormat;
    }
    chunkIndex++;
    waitStarted = process.hrtime.bigint();
  }
  totals.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return totals;
}

/** FGSM-RS (Wong et al. 2020): an FGSM training attack defaults to a uniform random start and step 1.25 eps. */
function fgsmRsDefaults(method: string, attackOptions: AttackOptions | undefined): AttackOptions | undefined {
  if (method !== 'fgsm-rs' || !attackOptions || attackOptions.kind !== 'fgsm') return attackOptions;
  const { randomStart, stepSizeTimesEps } = attackDefaults().fgsmRs;
  return { ...attackOptions, randomStart: attackOptions.randomStart ?? randomStart, stepSize: attackOptions.stepSize ?? stepSizeTimesEps * attackOptions.eps };
}
