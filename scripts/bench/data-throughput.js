#!/usr/bin/env node
/**
 * ImageNet input pipeline throughput, in one run on the same files (run `npx tsc -p tsconfig.json` first): images/s
 * of 224x224 random-resized-crop + flip uint8 batches (batch 128, two batches prefetched) from
 *   sharp      the folder through sharp (libvips on libuv's threads)
 *   native     the folder through the addon's libjpeg-turbo decoder (the crop's region only) on --threads native threads
 *   pack       the packed dataset (classwise-at pack, --max-side 256, quality 90) of the same files, memory-mapped,
 *              in its page-local epoch order, through the same native decoder: DIR/imagenet-train.cwpack when
 *              --data-dir has one, else packed here into a temporary file (packing images/s reported too)
 *   reference  PIL + numpy transforms in a torch.utils.data.DataLoader, one worker per thread, on the torch the
 *              addon links (null when that Python has no Pillow)
 *   trainStep  what the training step consumes: ResNet-50 FGSM-RS at 224 (fp32 on the CPU)
 * Usage: node scripts/bench/data-throughput.js [--data-dir DIR | --synthetic N] [--threads N] [--json FILE]
 *        [--train-images N (0: skip the training step)]
 * Without --data-dir it writes N (default 300) ImageNet-like JPEGs (500x375, quality 90) to a temporary folder.
 */
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { parseArgs } = require('util');

const dist = path.join(__dirname, '..', '..', 'dist');
const { Model, runtimeInfo, setThreads } = require(path.join(dist, 'index.js'));
const { decodeBatch, loadImageFolder, loadPackDataset, packFileName, pageLocalOrder, prefetch, shuffledIndices, writePack } = require(path.join(dist, 'data', 'index.js'));
const { nativeJpegDecoding } = require(path.join(dist, 'data', 'imagenet.js'));
const { train } = require(path.join(dist, 'train', 'trainer.js'));

const { values } = parseArgs({
  options: {
    'data-dir': { type: 'string' },
    synthetic: { type: 'string', default: '300' },
    threads: { type: 'string', default: String(os.cpus().length) },
    json: { type: 'string' },
    'train-images': { type: 'string', default: '16' },
  },
});
const THREADS = Number(values.threads);
const TRAIN_IMAGES = Number(values['train-images']);
const SIZE = 224;
const BATCH = 128;
const seconds = (start) => Number(process.hrtime.bigint() - start) / 1e9;

/** ImageNet-like photographs: smooth colour fields with texture, 500x375, quality 90, in two classes. */
async function writeSyntheticFolder(folder, count) {
  const sharp = require('sharp');
  const wnids = ['n00000001', 'n00000002'];
  for (const wnid of wnids) fs.mkdirSync(path.join(folder, 'train', wnid), { recursive: true });
  const [width, height] = [500, 375];
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < count; i++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const at = (y * width + x) * 3;
        const texture = ((x * 2654435761 + y * 40503 + i * 97) >>> 26) * 3;
        pixels[at] = (128 + 90 * Math.sin((x + 17 * i) / 37) * Math.cos(y / 29) + texture) & 255;
        pixels[at + 1] = ((255 * x) / width + texture) & 255;
        pixels[at + 2] = (128 + 100 * Math.sin((x + y + 11 * i) / 53) + texture) & 255;
      }
    }
    const jpeg = await sharp(pixels, { raw: { width, height, channels: 3 } }).blur(0.8).jpeg({ quality: 90 }).toBuffer();
    fs.writeFileSync(path.join(folder, 'train', wnids[i % 2], `img_${String(i).padStart(5, '0')}.JPEG`), jpeg);
  }
}

/** Images/s of one epoch of random-resized-crop batches through the prefetch queue. */
async function folderRate(dataset, decoder) {
  const order = dataset.pack ? pageLocalOrder(Int32Array.from(dataset.pack.entries, (entry) => dataset.pack.index.blockOf[entry]), 2) : shuffledIndices(dataset.count, 2);
  const producers = [];
  for (let from = 0; from < dataset.count; from += BATCH) {
    producers.push(() => decodeBatch(dataset, order.subarray(from, from + BATCH), { augment: true, seed: from, decoder, threads: THREADS }));
  }
  const start = process.hrtime.bigint();
  let done = 0;
  for await (const batch of prefetch(producers, 2)) done += batch.count;
  return done / seconds(start);
}

function referenceRate(trainFolder) {
  const python = process.env.CLASSWISE_REFERENCE_PYTHON ?? runtimeInfo().torchPython;
  if (!python) return { rate: null, why: 'no Python with torch (bash scripts/setup.sh test)' };
  try {
    execFileSync(python, ['-c', 'import PIL'], { stdio: 'ignore' });
  } catch {
    return { rate: null, why: `${python} has no Pillow (pip install pillow there)` };
  }
  const output = execFileSync(python, [path.join(__dirname, 'data-reference.py'), trainFolder, String(THREADS), String(SIZE), '32'], { encoding: 'utf8' });
  return { rate: JSON.parse(output.trim().split('\n').pop()).imagesPerSecond };
}

async function trainStepRate() {
  const classNames = Array.from({ length: 10 }, (_, k) => `c${k}`);
  const model = Model.create({ architecture: 'resnet50', inputShape: [3, SIZE, SIZE], classNames, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });
  const images = new Uint8Array(TRAIN_IMAGES * 3 * SIZE * SIZE).map((_, i) => (i * 31) & 255);
  const labels = Int32Array.from({ length: TRAIN_IMAGES }, (_, i) => i % 10);
  const eps = 4 / 255;
  const attack = { kind: 'fgsm', eps, randomStart: true, stepSize: 1.25 * eps };
  const [record] = await train(model, { images, labels, count: TRAIN_IMAGES }, { method: 'fgsm-rs', epochs: 1, schedule: { kind: 'constant', lr: 0.01 }, attack, batchSize: Math.min(16, TRAIN_IMAGES) });
  return record.imagesPerSecond;
}

(async () => {
  setThreads(THREADS);
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'classwise-bench-'));
  try {
    const root = values['data-dir'] ?? temp;
    if (!values['data-dir']) await writeSyntheticFolder(temp, Number(values.synthetic));
    const dataset = loadImageFolder('train', root, { imageSize: SIZE });
    const meanFileKb = dataset.files.reduce((sum, file) => sum + fs.statSync(file).size, 0) / dataset.count / 1024;
    console.log(`data throughput: ${dataset.count} files (${meanFileKb.toFixed(0)} KB on average) under ${root}; ${THREADS} threads, ` +
      `${os.cpus().length} cores (${os.cpus()[0].model}), sharp ${require('sharp').versions.sharp}, UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? 4}`);
    // One untimed pass warms the page cache for every path alike.
    await folderRate(dataset, 'sharp');
    const result = { threads: THREADS, files: dataset.count, meanFileKb: Number(meanFileKb.toFixed(1)) };
    result.sharp = await folderRate(dataset, 'sharp');
    result.native = nativeJpegDecoding() ? await folderRate(dataset, 'native') : null;
    let packFile = values['data-dir'] && path.join(root, packFileName('imagenet', 'train'));
    if (!packFile || !fs.existsSync(packFile)) {
      packFile = path.join(temp, 'bench.cwpack');
      const started = process.hrtime.bigint();
      const packed = await writePack({ dataset: 'imagenet', dataDir: root, split: 'train', out: packFile });
      result.packWriteRate = packed.images / seconds(started);
      result.packMeanKb = Number((fs.statSync(packFile).size / packed.images / 1024).toFixed(1));
    }
    const packed = loadPackDataset(packFile, 'train', { dataset: 'imagenet', imageSize: SIZE });
    // Its untimed pass checks each block's CRC once, as a training process does in its first epoch.
    await folderRate(packed, 'native');
    result.pack = nativeJpegDecoding() ? await folderRate(packed, 'native') : await folderRate(packed, 'sharp');
    const reference = referenceRate(path.join(root, 'train'));
    result.reference = reference.rate;
    result.trainStep = TRAIN_IMAGES > 0 ? await trainStepRate() : null;
    const show = (value) => (value === null ? 'n/a' : value.toFixed(0));
    console.log(`224x224 random-resized crop + flip, batch ${BATCH}, images/s`);
    console.log(`  folder, sharp                 ${show(result.sharp)}`);
    console.log(`  folder, native (libjpeg)      ${show(result.native)}${result.native ? `  (${(result.native / result.sharp).toFixed(2)}x sharp)` : ''}`);
    console.log(`  pack                          ${show(result.pack)}  (${(result.pack / result.sharp).toFixed(2)}x sharp${result.reference ? `, ${(result.pack / result.reference).toFixed(2)}x the reference` : ''}${result.packMeanKb ? `; ${result.packMeanKb} KB an image, packed at ${result.packWriteRate.toFixed(0)} images/s` : ''})`);
    console.log(`  PyTorch DataLoader reference  ${show(result.reference)}${reference.why ? ` (${reference.why})` : ''}${result.reference && result.native ? `  (native ${(result.native / result.reference).toFixed(2)}x)` : ''}`);
    console.log(`  ResNet-50 FGSM-RS step        ${result.trainStep === null ? 'skipped' : result.trainStep.toFixed(1)}`);
    if (values.json) fs.writeFileSync(values.json, JSON.stringify(result, null, 2) + '\n');
  } finally {
    fs.rmSync(temp, { recursive: true, force: true });
  }
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
