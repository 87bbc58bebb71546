/**
 * Class-wise evaluation: one native call over the whole set returns confusion matrices and per-class
 * statistics; this module turns them into accuracies per class.
 */
import { AttackOptions, describeAttack, EnsembleReport, ensembleStages, stageNames, toNativeAttack } from './attack';
import { ImageDataset } from './data/dataset';
import { nativeData } from './data/native-dataset';
import { defaultProcessGroup, ProcessGroup } from './distributed/group';
import { checkDatasetMatch } from './dataset-match';
import { invalidArgument } from './errors';
import { FastPathOptions, FastPathUsed, nativeFastPath } from './fast-path';
import { Model } from './model';
import { NativeDatasetHandle, NativeEvaluation, ProgressCallback } from './native';

export interface EvaluateOptions extends FastPathOptions {
  /** null or omitted: clean evaluation only. */
  attack?: AttackOptions | null;
  batchSize?: number;
  seed?: number;
  /** Class-wise mitigation at inference: added to the logits (one value per class); attacks see it too. */
  logitBias?: number[];
  /**
   * Also run TRADES' inner maximisation (PGD on KL(p(x) || p(x')) from x + N(0, 0.001^2), in eval mode) with this
   * pgd attack's eps, steps and stepSize, and return each class's mean KL as `meanTradesKl` (WAT's validation loss
   * is meanLoss + beta * meanTradesKl). Its start noise is drawn apart from `attack`'s, which it leaves unchanged.
   */
  tradesAttack?: AttackOptions;
  onProgress?: ProgressCallback;
  /**
   * Data parallelism: rank r attacks batches r, r + W, ... and the counts, confusion matrices, losses, gradient
   * norms and predictions are summed natively, so every rank returns the one-process result. Default: the group
   * set by setDefaultProcessGroup, if any.
   */
  processGroup?: ProcessGroup;
  /** Evaluate data of another dataset, class names or input shape than the model was trained on (refused by default). */
  allowDatasetMismatch?: boolean;
}

/** `precision` and `memoryFormat` say what the evaluation ran with ('auto' resolved). */
export interface ClassEvaluation extends FastPathUsed {
  attackLabel: string;
  classNames: string[];
  /** Test examples per class. */
  counts: number[];
  /** Share classified correctly; NaN for a class with no test examples (null in JSON): not available. */
  cleanAccuracy: number[];
  /**
   * Share of ALL examples of the class classified correctly both clean and under attack, so never above clean;
   * NaN for a class with no test examples, like cleanAccuracy.
   */
  robustAccuracy: number[];
  /** [true][predicted] counts. */
  cleanConfusion: number[][];
  adversarialConfusion: number[][];
  /** Mean clean cross-entropy of each class's examples. */
  meanLoss: number[];
  /** Mean L2 norm of the input gradient of the clean loss, per class. */
  meanGradientNorm: number[];
  /** With options.tradesAttack: mean KL(p(x) || p(x')) of each class's examples, x' from TRADES' inner maximisation. */
  meanTradesKl?: number[];
  /** L2 norm of each class's row of the final linear layer. */
  weightNorms: number[];
  cleanPredictions: Int32Array;
  adversarialPredictions: Int32Array;
  overall: { clean: number; robust: number };
  /** 'autoattack' only: which stages ran (never the standard cascade: FAB-T is missing) and per example which broke it. */
  ensemble?: EnsembleReport & {
    /** [class][stage]: examples of the class first broken by each stage that ran, in attacksRun order. */
    brokenPerClass: number[][];
  };
  seconds: number;
}

function square(flat: Int32Array, classes: number): number[][] {
  return Array.from({ length: classes }, (_, row) => Array.from(flat.subarray(row * classes, (row + 1) * classes)));
}

export async function evaluate(
  model: Model,
  data: Pick<ImageDataset, 'images' | 'labels'> & Partial<Pick<ImageDataset, 'name' | 'classNames' | 'shape'>> & { native?: NativeDatasetHandle },
  options: EvaluateOptions = {},
): Promise<ClassEvaluation> {
  if (!(model instanceof Model)) throw invalidArgument('evaluate needs a Model as its first argument (Model.create or Model.load)');
  if (!data || typeof data !== 'object') throw invalidArgument('evaluate data must be a dataset { images: Uint8Array, labels: Int32Array } (e.g. loadDataset(...))');
  if (options === null || typeof options !== 'object') throw invalidArgument('evaluate options must be an object such as { attack: { kind: "pgd", eps: 0.1 } }');
  checkDatasetMatch(model, data, options.allowDatasetMismatch);
  if (options.tradesAttack !== undefined && (options.tradesAttack === null || typeof options.tradesAttack !== 'object' || options.tradesAttack.kind !== 'pgd')) {
    throw invalidArgument(`evaluate options.tradesAttack is ${JSON.stringify(options.tradesAttack)}; pass a pgd attack such as { kind: "pgd", eps: 0.1, steps: 10 } (TRADES' inner maximisation uses its eps, steps and stepSize)`);
  }
  const classes = model.numClasses;
  const raw = await model.native.evaluate(
    nativeData(data),
    {
      attack: toNativeAttack(options.attack),
      tradesAttack: options.tradesAttack && toNativeAttack(options.tradesAttack),
      batchSize: options.batchSize ?? 256,
      seed: options.seed ?? 0,
      logitBias: options.logitBias && Float64Array.from(options.logitBias),
      processGroup: (options.processGroup ?? defaultProcessGroup())?.native,
      ...nativeFastPath(options, options.attack?.kind),
    },
    options.onProgress,
  );
  return classEvaluation(model, raw, data.labels, options);
}

/** Accuracies per class from the native sums (one call's, or a stream's added up). */
function classEvaluation(model: Model, raw: NativeEvaluation, labels: ArrayLike<number>, options: EvaluateOptions): ClassEvaluation {
  const classes = model.numClasses;
  const cleanConfusion = square(raw.cleanConfusion, classes);
  const adversarialConfusion = square(raw.adversarialConfusion, classes);
  const counts = cleanConfusion.map((row) => row.reduce((a, b) => a + b, 0));
  const perClass = (value: (k: number) => number) => counts.map((n, k) => (n > 0 ? value(k) / n : 0));
  // A class without test examples has no accuracy: NaN (not available), never a 0 that reads as "always wrong".
  const share = (value: (k: number) => number) => counts.map((n, k) => (n > 0 ? value(k) / n : NaN));
  const total = counts.reduce((a, b) => a + b, 0);
  const diagonal = (m: number[][]) => m.reduce((sum, row, k) => sum + row[k], 0);
  let ensemble: ClassEvaluation['ensemble'];
  if (options.attack?.kind === 'autoattack' && raw.brokenBy) {
    const stages = ensembleStages(options.attack, classes);
    const brokenBy = stageNames(raw.brokenBy, stages.attacksRun);
    const brokenPerClass = Array.from({ length: classes }, () => stages.attacksRun.map(() => 0));
    brokenBy.forEach((stage, i) => {
      const column = stage === null || stage === 'clean' ? -1 : stages.attacksRun.indexOf(stage);
      if (column >= 0) brokenPerClass[labels[i]][column] += 1;
    });
    ensemble = { ...stages, brokenBy, brokenPerClass };
  }
  return {
    ensemble,
    attackLabel: describeAttack(options.attack),
    classNames: model.config.classNames,
    counts,
    cleanAccuracy: share((k) => cleanConfusion[k][k]),
    robustAccuracy: share((k) => adversarialConfusion[k][k]),
    cleanConfusion,
    adversarialConfusion,
    meanLoss: perClass((k) => raw.cleanLossSum[k]),
    meanGradientNorm: perClass((k) => raw.gradientNormSum[k]),
    ...(raw.tradesKlSum ? { meanTradesKl: perClass((k) => raw.tradesKlSum![k]) } : {}),
    weightNorms: Array.from(raw.weightNorms),
    cleanPredictions: raw.cleanPredictions,
    adversarialPredictions: raw.adversarialPredictions,
    overall: { clean: total ? diagonal(cleanConfusion) / total : 0, robust: total ? diagonal(adversarialConfusion) / total : 0 },
    seconds: raw.seconds,
    precision: raw.precision,
    memoryFormat: raw.memoryFormat,
  };
}

/** One chunk of a streamed evaluation set, decoded for evaluation. */
export interface EvaluationChunk {
  images: Uint8Array;
  labels: Int32Array;
  count: number;
}

/**
 * evaluate() over a set too large for memory: `chunks` yields it batch by batch (e.g. a prefetch of decoded
 * ImageNet batches), each attacked by one native call with the chunk's own seed (seed for chunk 0, as one call over
 * the whole set, then derived per chunk); counts, confusion matrices, loss and gradient sums and predictions are
 * added up, so memory stays at the chunks in flight. Chunks of whole batches give evaluate()'s result exactly
 * for attacks without random starts.
 */
export async function evaluateStream(
  model: Model,
  data: { classNames: string[]; shape: [number, number, number]; name?: string; count: number },
  chunks: AsyncIterable<EvaluationChunk>,
  options: EvaluateOptions = {},
): Promise<ClassEvaluation> {
  if (!(model instanceof Model)) throw invalidArgument('evaluate needs a Model as its first argument (Model.create or Model.load)');
  checkDatasetMatch(model, data, options.allowDatasetMismatch);
  const classes = model.numClasses;
  const sum: NativeEvaluation = {
    cleanConfusion: new Int32Array(classes * classes),
    adversarialConfusion: new Int32Array(classes * classes),
    cleanLossSum: new Float64Array(classes),
    gradientNormSum: new Float64Array(classes),
    cleanPredictions: new Int32Array(data.count),
    adversarialPredictions: new Int32Array(data.count),
    weightNorms: new Float64Array(classes),
    seconds: 0,
    precision: 'fp32',
    memoryFormat: 'contiguous',
  };
  const labels = new Int32Array(data.count);
  const brokenBy: number[] = [];
  let done = 0;
  let chunkIndex = 0;
  for await (const chunk of chunks) {
    if (done + chunk.count > data.count) throw invalidArgument(`the evaluation stream yielded more than the ${data.count} examples it announced`);
    const seed = chunkIndex === 0 ? options.seed ?? 0 : ((options.seed ?? 0) * 1009 + chunkIndex) % 2 ** 31;
    const before = done;
    const raw = await model.native.evaluate(
      { images: chunk.images, labels: chunk.labels },
      {
        attack: toNativeAttack(options.attack),
        batchSize: options.batchSize ?? 256,
        seed,
        logitBias: options.logitBias && Float64Array.from(options.logitBias),
        processGroup: (options.processGroup ?? defaultProcessGroup())?.native,
        ...nativeFastPath(options, options.attack?.kind),
      },
      options.onProgress && ((progress) => options.onProgress!({ ...progress, done: before + progress.done, total: data.count })),
    );
    for (let v = 0; v < sum.cleanConfusion.length; v++) {
      sum.cleanConfusion[v] += raw.cleanConfusion[v];
      sum.adversarialConfusion[v] += raw.adversarialConfusion[v];
    }
    for (let k = 0; k < classes; k++) {
      sum.cleanLossSum[k] += raw.cleanLossSum[k];
      sum.gradientNormSum[k] += raw.gradientNormSum[k];
    }
    sum.cleanPredictions.set(raw.cleanPredictions, done);
    sum.adversarialPredictions.set(raw.adversarialPredictions, done);
    labels.set(chunk.labels.subarray(0, chunk.count), done);
    if (raw.brokenBy) brokenBy.push(...raw.brokenBy);
    sum.weightNorms = raw.weightNorms;
    sum.seconds += raw.seconds;
    sum.precision = raw.precision;
    sum.memoryFormat = raw.memoryFormat;
    done += chunk.count;
    chunkIndex++;
  }
  // Files skipped while decoding leave the stream shorter than announced.
  const result: NativeEvaluation = {
    ...sum,
    cleanPredictions: sum.cleanPredictions.slice(0, done),
    adversarialPredictions: sum.adversarialPredictions.slice(0, done),
    brokenBy: brokenBy.length > 0 ? Int32Array.from(brokenBy) : undefined,
  };
  return classEvaluation(model, result, labels.subarray(0, done), options);
}
