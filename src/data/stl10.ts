/**
 * STL-10 binary version (https://cs.stanford.edu/~acoates/stl10/): stl10_binary/ with train_X.bin,
 * train_y.bin, test_X.bin, test_y.bin, class_names.txt and optionally unlabeled_X.bin. Images are
 * 3x96x96 uint8, each channel stored column-major; labels are bytes 1..10.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { ImageDataset } from './dataset';
import { DatasetError } from './errors';
import { folderHolding, nameLines, readRequiredFile } from './files';

const SIDE = 96;
const CHANNELS = 3;
const PLANE = SIDE * SIDE;
const IMAGE_BYTES = CHANNELS * PLANE;
const LAYOUT = 'stl10_binary/ (or the folder itself) with train_X.bin, train_y.bin, test_X.bin, test_y.bin, class_names.txt';

function stlFolder(dir: string): string {
  const root = path.resolve(dir);
  const folder = folderHolding([path.join(root, 'stl10_binary'), root], 'class_names.txt') ??
    folderHolding([path.join(root, 'stl10_binary'), root], 'test_X.bin');
  if (!folder) throw new DatasetError('ERR_DATASET_MISSING', `STL-10 not found in ${root} (expected under --data-dir: ${LAYOUT})`);
  return folder;
}

/** Column-major channel planes to row-major NCHW. */
function transposeImages(filePath: string, bytes: Buffer): { images: Uint8Array; count: number } {
  if (bytes.length === 0 || bytes.length % IMAGE_BYTES !== 0) {
    throw new DatasetError(
      'ERR_DATASET_CORRUPT',
      `${filePath} has ${bytes.length} bytes, not a whole number of ${IMAGE_BYTES}-byte images (3x96x96 uint8); the file is truncated, download it again`,
    );
  }
  const count = bytes.length / IMAGE_BYTES;
  const images = new Uint8Array(bytes.length);
  for (let plane = 0; plane < count * CHANNELS; plane++) {
    const base = plane * PLANE;
    for (let column = 0; column < SIDE; column++) {
      for (let row = 0; row < SIDE; row++) images[base + row * SIDE + column] = bytes[base + column * SIDE + row];
    }
  }
  return { images, count };
}

export function loadStl10(split: ImageDataset['split'], dir: string): ImageDataset {
  const folder = stlFolder(dir);
  const classNames = nameLines(readRequiredFile(path.join(folder, 'class_names.txt'), 'STL-10', LAYOUT).toString('utf8'));
  const imagesPath = path.join(folder, `${split}_X.bin`);
  const labelsPath = path.join(folder, `${split}_y.bin`);
  const { images, count } = transposeImages(imagesPath, readRequiredFile(imagesPath, 'STL-10', LAYOUT));
  const labelBytes = readRequiredFile(labelsPath, 'STL-10', LAYOUT);
  if (labelBytes.length !== count) {
    throw new DatasetError('ERR_DATASET_CORRUPT', `${labelsPath} holds ${labelBytes.length} labels but ${imagesPath} holds ${count} images (one label byte per image expected)`);
  }
  const labels = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    const label = labelBytes[n];
    if (label < 1 || label > classNames.length) {
      throw new DatasetError('ERR_DATASET_CORRUPT', `${labelsPath}: label ${label} at index ${n}, expected 1..${classNames.length} (one per line of class_names.txt)`);
    }
    labels[n] = label - 1;
  }
  return { name: 'stl10', split, images, labels, shape: [CHANNELS, SIDE, SIDE], classNames, count, source: `${imagesPath}, ${labelsPath}` };
}

/** The optional unlabeled split (100,000 images in the official download), for semi-supervised use. */
export function loadStl10Unlabeled(dir: string): { images: Uint8Array; count: number; shape: [number, number, number]; source: string } {
  const filePath = path.join(stlFolder(dir), 'unlabeled_X.bin');
  const { images, count } = transposeImages(filePath, readRequiredFile(filePath, 'STL-10 unlabeled', `${LAYOUT}, unlabeled_X.bin`));
  return { images, count, shape: [CHANNELS, SIDE, SIDE], source: filePath };
}
