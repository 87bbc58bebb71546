import { imageSize, type ImageDataset } from './dataset';
import { selectFiles, type ImageFolderDataset } from './imagenet';
import { shuffledIndices } from './random';
import { invalidArgument, outOfRange } from '../errors';

/** Either kind of dataset: in memory, or image files decoded batch by batch. */
type AnyDataset = ImageDataset | ImageFolderDataset;

function isFolderDataset(dataset: AnyDataset): dataset is ImageFolderDataset {
  return 'files' in dataset;
}

function select<D extends AnyDataset>(dataset: D, indices: number[], note: string): D {
  return (isFolderDataset(dataset) ? selectFiles(dataset, indices, note) : selectExamples(dataset as ImageDataset, indices, note)) as D;
}

/** A new dataset holding copies of the given examples, in the given order. */
export function selectExamples(dataset: ImageDataset, indices: ArrayLike<number>, sourceNote: string): ImageDataset {
  const bytesPerImage = imageSize(dataset);
  const images = new Uint8Array(indices.length * bytesPerImage);
  const labels = new Int32Array(indices.length);
  for (let position = 0; position < indices.length; position++) {
    const index = indices[position];
    if (!Number.isInteger(index) || index < 0 || index >= dataset.count) {
      throw outOfRange(`example index ${index} is outside [0, ${dataset.count}) of ${dataset.name} ${dataset.split}`);
    }
    const start = index * bytesPerImage;
    images.set(dataset.images.subarray(start, start + bytesPerImage), position * bytesPerImage);
    labels[position] = dataset.labels[index];
  }
  // A native handle (loadIntoNative) holds the whole set: the subset must not carry it along.
  const { native: _handle, ...rest } = dataset as ImageDataset & { native?: unknown };
  return {
    ...rest,
    images,
    labels,
    shape: [...dataset.shape],
    classNames: [...dataset.classNames],
    count: indices.length,
    source: `${dataset.source}; ${sourceNote}`,
  };
}

function checkCount(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) throw outOfRange(`${name} must be a non-negative integer, got ${value}`);
}

/**
 * At most `perClass` examples of each class, chosen by a seeded shuffle; the result keeps the shuffled order,
 * so classes are interleaved. A class with fewer examples contributes all of them.
 */
export function takePerClass<D extends AnyDataset>(dataset: D, perClass: number, seed: number): D {
  checkDataset(dataset, 'takePerClass');
  checkCount('perClass', perClass);
  const takenPerClass = new Int32Array(dataset.classNames.length);
  const chosen: number[] = [];
  for (const index of shuffledIndices(dataset.count, seed)) {
    const label = dataset.labels[index];
    if (takenPerClass[label] < perClass) {
      takenPerClass[label]++;
      chosen.push(index);
    }
  }
  return select(dataset, chosen, `${perClass} per class (seed ${seed})`);
}

function checkDataset(dataset: unknown, caller: string): void {
  if (!dataset || typeof dataset !== 'object' || !Array.isArray((dataset as AnyDataset).classNames) || !((dataset as AnyDataset).labels instanceof Int32Array)) {
    throw invalidArgument(`${caller} needs a dataset (from loadDataset or a reader) as its first argument`);
  }
}

/** The first `count` examples (all of them if there are fewer), in their original order. */
export function takeFirst(dataset: ImageDataset, count: number): ImageDataset {
  checkCount('count', count);
  const taken = Math.min(count, dataset.count);
  const indices = Array.from({ length: taken }, (_, index) => index);
  return selectExamples(dataset, indices, `first ${taken}`);
}

/**
 * Keeps only the chosen classes (by index or name), in the order given, with labels remapped to 0..k-1 and
 * names kept. `originalClass[newLabel]` maps back. Class-removal retraining and quick runs use this.
 */
export function restrictToClasses<D extends AnyDataset>(
  dataset: D,
  classes: ReadonlyArray<number | string>,
): D & { originalClass: number[] } {
  checkDataset(dataset, 'restrictToClasses');
  if (!Array.isArray(classes)) throw invalidArgument('restrictToClasses needs the classes to keep, e.g. ["cat", "dog"] or [3, 5]');
  const originalClass = classes.map((wanted) => {
    const index = typeof wanted === 'number' ? wanted : dataset.classNames.indexOf(wanted);
    if (!Number.isInteger(index) || index < 0 || index >= dataset.classNames.length) {
      throw outOfRange(
        `class ${JSON.stringify(wanted)} is not a class of ${dataset.name}; accepted: 0..${dataset.classNames.length - 1} or ${dataset.classNames.map((n) => JSON.stringify(n)).join(', ')}`,
      );
    }
    return index;
  });
  if (new Set(originalClass).size !== originalClass.length) {
    throw outOfRange(`classes ${JSON.stringify(classes)} name a class twice`);
  }
  const newLabel = new Map(originalClass.map((original, position) => [original, position]));
  const kept: number[] = [];
  for (let index = 0; index < dataset.count; index++) if (newLabel.has(dataset.labels[index])) kept.push(index);
  const subset = select(dataset, kept, `classes ${originalClass.map((k) => dataset.classNames[k]).join(', ')}`);
  for (let position = 0; position < subset.count; position++) subset.labels[position] = newLabel.get(subset.labels[position])!;
  const restricted = { ...subset, classNames: originalClass.map((k) => dataset.classNames[k]), originalClass };
  if (isFolderDataset(subset)) (restricted as ImageFolderDataset).classIds = originalClass.map((k) => (dataset as ImageFolderDataset).classIds[k]);
  return restricted;
}

/** Splits off the first `perClass` examples of each class in a seeded order (a held-out split); the rest is kept. */
export function holdOutPerClass(dataset: ImageDataset, perClass: number, seed: number): { kept: ImageDataset; heldOut: ImageDataset } {
  checkCount('perClass', perClass);
  const takenPerClass = new Int32Array(dataset.classNames.length);
  const held: number[] = [];
  const kept: number[] = [];
  for (const index of shuffledIndices(dataset.count, seed)) {
    const label = dataset.labels[index];
    if (takenPerClass[label] < perClass) {
      takenPerClass[label] += 1;
      held.push(index);
    } else {
      kept.push(index);
    }
  }
  kept.sort((a, b) => a - b);
  return {
    kept: selectExamples(dataset, kept, `without a held-out split of ${perClass} per class`),
    heldOut: selectExamples(dataset, held, `held-out split of ${perClass} per class (seed ${seed})`),
  };
}
