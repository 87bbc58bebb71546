/**
 * Writes a packed dataset (format in pack.ts) from an ImageNet folder: every image decoded by sharp (EXIF rotation,
 * sRGB, no alpha), its longer side reduced to at most maxSide (Lanczos-3), stored as a JPEG of `quality`, or as raw
 * RGB when its longer side is below rawBelow. Images go in a fixed seeded order, so blocks mix classes.
 * Blocks are appended to FILE.partial; after a kill the next run checks every block's CRC, cuts after the last good
 * one and continues from the source position it ends at, so the finished file is byte-identical to an
 * uninterrupted run's. The finished file replaces FILE by a rename.
 */
import * as fs from 'node:fs';

import { DatasetError } from './errors';
import { loadImageFolder, type DecodeErrorPolicy } from './imagenet';
import {
  alignToPage, BLOCK_ENTRY_BYTES, BLOCK_HEADER_BYTES, BLOCK_MAGIC, blockCrc, crc32, encodeHeader, INDEX_BLOCK_BYTES, INDEX_ENTRY_BYTES,
  PACK_VERSION, readAt, readHeader, TRAILER_BYTES, TRAILER_MAGIC, type PackHeader, type PackSplit,
} from './pack';
import { mapLimited } from './prefetch';
import { shuffledIndices } from './random';

/** Seed of the stored order of the images. */
const ORDER_SEED = 0;
/** Images encoded at once by sharp (on libuv's pool). */
const ENCODE_GROUP = 32;
const ENCODE_CONCURRENCY = 4;
export const DEFAULT_BLOCK_BYTES = 256 * 1024;

export interface PackOptions {
  dataset: string;
  dataDir: string;
  split: PackSplit;
  out: string;
  maxSide?: number;
  quality?: number;
  rawBelow?: number;
  /** Target bytes per block (a multiple of 4096); an image larger than a block gets a block of its own. */
  blockBytes?: number;
  /** Crop size the pack will be read at; --max-side below it is refused. */
  imageSize?: number;
  onDecodeError?: DecodeErrorPolicy;
  onSkip?: (file: string, message: string) => void;
  onProgress?: (done: number, total: number) => void;
  /** Called after each block is on disk (tests kill the process here). */
  afterBlock?: (blocksWritten: number) => void;
}

export interface PackResult {
  file: string;
  images: number;
  blocks: number;
  bytes: number;
  skipped: number;
  /** Blocks found intact in FILE.partial and kept. */
  resumedBlocks: number;
}

interface EncodedImage {
  label: number;
  source: number;
  width: number;
  height: number;
  raw: boolean;
  data: Buffer;
}

interface BlockRecord {
  offset: number;
  length: number;
  crc: number;
  images: { offset: number; length: number; label: number; source: number; width: number; height: number; raw: boolean }[];
  sourceEnd: number;
}

function invalid(message: string): DatasetError {
  return new DatasetError('ERR_DATASET_UNKNOWN', message);
}

function checkOptions(options: PackOptions): Required<Pick<PackOptions, 'maxSide' | 'quality' | 'rawBelow' | 'blockBytes' | 'imageSize'>> {
  const maxSide = options.maxSide ?? 256;
  const quality = options.quality ?? 90;
  const rawBelow = options.rawBelow ?? 64;
  const blockBytes = options.blockBytes ?? DEFAULT_BLOCK_BYTES;
  const imageSize = options.imageSize ?? 224;
  if (options.dataset !== 'imagenet') throw invalid(`pack --dataset is "${options.dataset}"; packs are written for image-folder datasets: imagenet`);
  if (options.split !== 'train' && options.split !== 'val') throw invalid(`pack --split is "${options.split}"; accepted: train, val`);
  if (!Number.isInteger(maxSide) || maxSide > 8192) throw invalid(`--max-side must be an integer up to 8192, got ${maxSide}`);
  if (maxSide < imageSize) throw invalid(`--max-side ${maxSide} is below the crop size ${imageSize}; pass --max-side ${Math.ceil(imageSize / 0.875)} or more (or a smaller --image-size)`);
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) throw invalid(`--quality must be an integer in [1, 100], got ${quality}`);
  if (!Number.isInteger(rawBelow) || rawBelow < 0 || rawBelow > 8192) throw invalid(`--raw-below must be an integer in [0, 8192], got ${rawBelow}`);
  if (!Number.isInteger(blockBytes) || blockBytes < 4096 || blockBytes % 4096 !== 0 || blockBytes > 64 * 1024 * 1024) {
    throw invalid(`the block size must be a multiple of 4096 bytes up to 64 MiB, got ${blockBytes}`);
  }
  return { maxSide, quality, rawBelow, blockBytes, imageSize };
}

type Sharp = typeof import('sharp');

async function encodeImage(file: string, maxSide: number, quality: number, rawBelow: number): Promise<{ data: Buffer; width: number; height: number; raw: boolean }> {
  const sharp = require('sharp') as Sharp;
  const { data, info } = await sharp(file, { failOn: 'error' })
    .rotate()
    .removeAlpha()
    .toColourspace('srgb')
    .resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
  if (Math.max(info.width, info.height) < rawBelow) return { data, width: info.width, height: info.height, raw: true };
  const jpeg = await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } }).jpeg({ quality }).toBuffer();
  return { data: jpeg, width: info.width, height: info.height, raw: false };
}

/** The intact blocks of a partial pack, in order; stops at the first that is cut short or fails its CRC. */
function intactBlocks(descriptor: number, start: number, size: number): BlockRecord[] {
  const blocks: BlockRecord[] = [];
  let offset = start;
  while (offset + BLOCK_HEADER_BYTES <= size) {
    const head = readAt(descriptor, offset, BLOCK_HEADER_BYTES);
    if (head.toString('latin1', 0, 4) !== BLOCK_MAGIC || head.readUInt32LE(4) !== blocks.length) break;
    const count = head.readUInt32LE(16);
    const bodyLength = head.readUInt32LE(20);
    if (offset + BLOCK_HEADER_BYTES + bodyLength > size || count * BLOCK_ENTRY_BYTES > bodyLength) break;
    const block = Buffer.concat([head, readAt(descriptor, offset + BLOCK_HEADER_BYTES, bodyLength)]);
    const crc = blockCrc(block);
    if (crc !== head.readUInt32LE(24)) break;
    const images: BlockRecord['images'] = [];
    let at = offset + BLOCK_HEADER_BYTES + count * BLOCK_ENTRY_BYTES;
    for (let k = 0; k < count; k++) {
      const entry = BLOCK_HEADER_BYTES + k * BLOCK_ENTRY_BYTES;
      const length = block.readUInt32LE(entry + 8);
      images.push({ offset: at, length, label: block.readInt32LE(entry), source: block.readUInt32LE(entry + 4), width: block.readUInt16LE(entry + 12), height: block.readUInt16LE(entry + 14), raw: block[entry + 16] === 1 });
      at += length;
    }
    blocks.push({ offset, length: block.length, crc, images, sourceEnd: head.readUInt32LE(12) });
    offset = alignToPage(offset + block.length);
  }
  return blocks;
}

/** One block's bytes: header, entry table, images (unpadded). */
function encodeBlock(number: number, sourceStart: number, sourceEnd: number, images: EncodedImage[]): Buffer {
  const tableBytes = images.length * BLOCK_ENTRY_BYTES;
  const bodyLength = tableBytes + images.reduce((sum, image) => sum + image.data.length, 0);
  const block = Buffer.alloc(BLOCK_HEADER_BYTES + bodyLength);
  block.write(BLOCK_MAGIC, 0, 'latin1');
  block.writeUInt32LE(number, 4);
  block.writeUInt32LE(sourceStart, 8);
  block.writeUInt32LE(sourceEnd, 12);
  block.writeUInt32LE(images.length, 16);
  block.writeUInt32LE(bodyLength, 20);
  let at = BLOCK_HEADER_BYTES + tableBytes;
  images.forEach((image, k) => {
    const entry = BLOCK_HEADER_BYTES + k * BLOCK_ENTRY_BYTES;
    block.writeInt32LE(image.label, entry);
    block.writeUInt32LE(image.source, entry + 4);
    block.writeUInt32LE(image.data.length, entry + 8);
    block.writeUInt16LE(image.width, entry + 12);
    block.writeUInt16LE(image.height, entry + 14);
    block[entry + 16] = image.raw ? 1 : 0;
    image.data.copy(block, at);
    at += image.data.length;
  });
  block.writeUInt32LE(blockCrc(block), 24);
  return block;
}

function writeAll(descriptor: number, bytes: Uint8Array, offset: number): void {
  let done = 0;
  while (done < bytes.length) done += fs.writeSync(descriptor, bytes, done, bytes.length - done, offset + done);
}

/** Packs one split of an ImageNet folder into `out` (resuming `out`.partial if an earlier run was cut short). */
export async function writePack(options: PackOptions): Promise<PackResult> {
  const { maxSide, quality, rawBelow, blockBytes, imageSize } = checkOptions(options);
  const folder = loadImageFolder(options.split === 'val' ? 'test' : 'train', options.dataDir, { imageSize });
  const header: PackHeader = {
    dataset: options.dataset,
    split: options.split,
    classIds: folder.classIds,
    classNames: folder.classNames,
    maxSide,
    quality,
    rawBelow,
    blockBytes,
    orderSeed: ORDER_SEED,
    sourceCount: folder.count,
    source: folder.source,
  };
  const headerRegion = encodeHeader(header);
  const partial = `${options.out}.partial`;
  const blocks: BlockRecord[] = [];
  let descriptor: number;
  if (fs.existsSync(partial)) {
    descriptor = fs.openSync(partial, 'r+');
    const size = fs.fstatSync(descriptor).size;
    let sameHeader = false;
    try {
      const { bytes } = readHeader(descriptor, partial, size);
      sameHeader = bytes === headerRegion.length && readAt(descriptor, 0, bytes).equals(headerRegion);
    } catch {
      sameHeader = false;
    }
    if (!sameHeader) {
      fs.closeSync(descriptor);
      throw new DatasetError('ERR_DATASET_CORRUPT', `${partial} is an unfinished pack of other settings or files (its header differs); delete it to start over, or rerun with the options it was started with`);
    }
    blocks.push(...intactBlocks(descriptor, headerRegion.length, size));
  } else {
    descriptor = fs.openSync(partial, 'w+');
    writeAll(descriptor, headerRegion, 0);
  }
  const resumedBlocks = blocks.length;
  try {
    const order = shuffledIndices(folder.count, ORDER_SEED);
    let position = blocks.length > 0 ? blocks[blocks.length - 1].sourceEnd : 0;
    let offset = blocks.length > 0 ? alignToPage(blocks[blocks.length - 1].offset + blocks[blocks.length - 1].length) : headerRegion.length;
    // Cut a partial block left by the kill, so the file is exactly what an uninterrupted run had at this point.
    fs.ftruncateSync(descriptor, offset);
    let skipped = 0;
    let pending: EncodedImage[] = [];
    let pendingStart = position;
    let pendingBytes = 0;
    const flush = (sourceEnd: number): void => {
      if (pending.length === 0) return;
      const block = encodeBlock(blocks.length, pendingStart, sourceEnd, pending);
      const padded = Buffer.alloc(alignToPage(block.length));
      block.copy(padded);
      writeAll(descriptor, padded, offset);
      let at = offset + BLOCK_HEADER_BYTES + pending.length * BLOCK_ENTRY_BYTES;
      const images = pending.map((image) => {
        const record = { offset: at, length: image.data.length, label: image.label, source: image.source, width: image.width, height: image.height, raw: image.raw };
        at += image.data.length;
        return record;
      });
      blocks.push({ offset, length: block.length, crc: block.readUInt32LE(24), images, sourceEnd });
      offset += padded.length;
      pending = [];
      pendingStart = sourceEnd;
      pendingBytes = 0;
      options.afterBlock?.(blocks.length);
    };
    while (position < folder.count) {
      const group = Array.from(order.subarray(position, Math.min(folder.count, position + ENCODE_GROUP)));
      const encoded = await mapLimited(group, ENCODE_CONCURRENCY, async (source) => {
        try {
          return { ok: true as const, ...(await encodeImage(folder.files[source], maxSide, quality, rawBelow)) };
        } catch (cause) {
          return { ok: false as const, message: (cause as Error).message, cause };
        }
      });
      encoded.forEach((result, k) => {
        const source = group[k];
        const here = position + k;
        if (!result.ok) {
          if (options.onDecodeError !== 'skip') {
            throw new DatasetError(
              'ERR_DATASET_CORRUPT',
              `${folder.files[source]} could not be decoded (${result.message}); expected a JPEG/PNG image. Remove or replace the file, or pass --on-decode-error skip to leave such files out of the pack with a warning`,
              { cause: result.cause },
            );
          }
          skipped++;
          options.onSkip?.(folder.files[source], result.message);
          return;
        }
        const bytes = BLOCK_ENTRY_BYTES + result.data.length;
        if (pending.length > 0 && BLOCK_HEADER_BYTES + pendingBytes + bytes > blockBytes) flush(here);
        pending.push({ label: folder.labels[source], source, width: result.width, height: result.height, raw: result.raw, data: result.data });
        pendingBytes += bytes;
      });
      position += group.length;
      options.onProgress?.(position, folder.count);
    }
    flush(folder.count);
    // The index and trailer.
    const images = blocks.flatMap((block, b) => block.images.map((image) => ({ ...image, block: b })));
    const index = Buffer.alloc(images.length * INDEX_ENTRY_BYTES + blocks.length * INDEX_BLOCK_BYTES);
    images.forEach((image, i) => {
      const at = i * INDEX_ENTRY_BYTES;
      index.writeDoubleLE(image.offset, at);
      index.writeUInt32LE(image.length, at + 8);
      index.writeInt32LE(image.label, at + 12);
      index.writeUInt32LE(image.source, at + 16);
      index.writeUInt32LE(image.block, at + 20);
      index.writeUInt16LE(image.width, at + 24);
      index.writeUInt16LE(image.height, at + 26);
      index[at + 28] = image.raw ? 1 : 0;
    });
    blocks.forEach((block, b) => {
      const at = images.length * INDEX_ENTRY_BYTES + b * INDEX_BLOCK_BYTES;
      index.writeDoubleLE(block.offset, at);
      index.writeUInt32LE(block.length, at + 8);
      index.writeUInt32LE(block.crc, at + 12);
    });
    const trailer = Buffer.alloc(TRAILER_BYTES);
    trailer.write(TRAILER_MAGIC, 0, 'latin1');
    trailer.writeUInt32LE(PACK_VERSION, 8);
    trailer.writeUInt32LE(images.length, 12);
    trailer.writeUInt32LE(blocks.length, 16);
    trailer.writeUInt32LE(crc32(index), 20);
    trailer.writeDoubleLE(offset, 24);
    writeAll(descriptor, index, offset);
    writeAll(descriptor, trailer, offset + index.length);
    fs.ftruncateSync(descriptor, offset + index.length + TRAILER_BYTES);
    fs.fsyncSync(descriptor);
    fs.closeSync(descriptor);
    descriptor = -1;
    fs.renameSync(partial, options.out);
    return { file: options.out, images: images.length, blocks: blocks.length, bytes: offset + index.length + TRAILER_BYTES, skipped, resumedBlocks };
  } finally {
    if (descriptor >= 0) fs.closeSync(descriptor);
  }
}
