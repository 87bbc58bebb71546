/** Archive and MAT-file readers inflate no more than they may: a compressed bomb is refused, memory bounded. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

import { readMatArrays } from '../../src/data';
import { readTarEntries, TAR_MAX_BYTES } from '../../src/data/tar';
import { cifar10Files, matFile, tarGz } from './fixtures/official-formats';
import { makeTempFolder } from './idx-fixtures';

const temp = makeTempFolder();
afterAll(temp.remove);

test('a MAT-file element that inflates past the size its tag declares is refused having inflated only that much', () => {
  // A real file's header, then one compressed element: a miMATRIX tag declaring 100 bytes, followed by 64 MiB of zeros.
  const header = matFile([], false);
  const inner = Buffer.alloc(8 + (64 << 20));
  inner.writeUInt32LE(14, 0);
  inner.writeUInt32LE(100, 4);
  const packed = zlib.deflateSync(inner, { level: 1 });
  const tag = Buffer.alloc(8);
  tag.writeUInt32LE(15, 0);
  tag.writeUInt32LE(packed.length, 4);
  const bomb = path.join(temp.folder, 'bomb_32x32.mat');
  fs.writeFileSync(bomb, Buffer.concat([header, tag, packed]));
  const peakBefore = process.resourceUsage().maxRSS;
  expect(() => readMatArrays(bomb, ['X'])).toThrow(`${bomb}: compressed element at byte 128 inflates past the 108 bytes its tag declares; the file is truncated or damaged, download it again`);
  // maxRSS is in KiB: the 64 MiB of zeros were never held inflated.
  expect(process.resourceUsage().maxRSS - peakBefore).toBeLessThan(32 * 1024);
});

test('a MAT-file element whose tag declares more than the ceiling is refused before inflating it', () => {
  const inner = Buffer.alloc(64);
  inner.writeUInt32LE(14, 0);
  inner.writeUInt32LE(0xffffffff, 4);
  const packed = zlib.deflateSync(inner);
  const tag = Buffer.alloc(8);
  tag.writeUInt32LE(15, 0);
  tag.writeUInt32LE(packed.length, 4);
  const huge = path.join(temp.folder, 'huge_32x32.mat');
  fs.writeFileSync(huge, Buffer.concat([matFile([], false), tag, packed]));
  expect(() => readMatArrays(huge, ['X'])).toThrow(`${huge}: compressed element at byte 128 declares 4294967295 bytes, above the reader's ceiling of ${2 ** 31 - 1}`);
});

test('a tar.gz that inflates past the ceiling is refused; under it, it reads', () => {
  const archive = path.join(temp.folder, 'cifar-10-binary.tar.gz');
  fs.writeFileSync(archive, tarGz('cifar-10-batches-bin', cifar10Files(20, 10)));
  const inflated = zlib.gunzipSync(fs.readFileSync(archive)).length;
  expect(readTarEntries(archive, inflated).get('cifar-10-batches-bin/test_batch.bin')?.length).toBe(10 * 3073);
  expect(() => readTarEntries(archive, inflated - 1)).toThrow(
    `${archive} holds more than the tar reader's ceiling of ${inflated - 1} bytes (CIFAR's archives hold under 200 MB); is it the right file?`);
  expect(TAR_MAX_BYTES).toBe(2 ** 30);
});
