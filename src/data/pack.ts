/**
 * A packed image dataset: one file holding a split's images, re-encoded to a bounded size, in page-aligned blocks
 * with a CRC32 each, and an index (label, offset, length, size, encoding per image, the class list) at its end.
 * Reading a shuffled epoch then touches pages of one file, not a million files. Layout (all integers little-endian):
 *
 *   header   "CWATPACK", u32 format version, u32 JSON length, the JSON (PackHeader), zero-padded to a 4096 multiple
 *   block    "CWBK", u32 block number, u32 first and u32 end source position, u32 image count, u32 body length,
 *            u32 CRC32 of the block's first 24 bytes and its body, u32 0; body: per image (label i32, source index
 *            u32, length u32, width u16, height u16, raw u8, 3 zero bytes), then the images; zero-padded to 4096
 *   index    per image (offset f64, length u32, label i32, source index u32, block u32, width u16, height u16,
 *            raw u8, 3 zero bytes), then per block (offset f64, length u32, CRC32 u32)
 *   trailer  "CWPKEND1", u32 version, u32 image count, u32 block count, u32 CRC32 of the index, f64 index offset,
 *            zero-padded to 64 bytes
 *
 * The blocks are written append-only, so a killed `classwise-at pack` resumes after its last block whose CRC holds.
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';

import { DatasetError } from './errors';
import type { ImageFolderDataset } from './imagenet';
import { seededRandom } from './random';

export const PACK_MAGIC = 'CWATPACK';
export const PACK_VERSION = 1;
export const PACK_PAGE = 4096;
export const BLOCK_MAGIC = 'CWBK';
export const BLOCK_HEADER_BYTES = 32;
export const BLOCK_ENTRY_BYTES = 20;
export const INDEX_ENTRY_BYTES = 32;
export const INDEX_BLOCK_BYTES = 16;
export const TRAILER_MAGIC = 'CWPKEND1';
export const TRAILER_BYTES = 64;
/** Blocks whose images are shuffled together in an epoch (page-local shuffle). */
export const SHUFFLE_WINDOW_BLOCKS = 16;

export type PackSplit = 'train' | 'val';

/** What the header of a pack says: the dataset, its classes and how its images were encoded. */
export interface PackHeader {
  dataset: string;
  split: PackSplit;
  classIds: string[];
  classNames: string[];
  maxSide: number;
  quality: number;
  rawBelow: number;
  blockBytes: number;
  /** Images are stored in the order shuffledIndices(sourceCount, orderSeed) of the folder's files. */
  orderSeed: number;
  sourceCount: number;
  source: string;
}

/** The index of an opened pack, one entry per stored image. */
export interface PackIndex {
  file: string;
  header: PackHeader;
  count: number;
  offsets: Float64Array;
  lengths: Int32Array;
  labels: Int32Array;
  sources: Int32Array;
  blockOf: Int32Array;
  widths: Int32Array;
  heights: Int32Array;
  raw: Uint8Array;
  blockOffsets: Float64Array;
  blockLengths: Int32Array;
  blockCrcs: Uint32Array;
  /** Blocks whose CRC this process has checked. */
  verified: Uint8Array;
}

/** A dataset's link to its pack: example i is the pack's image entries[i]. */
export interface PackSource {
  index: PackIndex;
  entries: Int32Array;
}

export function alignToPage(bytes: number): number {
  return Math.ceil(bytes / PACK_PAGE) * PACK_PAGE;
}

export function crc32(bytes: Uint8Array, previous = 0): number {
  return zlib.crc32(bytes, previous) >>> 0;
}

/** The header region: magic, version, JSON, padded to a page multiple. */
export function encodeHeader(header: PackHeader): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const region = Buffer.alloc(alignToPage(16 + json.length));
  region.write(PACK_MAGIC, 0, 'latin1');
  region.writeUInt32LE(PACK_VERSION, 8);
  region.writeUInt32LE(json.length, 12);
  json.copy(region, 16);
  return region;
}

function corrupt(file: string, what: string, fix: string): DatasetError {
  return new DatasetError('ERR_DATASET_CORRUPT', `${file}: ${what}; ${fix}`);
}

const REPACK = 'write it again with classwise-at pack';

/** Up to `length` bytes at `offset` (fewer at the end of the file). */
export function readAt(descriptor: number, offset: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const got = fs.readSync(descriptor, buffer, done, length - done, offset + done);
    if (got === 0) break;
    done += got;
  }
  return done === length ? buffer : buffer.subarray(0, done);
}

/** Reads and checks a pack's header region; `descriptor` is open on `file`. */
export function readHeader(descriptor: number, file: string, size: number): { header: PackHeader; bytes: number } {
  const start = readAt(descriptor, 0, Math.min(size, 16));
  if (start.length < 16 || start.toString('latin1', 0, 8) !== PACK_MAGIC) {
    throw corrupt(file, `not a classwise-at pack (no ${PACK_MAGIC} header)`, `pass a file written by classwise-at pack, or ${REPACK}`);
  }
  const version = start.readUInt32LE(8);
  if (version !== PACK_VERSION) {
    throw corrupt(file, `pack format version ${version}, this classwise-at reads version ${PACK_VERSION}`, REPACK);
  }
  const jsonLength = start.readUInt32LE(12);
  if (16 + jsonLength > size) throw corrupt(file, `truncated inside its header (${size} bytes)`, REPACK);
  let header: PackHeader;
  try {
    header = JSON.parse(readAt(descriptor, 16, jsonLength).toString('utf8')) as PackHeader;
  } catch (cause) {
    throw corrupt(file, `its header is not valid JSON (${(cause as Error).message})`, REPACK);
  }
  const fields = ['dataset', 'split', 'classIds', 'classNames', 'maxSide', 'quality', 'rawBelow', 'blockBytes', 'orderSeed', 'sourceCount', 'source'];
  const absent = fields.filter((field) => !(field in header));
  if (absent.length > 0) throw corrupt(file, `its header lacks ${absent.join(', ')}`, REPACK);
  return { header, bytes: alignToPage(16 + jsonLength) };
}

export interface OpenPackExpectations {
  dataset?: string;
  split?: PackSplit;
  /** The class folders (wnids) the run expects, e.g. from --data-dir. */
  classIds?: string[];
  /** Side of the crops the run decodes; a pack whose longer sides are shorter is refused. */
  imageSize?: number;
}

/** A pack's file descriptor; a missing or unreadable pack is ERR_DATASET_MISSING naming how to write it. */
function openPackFile(file: string): number {
  try {
    return fs.openSync(file, 'r');
  } catch (cause) {
    throw new DatasetError('ERR_DATASET_MISSING', `pack ${file} cannot be opened (${(cause as NodeJS.ErrnoException).code}); write it with classwise-at pack --out ${file}`, { cause });
  }
}

/** Opens a pack: header, trailer and index, each checked; refuses another dataset, split, class list or version. */
export function openPack(file: string, expect: OpenPackExpectations = {}): PackIndex {
  const descriptor = openPackFile(file);
  try {
    const size = fs.fstatSync(descriptor).size;
    const { header, bytes: headerBytes } = readHeader(descriptor, file, size);
    if (expect.dataset !== undefined && header.dataset !== expect.dataset) {
      throw corrupt(file, `a pack of dataset "${header.dataset}", not ${expect.dataset}`, `pass a pack of ${expect.dataset} or ${REPACK}`);
    }
    if (expect.split !== undefined && header.split !== expect.split) {
      throw corrupt(file, `a pack of the ${header.split} split, not ${expect.split}`, `pass the ${expect.split} pack (classwise-at pack --split ${expect.split})`);
    }
    if (expect.classIds !== undefined && JSON.stringify(expect.classIds) !== JSON.stringify(header.classIds)) {
      const missing = expect.classIds.filter((id) => !header.classIds.includes(id));
      const extra = header.classIds.filter((id) => !expect.classIds!.includes(id));
      const difference = missing.length || extra.length ? `${missing.length} class(es) missing (${missing.slice(0, 3).join(', ')}), ${extra.length} extra (${extra.slice(0, 3).join(', ')})` : 'the same classes in another order';
      throw corrupt(file, `a pack of another class list (${header.classIds.length} classes, ${difference})`, `pack the same --data-dir again (${REPACK})`);
    }
    if (expect.imageSize !== undefined && header.maxSide < expect.imageSize) {
      throw corrupt(file, `images packed with --max-side ${header.maxSide}, below the crop size ${expect.imageSize}`, `${REPACK} with --max-side ${Math.ceil(expect.imageSize / 0.875)} or more`);
    }
    if (size < headerBytes + TRAILER_BYTES) throw corrupt(file, `truncated (${size} bytes, no index at its end)`, `${REPACK}; an interrupted pack resumes from ${file}.partial`);
    const trailer = readAt(descriptor, size - TRAILER_BYTES, TRAILER_BYTES);
    if (trailer.toString('latin1', 0, 8) !== TRAILER_MAGIC) {
      throw corrupt(file, `truncated (${size} bytes, no index at its end)`, `${REPACK}; an interrupted pack resumes from ${file}.partial`);
    }
    const count = trailer.readUInt32LE(12);
    const blockCount = trailer.readUInt32LE(16);
    const indexCrc = trailer.readUInt32LE(20);
    const indexOffset = trailer.readDoubleLE(24);
    const indexLength = count * INDEX_ENTRY_BYTES + blockCount * INDEX_BLOCK_BYTES;
    if (indexOffset < headerBytes || indexOffset + indexLength + TRAILER_BYTES !== size) {
      throw corrupt(file, `its index (${count} images at byte ${indexOffset}) does not fit the file's ${size} bytes`, REPACK);
    }
    const index = readAt(descriptor, indexOffset, indexLength);
    if (crc32(index) !== indexCrc) throw corrupt(file, `the index's checksum fails`, REPACK);
    const pack: PackIndex = {
      file,
      header,
      count,
      offsets: new Float64Array(count),
      lengths: new Int32Array(count),
      labels: new Int32Array(count),
      sources: new Int32Array(count),
      blockOf: new Int32Array(count),
      widths: new Int32Array(count),
      heights: new Int32Array(count),
      raw: new Uint8Array(count),
      blockOffsets: new Float64Array(blockCount),
      blockLengths: new Int32Array(blockCount),
      blockCrcs: new Uint32Array(blockCount),
      verified: new Uint8Array(blockCount),
    };
    for (let i = 0; i < count; i++) {
      const at = i * INDEX_ENTRY_BYTES;
      pack.offsets[i] = index.readDoubleLE(at);
      pack.lengths[i] = index.readUInt32LE(at + 8);
      pack.labels[i] = index.readInt32LE(at + 12);
      pack.sources[i] = index.readUInt32LE(at + 16);
      pack.blockOf[i] = index.readUInt32LE(at + 20);
      pack.widths[i] = index.readUInt16LE(at + 24);
      pack.heights[i] = index.readUInt16LE(at + 26);
      pack.raw[i] = index[at + 28];
      if (pack.labels[i] < 0 || pack.labels[i] >= header.classIds.length || pack.blockOf[i] >= blockCount || pack.offsets[i] + pack.lengths[i] > indexOffset) {
        throw corrupt(file, `index entry ${i} is out of range`, REPACK);
      }
    }
    for (let b = 0; b < blockCount; b++) {
      const at = count * INDEX_ENTRY_BYTES + b * INDEX_BLOCK_BYTES;
      pack.blockOffsets[b] = index.readDoubleLE(at);
      pack.blockLengths[b] = index.readUInt32LE(at + 8);
      pack.blockCrcs[b] = index.readUInt32LE(at + 12);
    }
    return pack;
  } finally {
    fs.closeSync(descriptor);
  }
}

/** The CRC32 a block's bytes (header and body, as written) carry: over its first 24 bytes and its body. */
export function blockCrc(block: Uint8Array): number {
  return crc32(block.subarray(BLOCK_HEADER_BYTES), crc32(block.subarray(0, 24)));
}

/** Checks the CRC of every block that `entries` touch and this process has not checked yet (read off the event loop). */
export async function verifyBlocks(pack: PackIndex, entries: ArrayLike<number>): Promise<void> {
  const blocks = [...new Set(Array.from(entries, (entry) => pack.blockOf[entry]))].filter((block) => !pack.verified[block]).sort((a, b) => a - b);
  if (blocks.length === 0) return;
  const handle = await fs.promises.open(pack.file, 'r');
  try {
    for (const block of blocks) {
      const buffer = Buffer.alloc(pack.blockLengths[block]);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, pack.blockOffsets[block]);
      if (bytesRead !== buffer.length || buffer.toString('latin1', 0, 4) !== BLOCK_MAGIC || blockCrc(buffer) !== pack.blockCrcs[block] || buffer.readUInt32LE(24) !== pack.blockCrcs[block]) {
        throw corrupt(pack.file, `block ${block} (bytes ${pack.blockOffsets[block]}..${pack.blockOffsets[block] + pack.blockLengths[block]}) fails its checksum`, `the file is damaged: ${REPACK}`);
      }
      pack.verified[block] = 1;
    }
  } finally {
    await handle.close();
  }
}

/** The bytes of one stored image (for the sharp fallback). */
export async function readPackEntry(pack: PackIndex, entry: number): Promise<Buffer> {
  const handle = await fs.promises.open(pack.file, 'r');
  try {
    const buffer = Buffer.alloc(pack.lengths[entry]);
    await handle.read(buffer, 0, buffer.length, pack.offsets[entry]);
    return buffer;
  } finally {
    await handle.close();
  }
}

/** The index columns of `entries`, as the addon's decodePackedBatch takes them. */
export function entryColumns(pack: PackIndex, entries: ArrayLike<number>): { offsets: Float64Array; lengths: Int32Array; widths: Int32Array; heights: Int32Array; raw: Uint8Array } {
  return {
    offsets: Float64Array.from(entries, (entry) => pack.offsets[entry]),
    lengths: Int32Array.from(entries, (entry) => pack.lengths[entry]),
    widths: Int32Array.from(entries, (entry) => pack.widths[entry]),
    heights: Int32Array.from(entries, (entry) => pack.heights[entry]),
    raw: Uint8Array.from(entries, (entry) => pack.raw[entry]),
  };
}

function shuffleInPlace(values: Int32Array, random: () => number): void {
  for (let last = values.length - 1; last > 0; last--) {
    const swapWith = Math.floor(random() * (last + 1));
    const kept = values[last];
    values[last] = values[swapWith];
    values[swapWith] = kept;
  }
}

/**
 * An epoch's order of a pack-backed dataset (examples 0..count-1, example i stored in block blockOf(i)): the
 * blocks in a seeded order, then the examples of each window of `window` consecutive blocks shuffled together.
 * A permutation, the same for the same seed; a batch reads a few blocks' pages, not scattered ones.
 */
export function pageLocalOrder(blockOf: ArrayLike<number>, seed: number, window = SHUFFLE_WINDOW_BLOCKS): Int32Array {
  const byBlock = new Map<number, number[]>();
  for (let i = 0; i < blockOf.length; i++) {
    const list = byBlock.get(blockOf[i]);
    if (list) list.push(i);
    else byBlock.set(blockOf[i], [i]);
  }
  const blocks = Int32Array.from([...byBlock.keys()].sort((a, b) => a - b));
  const random = seededRandom(seed);
  shuffleInPlace(blocks, random);
  const order = new Int32Array(blockOf.length);
  let position = 0;
  for (let start = 0; start < blocks.length; start += window) {
    const from = position;
    for (const block of blocks.subarray(start, start + window)) for (const example of byBlock.get(block)!) order[position++] = example;
    shuffleInPlace(order.subarray(from, position), random);
  }
  return order;
}

/** File names under which `--data-dir` holds a split's pack, found without --data-pack. */
export function packFileName(dataset: string, split: PackSplit): string {
  return `${dataset}-${split}.cwpack`;
}

/** The split a pack holds, from its header alone. */
export function packHeader(file: string): PackHeader {
  const descriptor = openPackFile(file);
  try {
    return readHeader(descriptor, file, fs.fstatSync(descriptor).size).header;
  } finally {
    fs.closeSync(descriptor);
  }
}

/** A split of a pack as a streamed dataset: example i is the pack's image i, decoded batch by batch. */
export function loadPackDataset(file: string, split: 'train' | 'test', expect: OpenPackExpectations & { imageSize: number }): ImageFolderDataset {
  const index = openPack(file, { ...expect, split: split === 'train' ? 'train' : 'val' });
  const { header } = index;
  return {
    name: header.dataset,
    split,
    shape: [3, expect.imageSize, expect.imageSize],
    classNames: [...header.classNames],
    classIds: [...header.classIds],
    files: [],
    labels: Int32Array.from(index.labels),
    count: index.count,
    source: `pack ${file} (format ${PACK_VERSION}, ${index.count} images in ${index.blockOffsets.length} blocks, longer side <= ${header.maxSide}, quality ${header.quality}; packed from ${header.source})`,
    pack: { index, entries: Int32Array.from({ length: index.count }, (_, i) => i) },
  };
}
