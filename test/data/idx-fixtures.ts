import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Helpers shared by the data tests (not a test file itself). */

/** The bytes of an unsigned-byte IDX file, as the MNIST web page describes it. */
export function encodeIdx(dims: number[], data: ArrayLike<number>): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE((0x08 << 8) | dims.length, 0);
  dims.forEach((size, axis) => header.writeUInt32BE(size, 4 + 4 * axis));
  return Buffer.concat([header, Buffer.from(Array.from(data))]);
}

/** A fresh empty folder under the OS temp folder, removed by the returned cleanup function. */
export function makeTempFolder(): { folder: string; remove: () => void } {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'classwise-at-data-'));
  return { folder, remove: () => fs.rmSync(folder, { recursive: true, force: true }) };
}

/** Writes a tiny MNIST-layout split (`prefix` train or t10k) of 2x3 images whose pixels count up. */
export function writeTinySplit(folder: string, prefix: 'train' | 't10k', labels: number[], imageCount = labels.length): void {
  const pixels = Array.from({ length: imageCount * 2 * 3 }, (_, index) => index % 256);
  fs.writeFileSync(path.join(folder, `${prefix}-images-idx3-ubyte`), encodeIdx([imageCount, 2, 3], pixels));
  fs.writeFileSync(path.join(folder, `${prefix}-labels-idx1-ubyte`), encodeIdx([labels.length], labels));
}

/** The error `action` throws; fails the test if it returns instead. */
export function thrownBy(action: () => unknown): Error & { code?: string } {
  try {
    action();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected the call to throw, but it returned');
}

/** Byte-wise equality of two large arrays, much faster than toEqual on millions of elements. */
export function sameBytes(left: Uint8Array, right: Uint8Array): boolean {
  return Buffer.from(left.buffer, left.byteOffset, left.byteLength).equals(
    Buffer.from(right.buffer, right.byteOffset, right.byteLength),
  );
}

/** How many labels of each class, indexed by class. */
export function countPerClass(labels: Int32Array, classCount: number): number[] {
  const counts = new Array<number>(classCount).fill(0);
  for (const label of labels) counts[label]++;
  return counts;
}
