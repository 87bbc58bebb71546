import * as fs from 'node:fs';
import * as path from 'node:path';

import { loadDataset, loadSvhn, readMatArrays, SVHN_CLASSES } from '../../src/data';
import { fixtureImages, matFile, svhnMat } from './fixtures/official-formats';
import { makeTempFolder, sameBytes, thrownBy } from './idx-fixtures';

const DIGITS = [1, 0, 9, 5, 0, 3, 7];

let temp: ReturnType<typeof makeTempFolder>;
beforeEach(() => (temp = makeTempFolder()));
afterEach(() => temp.remove());

describe('SVHN cropped digits (.mat level 5)', () => {
  test.each([true, false])('reads X (32x32x3xN column-major) into NCHW and y with 10 meaning 0 (compressed: %s)', (compress) => {
    fs.writeFileSync(path.join(temp.folder, 'train_32x32.mat'), svhnMat(fixtureImages(DIGITS.length, 3, 32), DIGITS, compress));
    const train = loadSvhn('train', temp.folder);
    expect(train.shape).toEqual([3, 32, 32]);
    expect(train.classNames).toEqual([...SVHN_CLASSES]);
    expect(Array.from(train.labels)).toEqual(DIGITS);
    expect(sameBytes(train.images, fixtureImages(DIGITS.length, 3, 32))).toBe(true);
  });

  test('the compressed file is smaller and holds miCOMPRESSED elements', () => {
    const images = fixtureImages(DIGITS.length, 3, 32);
    const packed = svhnMat(images, DIGITS, true);
    expect(packed.length).toBeLessThan(svhnMat(images, DIGITS, false).length);
    expect(packed.readUInt32LE(128)).toBe(15);
  });

  test('extra and test splits come from their own files', () => {
    fs.writeFileSync(path.join(temp.folder, 'test_32x32.mat'), svhnMat(fixtureImages(2, 3, 32), [4, 0], true));
    fs.writeFileSync(path.join(temp.folder, 'extra_32x32.mat'), svhnMat(fixtureImages(3, 3, 32), [1, 2, 3], true));
    expect(Array.from(loadDataset('svhn', 'test', { dataDir: temp.folder }).labels)).toEqual([4, 0]);
    expect(loadSvhn('extra', temp.folder).count).toBe(3);
  });

  test('a missing file names the layout expected', () => {
    const error = thrownBy(() => loadSvhn('test', temp.folder));
    expect(error.code).toBe('ERR_DATASET_MISSING');
    expect(error.message).toBe(`SVHN file not found: ${path.join(temp.folder, 'test_32x32.mat')} (expected under --data-dir: train_32x32.mat, test_32x32.mat and optionally extra_32x32.mat (the cropped-digits format))`);
  });

  test('a file that is not a level-5 MAT-file is named with the header expected', () => {
    fs.writeFileSync(path.join(temp.folder, 'test_32x32.mat'), Buffer.alloc(200, 0x41));
    const error = thrownBy(() => loadSvhn('test', temp.folder));
    expect(error.code).toBe('ERR_DATASET_CORRUPT');
    expect(error.message).toContain('expected "MATLAB 5.0 MAT-file" and "IM" or "MI" (a level-5 MAT-file)');
  });

  test('a MATLAB 7.3 (HDF5) file is recognised and the fix given', () => {
    const header = Buffer.alloc(200, 0x20);
    header.write('MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: x HDF5 schema 1.00 .', 0, 'latin1');
    fs.writeFileSync(path.join(temp.folder, 'test_32x32.mat'), header);
    expect(thrownBy(() => loadSvhn('test', temp.folder)).message).toContain("is a MATLAB 7.3 (HDF5) file; expected a level-5 MAT-file as SVHN publishes (re-save it in MATLAB with save(..., '-v7'))");
  });

  test('a wrong version field is named', () => {
    const file = svhnMat(fixtureImages(1, 3, 32), [3], false);
    file.writeUInt16LE(0x0200, 124);
    fs.writeFileSync(path.join(temp.folder, 'test_32x32.mat'), file);
    expect(thrownBy(() => loadSvhn('test', temp.folder)).message).toContain('header version field is 0x200, expected 0x0100');
  });

  test('a truncated uncompressed file is named with the element size it declares', () => {
    const file = svhnMat(fixtureImages(2, 3, 32), [3, 4], false);
    fs.writeFileSync(path.join(temp.folder, 'test_32x32.mat'), file.subarray(0, 3000));
    const error = thrownBy(() => loadSvhn('test', temp.folder));
    expect(error.code).toBe('ERR_DATASET_CORRUPT');
    expect(error.message).toMatch(/data element at byte 128 declares \d+ bytes but only 2864 remain; the file is truncated or damaged/);
  });

  test('a damaged compressed element is named', () => {
    const file = svhnMat(fixtureImages(2, 3, 32), [3, 4], true);
    for (let i = 140; i < 160; i++) file[i] ^= 0x5a;
    fs.writeFileSync(path.join(temp.folder, 'test_32x32.mat'), file);
    expect(thrownBy(() => loadSvhn('test', temp.folder)).message).toContain('compressed element at byte 128 does not inflate');
  });

  test('a file without y, or with the wrong X shape, is named', () => {
    const images = fixtureImages(1, 3, 32);
    fs.writeFileSync(path.join(temp.folder, 'test_32x32.mat'), matFile([{ name: 'X', dims: [32, 32, 3, 1], values: images }], true));
    expect(thrownBy(() => loadSvhn('test', temp.folder)).message).toContain('holds no array named "y" (expected X, y)');
    fs.writeFileSync(path.join(temp.folder, 'test_32x32.mat'), matFile([{ name: 'X', dims: [64, 16, 3, 1], values: images }, { name: 'y', dims: [1, 1], values: Float64Array.of(1) }], false));
    expect(thrownBy(() => loadSvhn('test', temp.folder)).message).toContain('X is 64x16x3x1 uint8, expected uint8 32x32x3xN');
  });

  test('readMatArrays returns MATLAB dims and values of other arrays too', () => {
    const file = path.join(temp.folder, 'a.mat');
    fs.writeFileSync(file, matFile([{ name: 'weights', dims: [2, 3], values: Float64Array.of(1, 2, 3, 4, 5, 6.5) }], true));
    const weights = readMatArrays(file, ['weights']).get('weights')!;
    expect(weights.dims).toEqual([2, 3]);
    expect(Array.from(weights.data)).toEqual([1, 2, 3, 4, 5, 6.5]);
  });
});
