#!/usr/bin/env node
/**
 * Input pipeline throughput beside what training consumes, in one run (run `npx tsc -p tsconfig.json` first):
 *  1. a 32x32 in-memory dataset: batch assembly (gather by a shuffled order) + native crop/flip augmentation;
 *  2. a folder of JPEGs (ImageNet-like, 500x375) decoded by sharp to 224x224 with random-resized crop + flip,
 *     through the bounded prefetch queue, and with the evaluation transform (resize + center crop);
 *  3. the training step on the same machine: PreActResNet-18 PGD-10 AT at 32x32, ResNet-50 FGSM-RS at 224x224.
 * Usage: node scripts/bench/data-throughput.js [--threads N] [--jpegs N] [--train-images N]
 */
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

const dist = path.join(__dirname, '..', '..', 'dist');
const { Model, setThreads } = require(path.join(dist, 'index.js'));
const { nativeAddon } = require(path.join(dist, 'native.js'));
const { decodeBatch, loadImageFolder, prefetch, shuffledIndices } = require(path.join(dist, 'data', 'index.js'));
const { train } = require(path.join(dist, 'train', 'trainer.js'));

function option(name, fallback) {
  const at = process.argv.indexOf(name);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
}
const THREADS = option('--threads', os.cpus().length);
const JPEGS = option('--jpegs', 96);
const TRAIN_IMAGES = option('--train-images', 32);
const BATCH = 128;
const seconds = (start) => Number(process.hrtime.bigint() - start) / 1e9;

async function memory32() {
  const count = 50000;
  const bytes = 3 * 32 * 32;
  const images = new Uint8Array(count * bytes);
  for (let i = 0; i < images.length; i += 4096) images[i] = i & 255;
  const order = shuffledIndices(count, 1);
  const batch = new Uint8Array(BATCH * bytes);
  const start = process.hrtime.bigint();
  let done = 0;
  for (let from = 0; from + BATCH <= count; from += BATCH) {
    for (let k = 0; k < BATCH; k++) batch.set(images.subarray(order[from + k] * bytes, (order[from + k] + 1) * bytes), k * bytes);
    nativeAddon().augmentImages({ images: batch, shape: [BATCH, 3, 32, 32] }, { cropPadding: 4, horizontalFlip: true, seed: from });
    done += BATCH;
  }
  return done / seconds(start);
}

async function jpegFolder(folder) {
  const sharp = require('sharp');
  const wnids = ['n00000001', 'n00000002'];
  for (const wnid of wnids) fs.mkdirSync(path.join(folder, 'train', wnid), { recursive: true });
  const noise = Buffer.alloc(500 * 375 * 3);
  for (let i = 0; i < JPEGS; i++) {
    for (let p = 0; p < noise.length; p++) noise[p] = (p * 7 + i * 13 + ((p * 2654435761) >>> 24)) & 255;
    const jpeg = await sharp(noise, { raw: { width: 500, height: 375, channels: 3 } }).blur(1.2).jpeg({ quality: 90 }).toBuffer();
    fs.writeFileSync(path.join(folder, 'train', wnids[i % 2], `img_${i}.JPEG`), jpeg);
  }
  const dataset = loadImageFolder('train', folder, { imageSize: 224 });
  const meanFileKb = dataset.files.reduce((sum, file) => sum + fs.statSync(file).size, 0) / dataset.count / 1024;
  const rate = async (augment) => {
    const chunk = 32;
    const order = shuffledIndices(dataset.count, 2);
    const producers = [];
    for (let from = 0; from < dataset.count; from += chunk) producers.push(() => decodeBatch(dataset, order.subarray(from, from + chunk), { augment, seed: from }));
    const start = process.hrtime.bigint();
    let done = 0;
    for await (const batch of prefetch(producers, 2)) done += batch.count;
    return done / seconds(start);
  };
  return { trainRate: await rate(true), evalRate: await rate(false), meanFileKb };
}

async function trainingRate(architecture, side, method, steps) {
  const classNames = Array.from({ length: 10 }, (_, k) => `c${k}`);
  const model = Model.create({ architecture, inputShape: [3, side, side], classNames, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });
  const images = new Uint8Array(TRAIN_IMAGES * 3 * side * side).map((_, i) => (i * 31) & 255);
  const labels = Int32Array.from({ length: TRAIN_IMAGES }, (_, i) => i % 10);
  const eps = 8 / 255;
  const attack = method === 'pgd' ? { kind: 'pgd', eps, steps, stepSize: 2 / 255, randomStart: true } : { kind: 'fgsm', eps, randomStart: true, stepSize: 1.25 * eps };
  const [record] = await train(model, { images, labels, count: TRAIN_IMAGES }, { method, epochs: 1, schedule: { kind: 'constant', lr: 0.01 }, attack, batchSize: Math.min(32, TRAIN_IMAGES) });
  return record.imagesPerSecond;
}

(async () => {
  setThreads(THREADS);
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'classwise-bench-'));
  try {
    console.log(`data throughput benchmark: ${THREADS} threads, ${os.cpus().length} cores (${os.cpus()[0].model}), sharp ${require('sharp').versions.sharp}, UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? 4}`);
    const rate32 = await memory32();
    const jpeg = await jpegFolder(temp);
    const train32 = await trainingRate('preact-resnet18', 32, 'pgd', 10);
    const train224 = await trainingRate('resnet50', 224, 'fgsm-rs', 1);
    const rows = [
      ['32x32 in memory: gather + crop(4)/flip, batch 128', rate32, 'PreActResNet-18 PGD-10 AT step', train32],
      [`JPEG 500x375 (${jpeg.meanFileKb.toFixed(0)} KB) -> 224 random-resized crop + flip`, jpeg.trainRate, 'ResNet-50 FGSM-RS AT step, 224x224', train224],
      ['JPEG 500x375 -> resize 256 + center crop 224 (evaluation)', jpeg.evalRate, '', NaN],
    ];
    console.log('input pipeline                                            images/s | training step consumes           images/s | data / training');
    for (const [what, rate, step, consume] of rows) {
      console.log(`${what.padEnd(58)}${rate.toFixed(0).padStart(8)} | ${step.padEnd(34)}${Number.isNaN(consume) ? '        ' : consume.toFixed(1).padStart(8)} | ${Number.isNaN(consume) ? '' : (rate / consume).toFixed(0) + 'x'}`);
    }
  } finally {
    fs.rmSync(temp, { recursive: true, force: true });
  }
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
