import { imageSize, type ImageDataset } from './dataset';
import { shuffledIndices } from './random';

/** A new dataset holding copies of the given examples, in the given order. */
export function selectExamples(dataset: ImageDataset, indices: ArrayLike<number>, sourceNote: string): ImageDataset {
  const bytesPerImage = imageSize(dataset);
  const images = new Uint8Array(indices.length * bytesPerImage);
  const labels = new Int32Array(indices.length);
  for (let position = 0; position < indices.length; position++) {
    const index = indices[position];
    if (!Number.isInteger(index) || index < 0 || index >= dataset.count) {
      throw new RangeError(`example index ${index} is outside [0, ${dataset.count}) of ${dataset.name} ${dataset.split}`);
    }
    const start = index * bytesPerImage;
    images.set(dataset.images.subarray(start, start + bytesPerImage), position * bytesPerImage);
    labels[position] = dataset.labels[index];
  }
  return {
    ...dataset,
    images,
    labels,
    shape: [...dataset.shape],
    classNames: [...dataset.classNames],
    count: indices.length,
    source: `${dataset.source}; ${sourceNote}`,
  };
}

function checkCount(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
}

/**
 * At most `perClass` examples of each class, chosen by a seeded shuffle; the result keeps the shuffled order,
 * so classes are interleaved. A class with fewer examples contributes all of them.
 */
export function takePerClass(dataset: ImageDataset, perClass: number, seed: number): ImageDataset {
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
  return selectExamples(dataset, chosen, `${perClass} per class (seed ${seed})`);
}

/** The first `count` examples (all of them if there are fewer), in their original order. */
export function takeFirst(dataset: ImageDataset, count: number): ImageDataset {
  checkCount('count', count);
  const taken = Math.min(count, dataset.count);
  const indices = Array.from({ length: taken }, (_, index) => index);
  return selectExamples(dataset, indices, `first ${taken}`);
}
