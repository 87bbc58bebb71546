import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ImageDataset } from './dataset';
import { DatasetError } from './errors';
import { readIdxFile } from './idx';

/**
 * Loads one split of a dataset laid out like MNIST: a folder holding four IDX files,
 * `<prefix>-images-idx3-ubyte` (N x rows x cols bytes) and `<prefix>-labels-idx1-ubyte` (N bytes),
 * with prefix `train` or `t10k`, each either plain or gzipped (`.gz`).
 */

/** What a reader tells the loader about its dataset, for the result and for error messages. */
export interface IdxDatasetDescription {
  /** Name as the CLI spells it, e.g. 'fashion-mnist'. */
  name: string;
  /** Name as people write it, e.g. 'Fashion-MNIST'. */
  displayName: string;
  classNames: string[];
  /** How to get the files, ending "not found" messages, e.g. "install Debian's dataset-fashion-mnist or pass --data-dir". */
  missingFilesHint: string;
}

const FILE_PREFIX_BY_SPLIT: Record<ImageDataset['split'], string> = { train: 'train', test: 't10k' };
const IMAGE_DIMENSION_COUNT = 3;
const LABEL_DIMENSION_COUNT = 1;
const GRAYSCALE_CHANNELS = 1;

/** The uncompressed file names of a split; each may also be present with a `.gz` suffix. */
export function idxFileNames(split: ImageDataset['split']): { images: string; labels: string } {
  const prefix = FILE_PREFIX_BY_SPLIT[split];
  return { images: `${prefix}-images-idx3-ubyte`, labels: `${prefix}-labels-idx1-ubyte` };
}

function describeExpectedFiles(folder: string): string {
  const allNames = (['train', 'test'] as const).flatMap((split) => Object.values(idxFileNames(split)));
  return `expected ${allNames.map((name) => `${name}[.gz]`).join(', ')} in ${folder}`;
}

/** The plain file if present (no gunzip needed), else the gzipped one. */
function findIdxFile(folder: string, fileName: string, description: IdxDatasetDescription): string {
  const plainPath = path.join(folder, fileName);
  if (fs.existsSync(plainPath)) return plainPath;
  const gzippedPath = `${plainPath}.gz`;
  if (fs.existsSync(gzippedPath)) return gzippedPath;
  throw new DatasetError(
    'ERR_DATASET_MISSING',
    `${description.displayName} file not found: ${gzippedPath} ` +
      `(${describeExpectedFiles(folder)}; ${description.missingFilesHint})`,
  );
}

/** Reads the images and labels of `split` from `dir` and checks that they agree with each other and the classes. */
export function loadIdxSplit(
  dir: string,
  split: ImageDataset['split'],
  description: IdxDatasetDescription,
): ImageDataset {
  const folder = path.resolve(dir);
  const folderStats = fs.statSync(folder, { throwIfNoEntry: false });
  if (!folderStats?.isDirectory()) {
    const problem = folderStats ? 'path is not a folder' : 'folder not found';
    throw new DatasetError(
      'ERR_DATASET_MISSING',
      `${description.displayName} ${problem}: ${folder} ` +
        `(${describeExpectedFiles(folder)}; ${description.missingFilesHint})`,
    );
  }

  const fileNames = idxFileNames(split);
  const imagesPath = findIdxFile(folder, fileNames.images, description);
  const labelsPath = findIdxFile(folder, fileNames.labels, description);
  const images = readIdxFile(imagesPath, IMAGE_DIMENSION_COUNT);
  const labelBytes = readIdxFile(labelsPath, LABEL_DIMENSION_COUNT);

  const [imageCount, rows, cols] = images.dims;
  const [labelCount] = labelBytes.dims;
  if (imageCount !== labelCount) {
    throw new DatasetError(
      'ERR_DATASET_CORRUPT',
      `${description.displayName} ${split} split is inconsistent: ${imagesPath} holds ${imageCount} images ` +
        `but ${labelsPath} holds ${labelCount} labels (are both files from the same download?)`,
    );
  }

  const classCount = description.classNames.length;
  const labels = new Int32Array(labelCount);
  for (let index = 0; index < labelCount; index++) {
    const label = labelBytes.data[index];
    if (label >= classCount) {
      throw new DatasetError(
        'ERR_DATASET_CORRUPT',
        `${labelsPath} has label ${label} at index ${index}, expected 0..${classCount - 1} ` +
          `(${description.displayName} has ${classCount} classes); is it a ${description.displayName} labels file?`,
      );
    }
    labels[index] = label;
  }

  return {
    name: description.name,
    split,
    images: images.data,
    labels,
    shape: [GRAYSCALE_CHANNELS, rows, cols],
    classNames: [...description.classNames],
    count: imageCount,
    source: `${imagesPath}, ${labelsPath}`,
  };
}
