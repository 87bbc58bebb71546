/**
 * The study's test images: a subset in memory (and in the addon), or, for a streamed dataset (ImageNet folder or
 * pack) studied on every test image, the image files decoded chunk by chunk at each evaluation, so memory stays
 * at the prefetched chunks instead of the whole split (50,000 x 224 x 224 x 3 bytes = 7.5 GB for ImageNet's val
 * split). Every experiment evaluates either kind through evaluateTestImages.
 */
import { ImageDataset } from '../data/dataset';
import { DecodeErrorPolicy, ImageFolderDataset, selectFiles } from '../data/imagenet';
import { loadIntoNative, NativeImageSet } from '../data/native-dataset';
import { restrictToClasses, selectExamples } from '../data/subset';
import { defaultProcessGroup } from '../distributed/group';
import { ClassEvaluation, evaluate, evaluateStream, EvaluateOptions } from '../evaluate';
import { Model } from '../model';
import { isStreamedDataset, loadRunSplit, loadRunTestSet, RunDataSettings, SkipReporter, streamEvaluationChunks } from '../run/data';

/** Test images decoded from their files at each evaluation; the labels are known without decoding. */
export interface StreamedTestImages {
  name: string;
  classNames: string[];
  shape: [number, number, number];
  count: number;
  labels: Int32Array;
  source: string;
  /** The image files (or pack entries) and their labels, in the order evaluations see them. */
  folder: ImageFolderDataset;
  onDecodeError: DecodeErrorPolicy;
  /** Called once per file that could not be decoded (under onDecodeError 'skip'), however often it is read. */
  onSkip?: SkipReporter;
}

/** What evaluate() takes: images and labels in memory, with the addon's handle when they were handed over. */
export type InMemoryTestImages = Parameters<typeof evaluate>[1];

/** The study's test images, in memory or streamed. */
export type TestImages = InMemoryTestImages | StreamedTestImages;

export function isStreamedTestImages(data: TestImages): data is StreamedTestImages {
  return 'folder' in data;
}

/** "N imagenet test images streamed from SOURCE": the line a study logs when it streams. */
export function describeStreamed(data: StreamedTestImages): string {
  return `${data.count} ${data.name} test images streamed from ${data.source}`;
}

/** A folder dataset as streamed test images; skip warnings are reported once per file over every pass. */
export function streamedTestImages(folder: ImageFolderDataset, onDecodeError: DecodeErrorPolicy, onSkip?: SkipReporter): StreamedTestImages {
  const reported = new Set<string>();
  const reportOnce: SkipReporter | undefined = onSkip && ((file, message) => {
    if (reported.has(file)) return;
    reported.add(file);
    onSkip(file, message);
  });
  return {
    name: folder.name,
    classNames: folder.classNames,
    shape: folder.shape,
    count: folder.count,
    labels: folder.labels,
    source: folder.source,
    folder,
    onDecodeError,
    onSkip: reportOnce,
  };
}

/**
 * The run's test images for the study: `perClass` per class drawn with `seed` into memory, or, when `perClass` is
 * null (all) and the dataset is streamed (ImageNet), the whole split streamed: the rule `evaluate --per-class` follows.
 */
export async function loadTestImages(config: RunDataSettings, perClass: number | null, seed: number, onSkip?: SkipReporter): Promise<NativeImageSet | StreamedTestImages> {
  if (perClass === null && isStreamedDataset(config)) {
    const folder = loadRunSplit(config, 'test', null, seed);
    if ('files' in folder) return streamedTestImages(folder, config.onDecodeError ?? 'fail', onSkip);
  }
  return loadRunTestSet(config, perClass, seed, onSkip);
}

/**
 * evaluate() on either kind. A streamed set is decoded in chunks of one batch per rank (evaluateStream), so
 * attacks without random starts give exactly the numbers of the same images in memory.
 */
export async function evaluateTestImages(model: Model, data: TestImages, options: EvaluateOptions = {}): Promise<ClassEvaluation> {
  if (!isStreamedTestImages(data)) return evaluate(model, data, options);
  const worldSize = (options.processGroup ?? defaultProcessGroup())?.worldSize ?? 1;
  const { chunks } = streamEvaluationChunks(data.folder, (options.batchSize ?? 256) * worldSize, data.onDecodeError, data.onSkip);
  return evaluateStream(model, data, chunks, options);
}

/**
 * The examples `indices`, in that order: copied into the addon, or the same files streamed; `relabelled` gives
 * them other labels and class names (e.g. those of a model of fewer classes).
 */
export function selectTestImages(
  data: NativeImageSet | StreamedTestImages,
  indices: ArrayLike<number>,
  note: string,
  relabelled?: { labels: Int32Array; classNames: string[] },
): NativeImageSet | StreamedTestImages {
  if (isStreamedTestImages(data)) return streamedTestImages({ ...selectFiles(data.folder, indices, note), ...relabelled }, data.onDecodeError, data.onSkip);
  return loadIntoNative({ ...selectExamples(data as ImageDataset, indices, note), ...relabelled });
}

/** Only the classes `kept`, labels remapped to 0..k-1 (restrictToClasses). */
export function restrictTestImages(data: NativeImageSet | StreamedTestImages, kept: number[]): NativeImageSet | StreamedTestImages {
  if (isStreamedTestImages(data)) return streamedTestImages(restrictToClasses(data.folder, kept), data.onDecodeError, data.onSkip);
  return loadIntoNative(restrictToClasses(data as ImageDataset, kept));
}
