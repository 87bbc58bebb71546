/**
 * The one loader of a run's data, used by train, evaluate, every study experiment and class removal: the
 * dataset's split, the run's class subset and CIFAR-100 label set, N per class, streamed ImageNet decoded with
 * the evaluation transform for testing. In-memory sets are handed to the addon once (loadIntoNative).
 */
import { ImageDataset } from '../data/dataset';
import { DatasetName, loadDataset, loadFolderDataset, STREAMED_DATASETS } from '../data/index';
import { decodeBatch, decodeToMemory, DecodedBatch, DecodeErrorPolicy, ImageFolderDataset } from '../data/imagenet';
import { prefetch } from '../data/prefetch';
import { loadIntoNative, NativeImageSet } from '../data/native-dataset';
import { pageLocalOrder } from '../data/pack';
import { holdOutPerClass, restrictToClasses, takePerClass } from '../data/subset';
import { ClasswiseError, DatasetError } from '../errors';
import { RECIPES } from '../recipes';
import { validationPerClass } from '../train/fairness';
import { StreamedTrainData } from '../train/trainer';
import { RunConfig } from './config';

/** Training data of a run: in memory (and in the addon), or image files decoded while training (ImageNet). */
export type RunTrainData = NativeImageSet | ImageFolderDataset;

/** Where a run's data comes from; the run's RunConfig or a checkpoint's saved one (older runs lack some fields). */
export type RunDataSettings = Pick<RunConfig, 'dataset'> & Partial<Pick<RunConfig, 'dataDir' | 'dataPacks' | 'cifar100Labels' | 'classes' | 'imageSize' | 'onDecodeError'>>;

export type SkipReporter = (file: string, message: string) => void;

/** A SkipReporter that hands `log` one warning line per skipped file. */
export function skipWarnings(log: (line: string) => void): SkipReporter {
  return (file, message) => log(`warning: skipped ${file}: ${message}`);
}

/** One split as the run sees it: class subset first, then N per class. Streamed datasets stay undecoded. */
export function loadRunSplit(config: RunDataSettings, split: ImageDataset['split'], perClass: number | null, seed: number): ImageDataset | ImageFolderDataset {
  const dataset = config.dataset as DatasetName;
  const options = { dataDir: config.dataDir, dataPacks: config.dataPacks, cifar100Labels: config.cifar100Labels, imageSize: config.imageSize ?? RECIPES[dataset]?.imageSize };
  let data: ImageDataset | ImageFolderDataset = STREAMED_DATASETS.includes(dataset)
    ? loadFolderDataset(dataset, split, options)
    : loadDataset(dataset, split, options);
  if (config.classes && config.classes.length > 0) data = restrictToClasses(data, config.classes);
  return perClass === null ? data : takePerClass(data, perClass, seed);
}

/**
 * The run's test examples in memory and in the addon: `perClass` per class (null: all) drawn with `seed`; the
 * run's own evaluation subset is (config.evalPerClass, config.seed + 1). A streamed set is decoded for evaluation.
 */
export async function loadRunTestSet(config: RunDataSettings, perClass: number | null, seed: number, onSkip?: SkipReporter): Promise<NativeImageSet> {
  const data = loadRunSplit(config, 'test', perClass, seed);
  return loadIntoNative('files' in data ? await decodeToMemory(data, config.onDecodeError ?? 'fail', onSkip) : data);
}

/** Decoded chunks prefetched ahead of the evaluation of a streamed test set: memory stays at this many chunks. */
export const EVALUATION_PREFETCH_CHUNKS = 3;

/** Whether a run's test split is streamed from files (ImageNet) rather than held in memory. */
export function isStreamedDataset(config: RunDataSettings): boolean {
  return STREAMED_DATASETS.includes(config.dataset as DatasetName);
}

/**
 * The whole test split of a streamed dataset (ImageNet folder or pack), decoded with the evaluation transform
 * `chunkSize` images at a time, `depth` chunks ahead of the consumer (evaluateStream).
 */
export function streamRunTestSet(config: RunDataSettings, chunkSize: number, onSkip?: SkipReporter, depth = EVALUATION_PREFETCH_CHUNKS): { data: ImageFolderDataset; chunks: AsyncIterable<DecodedBatch>; ahead: () => number } {
  const data = loadRunSplit(config, 'test', null, 0);
  if (!('files' in data)) throw new ClasswiseError('ERR_INVALID_ARGUMENT', `${config.dataset} is held in memory; stream only ImageNet`);
  return { data, ...streamEvaluationChunks(data, chunkSize, config.onDecodeError ?? 'fail', onSkip, depth) };
}

/**
 * Any folder dataset (a test split, or a selection of its files) decoded with the evaluation transform `chunkSize`
 * images at a time, in order, `depth` chunks ahead of the consumer. Each call starts a new pass.
 */
export function streamEvaluationChunks(data: ImageFolderDataset, chunkSize: number, policy: DecodeErrorPolicy, onSkip?: SkipReporter, depth = EVALUATION_PREFETCH_CHUNKS): { chunks: AsyncIterable<DecodedBatch>; ahead: () => number } {
  const chunkCount = Math.ceil(data.count / chunkSize);
  let started = 0;
  let handedOver = 0;
  const producers = Array.from({ length: chunkCount }, (_, k) => async () => {
    started++;
    const indices = Int32Array.from({ length: Math.min(chunkSize, data.count - k * chunkSize) }, (_, i) => k * chunkSize + i);
    const batch = await decodeBatch(data, indices, { augment: false, onDecodeError: policy });
    for (const { file, message } of batch.skipped) onSkip?.(file, message);
    return batch;
  });
  async function* counted(): AsyncGenerator<DecodedBatch> {
    for await (const chunk of prefetch(producers, depth)) {
      handedOver++;
      yield chunk;
    }
  }
  // ahead(): chunks decoded or decoding beyond those handed to the evaluation (the prefetch depth while any remain).
  return { chunks: counted(), ahead: () => started - handedOver };
}

/** The evaluation subset a run measured every epoch, so that later numbers line up with metrics.jsonl. */
export function runTestSubset(config: RunConfig, perClass?: number | null): { perClass: number | null; seed: number } {
  return { perClass: perClass === undefined ? config.evalPerClass : perClass, seed: config.seed + 1 };
}

/** Everything a run trains and evaluates on, each in-memory set handed to the addon once. */
/** Whether a run carves a validation split out of its training data (fairness methods, selection on validation). */
export function runUsesValidation(config: RunConfig): boolean {
  return config.fairness !== undefined || config.selectOn === 'validation';
}

export async function loadRunData(config: RunConfig, onSkip?: SkipReporter): Promise<{ train: RunTrainData; test: NativeImageSet; heldOut?: NativeImageSet; validation?: NativeImageSet }> {
  let train = loadRunSplit(config, 'train', null, config.seed);
  let heldOut: ImageDataset | undefined;
  if (config.mitigation === 'auto') {
    if ('files' in train) {
      throw new ClasswiseError('ERR_INVALID_ARGUMENT', `--mitigate auto needs a dataset held in memory; ${config.dataset} is streamed`);
    }
    ({ kept: train, heldOut } = holdOutPerClass(train, config.mitigationPerClass ?? 100, config.seed + 2));
  }
  let validation: ImageDataset | undefined;
  if (runUsesValidation(config)) {
    if ('files' in train) {
      throw new ClasswiseError('ERR_INVALID_ARGUMENT', `a validation split (--fairness, --select-on validation) needs a dataset held in memory; ${config.dataset} is streamed`);
    }
    const counts = new Array<number>(train.classNames.length).fill(0);
    for (const label of train.labels) counts[label] += 1;
    const smallest = counts.indexOf(Math.min(...counts));
    const size = validationPerClass(config.fairness?.kind, config.validationPerClass, counts[smallest], train.classNames[smallest]);
    // Carved from the training split by seed, before the training subset is drawn: never from the test set.
    ({ kept: train, heldOut: validation } = holdOutPerClass(train, size, config.seed + 3));
  }
  if (config.trainPerClass !== null) train = takePerClass(train, config.trainPerClass, config.seed);
  const { perClass, seed } = runTestSubset(config);
  // The training set goes into the addon first, then the test set (the order the addon's copies are made in).
  const trainData = 'files' in train ? train : loadIntoNative(train);
  const test = await loadRunTestSet(config, perClass, seed, onSkip);
  if (JSON.stringify(train.classNames) !== JSON.stringify(test.classNames)) {
    throw new DatasetError('ERR_DATASET_CORRUPT', `the training data (${train.source}) has ${train.classNames.length} classes, the test data (${test.source}) ${test.classNames.length}, not the same list; pack both splits from the same --data-dir`);
  }
  return {
    train: trainData,
    test,
    heldOut: heldOut && loadIntoNative(heldOut),
    validation: validation && loadIntoNative(validation),
  };
}

/** Streamed training data: each chunk decoded with random-resized crop and flip, seeded per chunk. */
export function streamedTrainData(data: ImageFolderDataset, policy: DecodeErrorPolicy, onSkip?: SkipReporter): StreamedTrainData {
  const pack = data.pack;
  return {
    count: data.count,
    // A pack is read in a page-local order: its blocks shuffled, then the images of a few blocks at a time.
    epochOrder: pack && ((seed) => pageLocalOrder(Int32Array.from(pack.entries, (entry) => pack.index.blockOf[entry]), seed)),
    load: async (indices, seed) => {
      const batch = await decodeBatch(data, indices, { augment: true, seed, onDecodeError: policy });
      for (const { file, message } of batch.skipped) onSkip?.(file, message);
      return batch;
    },
  };
}
