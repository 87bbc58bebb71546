/**
 * ImageNet (ILSVRC-2012) from its folder layout: train/<wnid>/*.JPEG, and val/ either as val/<wnid>/ or flat
 * with a label file (LOC_val_solution.csv, or val_labels.txt: "<file> <wnid>" per line). Class order is the
 * sorted wnids (torchvision's ImageFolder); names come from LOC_synset_mapping.txt or synset_words.txt.
 * Images are decoded into fixed-size batches, random-resized crop and flip for training, resize + center crop for
 * evaluation: by the addon's libjpeg-turbo decoder (which decodes only the crop's rows and columns) on a pool of
 * native threads (native/jpeg_decoder.cc), with sharp (libvips) for what it leaves (PNG, CMYK, EXIF-rotated or
 * ICC-tagged JPEGs, damaged files) or when the addon was built without libjpeg-turbo.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { nativeAddon } from '../native';

import type { ImageDataset } from './dataset';
import { DatasetError } from './errors';
import { entryColumns, readPackEntry, verifyBlocks, type PackSource } from './pack';
import { mapLimited } from './prefetch';
import { seededRandom } from './random';

const IMAGE_EXTENSIONS = new Set(['.jpeg', '.jpg', '.png']);
const CHANNELS = 3;
/** Evaluation resizes the shorter side to size / 0.875 (256 for 224), then crops the center. */
const CENTER_CROP_FRACTION = 0.875;
/** Random-resized crop as torchvision: area in [0.08, 1] of the image, aspect ratio in [3/4, 4/3]. */
const CROP_SCALE: [number, number] = [0.08, 1];
const CROP_RATIO: [number, number] = [3 / 4, 4 / 3];
const CROP_ATTEMPTS = 10;
/** Images decoded at once per batch request (sharp queues the rest on libuv's pool). */
const DECODE_CONCURRENCY = 8;
const LAYOUT =
  'train/<wnid>/*.JPEG, val/<wnid>/*.JPEG or val/*.JPEG with LOC_val_solution.csv or val_labels.txt ("<file> <wnid>" lines), ' +
  'optionally LOC_synset_mapping.txt or synset_words.txt ("<wnid> <name>, ..." lines)';

export type DecodeErrorPolicy = 'skip' | 'fail';
/** 'auto': the native decoder when the addon has libjpeg-turbo, sharp otherwise; 'sharp': sharp only. */
export type ImageDecoder = 'auto' | 'native' | 'sharp';

/** A dataset of image files, decoded batch by batch; the streaming counterpart of ImageDataset. */
export interface ImageFolderDataset {
  name: string;
  split: ImageDataset['split'];
  /** [3, size, size] of the decoded images. */
  shape: [number, number, number];
  classNames: string[];
  /** Class identifiers as the folders name them (wnids). */
  classIds: string[];
  /** The image files; empty when the images come from a pack. */
  files: string[];
  labels: Int32Array;
  count: number;
  source: string;
  /** Set when the images are read from a packed dataset (pack.ts) instead of files. */
  pack?: PackSource;
}

export interface LoadImageFolderOptions {
  /** Side of the decoded square images (224 by default). */
  imageSize?: number;
}

export interface DecodedBatch {
  /** NCHW uint8 of the decoded images, in the requested order minus skipped files. */
  images: Uint8Array;
  labels: Int32Array;
  count: number;
  /** Files that failed to decode under the 'skip' policy. */
  skipped: { file: string; message: string }[];
}

export interface DecodeOptions {
  /** Random-resized crop and flip (training) or resize + center crop (evaluation). */
  augment: boolean;
  /** Seed of the crops and flips; example i of the dataset uses (seed, i) only, so order does not matter. */
  seed?: number;
  onDecodeError?: DecodeErrorPolicy;
  decoder?: ImageDecoder;
  /** Native decoding threads (--data-threads); all cores by default. */
  threads?: number;
}

/** Whether the addon decodes JPEGs itself (built with libjpeg-turbo). */
export function nativeJpegDecoding(): boolean {
  return nativeAddon().jpegDecoderInfo().turbojpeg;
}

let dataThreads: number | undefined;

/** Native decoding threads of this process (--data-threads): every core unless set. */
export function defaultDataThreads(): number {
  return dataThreads ?? (typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

/** Sets the process's native decoding threads (--data-threads); a machine setting, not part of a run's config. */
export function setDataThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
    throw new DatasetError('ERR_DATASET_UNKNOWN', `--data-threads must be an integer in [1, 256], got ${threads}; pass e.g. --data-threads ${defaultDataThreads()}`);
  }
  dataThreads = threads;
}

function missing(message: string): DatasetError {
  return new DatasetError('ERR_DATASET_MISSING', `${message} (expected under --data-dir: ${LAYOUT})`);
}

/** An entry's kind, following a symbolic link (a link loop is named; a dangling link counts as nothing). */
function entryKind(folder: string, entry: fs.Dirent): 'file' | 'folder' | undefined {
  if (!entry.isSymbolicLink()) return entry.isFile() ? 'file' : entry.isDirectory() ? 'folder' : undefined;
  const link = path.join(folder, entry.name);
  try {
    const stats = fs.statSync(link);
    return stats.isFile() ? 'file' : stats.isDirectory() ? 'folder' : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new DatasetError('ERR_DATASET_CORRUPT', `${link} is a symbolic link that loops (ELOOP); remove it or point it at an image`);
    }
    return undefined;
  }
}

function listImages(folder: string): string[] {
  return fs
    .readdirSync(folder, { withFileTypes: true })
    .filter((entry) => IMAGE_EXTENSIONS.has(path.extname(entry.name).toLowerCase()) && entryKind(folder, entry) === 'file')
    .map((entry) => entry.name)
    .sort();
}

function classFolders(folder: string): string[] {
  return fs
    .readdirSync(folder, { withFileTypes: true })
    .filter((entry) => entryKind(folder, entry) === 'folder')
    .map((entry) => entry.name)
    .sort();
}

/** wnid -> readable name, from the first synset file present; duplicates (ImageNet has a few) get their wnid. */
function readableNames(root: string, wnids: string[]): { names: string[]; from?: string } {
  const file = ['LOC_synset_mapping.txt', 'synset_words.txt'].map((name) => path.join(root, name)).find((p) => fs.existsSync(p));
  if (!file) return { names: [...wnids] };
  const byWnid = new Map<string, string>();
  for (const line of fs.readFileSync(file, 'utf8').split(/\r?\n/)) {
    const match = /^(\S+)\s+(.*)$/.exec(line.trim());
    if (match) byWnid.set(match[1], match[2].split(',')[0].trim());
  }
  const names = wnids.map((wnid) => byWnid.get(wnid) ?? wnid);
  const seen = new Map<string, number>();
  for (const name of names) seen.set(name, (seen.get(name) ?? 0) + 1);
  return { names: names.map((name, k) => (seen.get(name)! > 1 ? `${name} (${wnids[k]})` : name)), from: file };
}

/** Labels of a flat val/ folder from LOC_val_solution.csv or val_labels.txt. */
function flatValidationLabels(root: string, wnids: string[]): { labelOf: Map<string, string>; file: string } {
  const csv = path.join(root, 'LOC_val_solution.csv');
  const text = path.join(root, 'val_labels.txt');
  const labelOf = new Map<string, string>();
  if (fs.existsSync(csv)) {
    for (const line of fs.readFileSync(csv, 'utf8').split(/\r?\n/).slice(1)) {
      const [imageId, prediction] = line.split(',');
      if (imageId && prediction) labelOf.set(imageId.trim(), prediction.trim().split(/\s+/)[0]);
    }
    return { labelOf, file: csv };
  }
  if (fs.existsSync(text)) {
    fs.readFileSync(text, 'utf8').split(/\r?\n/).forEach((line, lineIndex) => {
      const parts = line.trim().split(/\s+/);
      if (parts.length === 1 && parts[0] === '') return;
      if (parts.length !== 2) {
        throw new DatasetError('ERR_DATASET_CORRUPT', `${text}: line ${lineIndex + 1} is "${line}", expected "<file> <wnid>" or "<file> <class index>"`);
      }
      const byIndex = /^\d+$/.test(parts[1]) ? wnids[Number(parts[1])] : parts[1];
      labelOf.set(path.parse(parts[0]).name, byIndex ?? parts[1]);
    });
    return { labelOf, file: text };
  }
  throw missing(`ImageNet: ${path.join(root, 'val')} is a flat folder but neither ${csv} nor ${text} gives its labels`);
}

/** Indexes one split of an ImageNet-style folder; nothing is decoded yet. */
export function loadImageFolder(split: ImageDataset['split'], dir: string, options: LoadImageFolderOptions = {}): ImageFolderDataset {
  const root = path.resolve(dir);
  const size = options.imageSize ?? 224;
  const trainFolder = path.join(root, 'train');
  const valFolder = path.join(root, 'val');
  if (!fs.existsSync(trainFolder) && !fs.existsSync(valFolder)) throw missing(`ImageNet: neither ${trainFolder} nor ${valFolder} exists`);
  const wnids = classFolders(fs.existsSync(trainFolder) ? trainFolder : valFolder);
  if (wnids.length < 2) throw missing(`ImageNet: ${fs.existsSync(trainFolder) ? trainFolder : valFolder} holds ${wnids.length} class folder(s), expected one per class (<wnid>/)`);
  const classIndex = new Map(wnids.map((wnid, k) => [wnid, k]));
  const files: string[] = [];
  const labels: number[] = [];
  const folder = split === 'train' ? trainFolder : valFolder;
  if (!fs.existsSync(folder)) throw missing(`ImageNet ${split} folder not found: ${folder}`);
  let labelSource = `${folder}/<wnid>/`;
  if (split === 'train' || classFolders(folder).length > 0) {
    for (const wnid of classFolders(folder)) {
      const label = classIndex.get(wnid);
      if (label === undefined) {
        throw new DatasetError('ERR_DATASET_CORRUPT', `ImageNet: ${path.join(folder, wnid)} is a class folder that ${trainFolder} does not have; expected the same <wnid> folders in train/ and val/`);
      }
      for (const name of listImages(path.join(folder, wnid))) {
        files.push(path.join(folder, wnid, name));
        labels.push(label);
      }
    }
  } else {
    const { labelOf, file } = flatValidationLabels(root, wnids);
    labelSource = file;
    for (const name of listImages(folder)) {
      const wnid = labelOf.get(path.parse(name).name);
      const label = wnid === undefined ? undefined : classIndex.get(wnid);
      if (label === undefined) {
        throw new DatasetError('ERR_DATASET_CORRUPT', `${file} gives ${wnid === undefined ? 'no label' : `class "${wnid}", not a folder of ${trainFolder},`} for ${path.join(folder, name)}; expected one line per validation image`);
      }
      files.push(path.join(folder, name));
      labels.push(label);
    }
  }
  if (files.length === 0) throw missing(`ImageNet ${split}: no .JPEG/.jpg/.png files under ${folder}`);
  const { names, from } = readableNames(root, wnids);
  return {
    name: 'imagenet',
    split,
    shape: [CHANNELS, size, size],
    classNames: names,
    classIds: wnids,
    files,
    labels: Int32Array.from(labels),
    count: files.length,
    source: `${folder} (labels from ${labelSource}${from ? `, names from ${from}` : ''})`,
  };
}

/** The files `indices` of a folder dataset, as a new dataset (class names kept). */
export function selectFiles(dataset: ImageFolderDataset, indices: ArrayLike<number>, note: string): ImageFolderDataset {
  const labels = Int32Array.from(indices, (index) => dataset.labels[index]);
  const pack = dataset.pack && { index: dataset.pack.index, entries: Int32Array.from(indices, (index) => dataset.pack!.entries[index]) };
  const files = pack ? [] : Array.from(indices, (index) => dataset.files[index]);
  return { ...dataset, files, pack, labels, count: labels.length, source: `${dataset.source}; ${note}` };
}

/** Crop box of a random-resized crop (torchvision's RandomResizedCrop.get_params, center crop as fallback). */
function randomCropBox(width: number, height: number, random: () => number): { left: number; top: number; width: number; height: number } {
  const area = width * height;
  for (let attempt = 0; attempt < CROP_ATTEMPTS; attempt++) {
    const targetArea = area * (CROP_SCALE[0] + random() * (CROP_SCALE[1] - CROP_SCALE[0]));
    const logRatio = Math.log(CROP_RATIO[0]) + random() * (Math.log(CROP_RATIO[1]) - Math.log(CROP_RATIO[0]));
    const ratio = Math.exp(logRatio);
    const w = Math.round(Math.sqrt(targetArea * ratio));
    const h = Math.round(Math.sqrt(targetArea / ratio));
    if (w > 0 && h > 0 && w <= width && h <= height) {
      return { left: Math.floor(random() * (width - w + 1)), top: Math.floor(random() * (height - h + 1)), width: w, height: h };
    }
  }
  const side = Math.min(width, height);
  return { left: Math.floor((width - side) / 2), top: Math.floor((height - side) / 2), width: side, height: side };
}

type Sharp = typeof import('sharp');
let sharpModule: Sharp | undefined;
function sharp(): Sharp {
  // Loaded on first use so that the in-memory datasets never need the decoder.
  sharpModule ??= require('sharp') as Sharp;
  return sharpModule;
}

/** Decodes one file to HWC RGB bytes of size x size. */
async function decodeOne(file: string | Buffer, size: number, augment: boolean, random: () => number, raw?: { width: number; height: number }): Promise<Buffer> {
  const input = sharp()(file, raw ? { raw: { ...raw, channels: CHANNELS } } : { failOn: 'error' });
  const { width, height } = await input.metadata();
  if (!width || !height) throw new Error('no image dimensions in the header');
  let pipeline = input.rotate().removeAlpha().toColourspace('srgb');
  if (augment) {
    pipeline = pipeline.extract(randomCropBox(width, height, random)).resize(size, size, { fit: 'fill' });
    if (random() < 0.5) pipeline = pipeline.flop();
  } else {
    const shorter = Math.round(size / CENTER_CROP_FRACTION);
    const scale = shorter / Math.min(width, height);
    const scaledWidth = Math.max(size, Math.round(width * scale));
    const scaledHeight = Math.max(size, Math.round(height * scale));
    pipeline = pipeline
      // Without libjpeg's fast shrink-on-load, which rounds the shrunk size down and shifts the result (up to 3
      // levels on average at 10x): the native decoder and this path then agree within a level.
      .resize(scaledWidth, scaledHeight, { fit: 'fill', fastShrinkOnLoad: false })
      .extract({ left: Math.floor((scaledWidth - size) / 2), top: Math.floor((scaledHeight - size) / 2), width: size, height: size });
  }
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== CHANNELS || info.width !== size || info.height !== size) {
    throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}, expected ${size}x${size}x3`);
  }
  return data;
}

function undecodable(file: string, message: string, cause: unknown): DatasetError {
  return new DatasetError(
    'ERR_DATASET_CORRUPT',
    `${file} could not be decoded (${message}); expected a JPEG/PNG image. Remove or replace the file, or pass --on-decode-error skip to skip such files with a warning`,
    { cause },
  );
}

/** Decodes the examples `indices` of a folder dataset into one NCHW batch. */
export async function decodeBatch(dataset: ImageFolderDataset, indices: ArrayLike<number>, options: DecodeOptions): Promise<DecodedBatch> {
  const [, size] = dataset.shape;
  const imageBytes = CHANNELS * size * size;
  const list = Int32Array.from(indices);
  const policy = options.onDecodeError ?? 'fail';
  const decoder = options.decoder ?? 'auto';
  if (decoder === 'native' && !nativeJpegDecoding()) {
    throw new DatasetError('ERR_DATASET_MISSING', 'the native JPEG decoder is not in this build (libjpeg-turbo was not found); install libturbojpeg0-dev and libjpeg62-turbo-dev and rebuild (bash scripts/setup.sh), or use the sharp decoder');
  }
  const images = new Uint8Array(list.length * imageBytes);
  const pack = dataset.pack;
  const entries = pack && Int32Array.from(list, (index) => pack.entries[index]);
  // A pack's block is checked against its CRC the first time a batch reads it.
  if (pack && entries) await verifyBlocks(pack.index, entries);
  /** What an error names: the file, or the pack and the image's place in it. */
  const nameOf = (k: number): string => (pack && entries ? `${pack.index.file} (image ${entries[k]})` : dataset.files[list[k]]);
  // Slot k of `images` holds example list[k]; the native pass leaves to sharp what it cannot decode.
  let pending: number[] = Array.from(list.keys());
  if (decoder !== 'sharp' && nativeJpegDecoding() && list.length > 0) {
    const threads = options.threads ?? defaultDataThreads();
    const settings = { size, augment: options.augment, seed: options.seed ?? 0, indices: list, threads };
    const { status } = pack && entries
      ? await nativeAddon().decodePackedBatch(pack.index.file, images, { ...settings, ...entryColumns(pack.index, entries) })
      : await nativeAddon().decodeImageBatch(Array.from(list, (index) => dataset.files[index]), images, settings);
    pending = pending.filter((k) => status[k] !== 0);
  }
  const failures = new Map<number, { message: string; cause: unknown }>();
  await mapLimited(pending, DECODE_CONCURRENCY, async (k) => {
    const index = list[k];
    const random = seededRandom(((options.seed ?? 0) * 1000003 + index) % 2 ** 52);
    try {
      const pixels = pack && entries
        ? await decodeOne(await readPackEntry(pack.index, entries[k]), size, options.augment, random,
          pack.index.raw[entries[k]] ? { width: pack.index.widths[entries[k]], height: pack.index.heights[entries[k]] } : undefined)
        : await decodeOne(dataset.files[index], size, options.augment, random);
      // HWC from the decoder to the CHW planes the addon takes, natively: no per-pixel loop in JS.
      nativeAddon().interleavedToPlanar(pixels, images, { offset: k * imageBytes, channels: CHANNELS });
    } catch (cause) {
      failures.set(k, { message: (cause as Error).message, cause });
    }
  });
  if (policy === 'fail' && failures.size > 0) {
    // The first undecodable file in batch order, whichever decoder finished first.
    const first = Math.min(...failures.keys());
    throw undecodable(nameOf(first), failures.get(first)!.message, failures.get(first)!.cause);
  }
  const skipped = [...failures.keys()].sort((a, b) => a - b).map((k) => ({ file: nameOf(k), message: failures.get(k)!.message }));
  const count = list.length - skipped.length;
  const labels = new Int32Array(count);
  let position = 0;
  for (let k = 0; k < list.length; k++) {
    if (failures.has(k)) continue;
    // Closing the gaps of skipped files: one memmove per image.
    if (position !== k) images.copyWithin(position * imageBytes, k * imageBytes, (k + 1) * imageBytes);
    labels[position] = dataset.labels[list[k]];
    position++;
  }
  return { images: count === list.length ? images : images.slice(0, count * imageBytes), labels, count, skipped };
}

/** Decodes a whole (small) folder dataset into memory with the evaluation transform, e.g. the test subset of a run. */
export async function decodeToMemory(dataset: ImageFolderDataset, onDecodeError: DecodeErrorPolicy = 'fail', onSkip?: (file: string, message: string) => void, threads?: number): Promise<ImageDataset> {
  const indices = Int32Array.from({ length: dataset.count }, (_, i) => i);
  const batch = await decodeBatch(dataset, indices, { augment: false, onDecodeError, threads });
  for (const { file, message } of batch.skipped) onSkip?.(file, message);
  return {
    name: dataset.name,
    split: dataset.split,
    images: batch.images,
    labels: batch.labels,
    shape: [...dataset.shape],
    classNames: [...dataset.classNames],
    count: batch.count,
    source: dataset.source + (batch.skipped.length ? `; ${batch.skipped.length} undecodable files skipped` : ''),
  };
}
