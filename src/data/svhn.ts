/**
 * SVHN cropped digits (http://ufldl.stanford.edu/housenumbers/): train_32x32.mat, test_32x32.mat and
 * extra_32x32.mat, level-5 MAT-files holding X (uint8 32x32x3xN, column-major) and y (Nx1, label 10 = digit 0).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { ImageDataset } from './dataset';
import { DatasetError } from './errors';
import { readMatArrays } from './mat';

const SIDE = 32;
const CHANNELS = 3;
const PLANE = SIDE * SIDE;
/** SVHN has no names file: classes are the digits, label 10 of the files being digit 0. */
export const SVHN_CLASSES: readonly string[] = Object.freeze(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
const ZERO_LABEL = 10;

export type SvhnSplit = ImageDataset['split'] | 'extra';
const LAYOUT = 'train_32x32.mat, test_32x32.mat and optionally extra_32x32.mat (the cropped-digits format)';

export function loadSvhn(split: SvhnSplit, dir: string): ImageDataset {
  const filePath = path.join(path.resolve(dir), `${split}_32x32.mat`);
  if (!fs.existsSync(filePath)) {
    throw new DatasetError('ERR_DATASET_MISSING', `SVHN file not found: ${filePath} (expected under --data-dir: ${LAYOUT})`);
  }
  const arrays = readMatArrays(filePath, ['X', 'y']);
  const x = arrays.get('X')!;
  const y = arrays.get('y')!;
  if (x.dims.length !== 4 || x.dims[0] !== SIDE || x.dims[1] !== SIDE || x.dims[2] !== CHANNELS || !(x.data instanceof Uint8Array)) {
    throw new DatasetError(
      'ERR_DATASET_CORRUPT',
      `${filePath}: X is ${x.dims.join('x')} ${x.data instanceof Uint8Array ? 'uint8' : 'non-uint8'}, expected uint8 32x32x3xN (SVHN cropped digits)`,
    );
  }
  const count = x.dims[3];
  if (y.data.length !== count) {
    throw new DatasetError('ERR_DATASET_CORRUPT', `${filePath}: X holds ${count} images but y holds ${y.data.length} labels`);
  }
  const labels = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    const value = y.data[n];
    if (!Number.isInteger(value) || value < 0 || value > ZERO_LABEL) {
      throw new DatasetError('ERR_DATASET_CORRUPT', `${filePath}: y(${n + 1}) is ${value}, expected 1..10 (10 = digit 0)`);
    }
    labels[n] = value % ZERO_LABEL;
  }
  // Column-major X(row, column, channel, n): each plane is stored column by column; NCHW wants rows.
  const images = new Uint8Array(count * CHANNELS * PLANE);
  const source = x.data;
  for (let plane = 0; plane < count * CHANNELS; plane++) {
    const base = plane * PLANE;
    for (let column = 0; column < SIDE; column++) {
      for (let row = 0; row < SIDE; row++) images[base + row * SIDE + column] = source[base + column * SIDE + row];
    }
  }
  return {
    name: 'svhn',
    split: split === 'extra' ? 'train' : split,
    images,
    labels,
    shape: [CHANNELS, SIDE, SIDE],
    classNames: [...SVHN_CLASSES],
    count,
    source: filePath,
  };
}
