/** IDX readers allocate what the header implies and no more: a gzip bomb or a huge header is refused first. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

import { IDX_MAX_DATA_BYTES, readIdxFile } from '../../src/data/idx';
import { encodeIdx, makeTempFolder } from './idx-fixtures';

const temp = makeTempFolder();
afterAll(temp.remove);

test('a gzip file that inflates far past its header is refused after inflating only what the header implies', () => {
  const bomb = path.join(temp.folder, 'bomb-images-idx3-ubyte.gz');
  // 10 images of 28x28 (7,840 bytes), then 512 MiB of zeros in eight gzip members (a few hundred KB on disk).
  const zeros = zlib.gzipSync(Buffer.alloc(64 << 20), { level: 1 });
  fs.writeFileSync(bomb, Buffer.concat([zlib.gzipSync(encodeIdx([10, 28, 28], new Uint8Array(7840))), ...Array(8).fill(zeros)]));
  const peakBefore = process.resourceUsage().maxRSS;
  expect(() => readIdxFile(bomb, 3)).toThrow(
    `${bomb} inflates to more than the 7856 bytes its header implies (10x28x28 images after a 16-byte header); re-download or re-extract it`);
  // maxRSS is in KiB: the reader never held the inflated zeros.
  expect(process.resourceUsage().maxRSS - peakBefore).toBeLessThan(128 * 1024);
});

test('a header that implies more than the ceiling is refused before inflating or reading the data', () => {
  const huge = path.join(temp.folder, 'huge-images-idx3-ubyte.gz');
  fs.writeFileSync(huge, zlib.gzipSync(encodeIdx([0xffffffff, 28, 28], [1, 2, 3])));
  expect(() => readIdxFile(huge, 3)).toThrow(
    `${huge}: its header says 4294967295x28x28 = 3367254359280 bytes of data, above the reader's ceiling of ${IDX_MAX_DATA_BYTES} bytes; is it an IDX file of this dataset?`);
  const plain = path.join(temp.folder, 'huge-images-idx3-ubyte');
  fs.writeFileSync(plain, encodeIdx([0xffffffff, 28, 28], [1, 2, 3]));
  expect(() => readIdxFile(plain, 3)).toThrow(`${plain}: its header says 4294967295x28x28 = 3367254359280 bytes of data, above the reader's ceiling`);
});

test('a gzip file that is exactly its header and data still reads', () => {
  const good = path.join(temp.folder, 'good-labels-idx1-ubyte.gz');
  fs.writeFileSync(good, zlib.gzipSync(encodeIdx([3], [7, 8, 9])));
  expect(Array.from(readIdxFile(good, 1).data)).toEqual([7, 8, 9]);
});

test('a plain file longer than its header says is refused without reading it whole', () => {
  const long = path.join(temp.folder, 'long-labels-idx1-ubyte');
  fs.writeFileSync(long, Buffer.concat([encodeIdx([2], [1, 2]), Buffer.alloc(1 << 20)]));
  expect(() => readIdxFile(long, 1)).toThrow(`${long} is too long: header says 2 = 2 bytes of data, file has ${2 + (1 << 20)} (re-download or re-extract it)`);
});
