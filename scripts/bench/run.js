#!/usr/bin/env node
// `npm run bench`: each workload on the addon and on the PyTorch eager reference (scripts/bench/reference.py),
// same device, batch size, thread count and inputs, in the same run. Prints a table of images/s, seconds per
// epoch, peak memory and the ratio to the reference; writes the same as JSON.
//   --quick            fewer images (a smoke run)
//   --only NAME[,..]   run only these workloads
//   --device cpu|cuda  (default: cuda when the addon sees it, else cpu)
//   --out FILE         JSON output (default bench-results.json)
//   --no-scaling       skip the data-parallel CPU scaling section (1 -> 2 processes, scripts/bench/scaling.js)
'use strict';
const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { parseArgs } = require('util');
const Table = require('cli-table3');
const { loadFashionMnist, runtimeInfo } = require('../../dist/index.js');

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    device: { type: 'string' },
    threads: { type: 'string' },
    out: { type: 'string', default: 'bench-results.json' },
    'no-scaling': { type: 'boolean', default: false },
  },
});
const runtime = runtimeInfo();
const device = values.device ?? (runtime.cudaAvailable ? 'cuda' : 'cpu');
const threads = Number(values.threads ?? os.cpus().length);
const gpu = device.startsWith('cuda');

// Image counts sized so the whole CPU bench ends in minutes; epoch seconds are extrapolated from them.
const scale = values.quick ? 0.25 : 1;
const workloads = [
  { name: 'smallcnn-fmnist pgd10-train', arch: 'smallcnn', workload: 'pgd-train', steps: 10, eps: 0.1, images: gpu ? 8192 : 1024, batch: 128, epochImages: 60000, data: 'fashion-mnist' },
  { name: 'smallcnn-fmnist pgd10-attack', arch: 'smallcnn', workload: 'pgd-attack', steps: 10, eps: 0.1, images: gpu ? 8192 : 1024, batch: 128, epochImages: 10000, data: 'fashion-mnist' },
  { name: 'smallcnn-fmnist pgd20-eval', arch: 'smallcnn', workload: 'pgd-eval', steps: 20, eps: 0.1, images: gpu ? 8192 : 512, batch: 256, epochImages: 10000, data: 'fashion-mnist' },
  { name: 'preact18-32x32 pgd10-train', arch: 'preact-resnet18', workload: 'pgd-train', steps: 10, eps: 8 / 255, images: gpu ? 4096 : 64, batch: gpu ? 128 : 32, epochImages: 50000 },
  { name: 'preact18-32x32 pgd10-attack', arch: 'preact-resnet18', workload: 'pgd-attack', steps: 10, eps: 8 / 255, images: gpu ? 4096 : 64, batch: gpu ? 256 : 32, epochImages: 10000 },
  { name: 'preact18-32x32 pgd20-eval', arch: 'preact-resnet18', workload: 'pgd-eval', steps: 20, eps: 8 / 255, images: gpu ? 4096 : 32, batch: gpu ? 256 : 32, epochImages: 10000 },
].filter((w) => !values.only || values.only.split(',').some((name) => w.name.includes(name)));

// The reference runs the torch the addon links (runtimeInfo().torchPython), so both sides are one version.
function findPython() {
  for (const candidate of [process.env.CLASSWISE_REFERENCE_PYTHON, runtime.torchPython].filter(Boolean)) {
    if (spawnSync(candidate, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  return null;
}

function fashionMnistFiles(count) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'classwise-bench-'));
  const train = loadFashionMnist('train');
  fs.writeFileSync(path.join(dir, 'images.u8'), train.images.subarray(0, count * 784));
  fs.writeFileSync(path.join(dir, 'labels.i32'), Buffer.from(train.labels.slice(0, count).buffer));
  return { data: path.join(dir, 'images.u8'), labels: path.join(dir, 'labels.i32') };
}

function runJson(command, args) {
  const output = execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(output.trim().split('\n').pop());
}

const python = findPython();
const scaledImages = (w) => Math.max(w.batch, Math.round((w.images * scale) / w.batch) * w.batch);
const files = workloads.some((w) => w.data) ? fashionMnistFiles(Math.max(...workloads.map(scaledImages))) : null;
const results = [];
for (const w of workloads) {
  const images = scaledImages(w);
  const args = [w.workload, '--arch', w.arch, '--images', String(images), '--batch', String(w.batch), '--threads', String(threads),
    '--steps', String(w.steps), '--eps', String(w.eps), '--device', device, '--repeats', String(values.quick ? 1 : 3)];
  if (w.data) args.push('--data', files.data, '--labels', files.labels);
  process.stderr.write(`bench: ${w.name} (${images} images, batch ${w.batch}) ... `);
  const ours = runJson(process.execPath, [path.join(__dirname, 'native-workload.js'), ...args]);
  const reference = python ? runJson(python, [path.join(__dirname, 'reference.py'), ...args]) : null;
  process.stderr.write(`${ours.imagesPerSecond.toFixed(1)} vs ${reference ? reference.imagesPerSecond.toFixed(1) : 'n/a'} img/s\n`);
  results.push({
    ...w, images, ours, reference,
    secondsPerEpoch: w.epochImages / ours.imagesPerSecond,
    referenceSecondsPerEpoch: reference ? w.epochImages / reference.imagesPerSecond : null,
    ratio: reference ? ours.imagesPerSecond / reference.imagesPerSecond : null,
  });
}

const mib = (bytes) => (bytes / 2 ** 20).toFixed(0);
const table = new Table({
  head: ['workload', 'images/s', 'ref images/s', 'ratio', 's/epoch', 'ref s/epoch', 'peak MiB', 'ref peak MiB'],
  style: { head: [], border: [] },
});
for (const r of results) {
  table.push([
    r.name, r.ours.imagesPerSecond.toFixed(1), r.reference ? r.reference.imagesPerSecond.toFixed(1) : 'n/a',
    r.ratio ? `${r.ratio.toFixed(2)}x` : 'n/a', r.secondsPerEpoch.toFixed(0), r.referenceSecondsPerEpoch ? r.referenceSecondsPerEpoch.toFixed(0) : 'n/a',
    mib(r.ours.peakBytes), r.reference ? mib(r.reference.peakBytes) : 'n/a',
  ]);
}
console.log(`classwise-at bench: device ${device}, ${threads} threads, LibTorch ${runtime.torchVersion} (addon) vs PyTorch ${results[0]?.reference?.torch ?? 'n/a'} eager fp32 (${python ?? 'no python torch found'})`);
console.log('epoch sizes: Fashion-MNIST train 60,000 / test 10,000; CIFAR-10-sized train 50,000 / test 10,000 (s/epoch extrapolated from the measured images/s)');
console.log(table.toString());
console.log(`median of ${values.quick ? 1 : 3} timed passes after one warm-up pass, each side in its own process`);
console.log('reference: robust_overfitting-style attack_pgd (loss.backward() also fills weight gradients), eager fp32; ours: input-only gradients, native loop; peak = process max RSS on CPU, max allocated on CUDA');
main().catch((error) => {
  console.error(error.message);
  process.exitCode = 1;
});

async function main() {
  // Data-parallel scaling on the CPU, 1 -> 2 processes (Gloo), same global batch.
  let scalingResult = null;
  if (!gpu && !values['no-scaling']) {
    scalingResult = await require('./scaling.js').scaling({ images: values.quick ? 256 : 512, threads });
    const scalingTable = new Table({ head: ['data parallel, SmallCNN PGD-10 train', 'images/s'], style: { head: [], border: [] } });
    for (const r of scalingResult.rows) scalingTable.push([r.label, r.imagesPerSecond.toFixed(1)]);
    console.log(scalingTable.toString());
    console.log(`scaling 1 -> 2 processes: efficiency ${(100 * scalingResult.efficiency).toFixed(0)}% (2 ranks vs 2 x the single-thread process); ` +
      `2 ranks vs 1 process on the same ${threads} threads: ${scalingResult.versusOneProcessSameCores.toFixed(2)}x`);
  }
  fs.writeFileSync(values.out, JSON.stringify({ device, threads, torch: runtime.torchVersion, python, date: new Date().toISOString(), results, scaling: scalingResult }, null, 1));
  console.log(`wrote ${values.out}`);
}
