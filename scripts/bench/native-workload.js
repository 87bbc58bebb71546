#!/usr/bin/env node
// One benchmark workload on the addon, in its own process so peak memory is its own. Prints one JSON line.
// usage: native-workload.js WORKLOAD --arch A --images N --batch B --threads T --steps S --eps E
//        [--device D] [--data FILE.u8 --labels FILE.i32] [--warmup N] [--repeats N]
//        [--precision fp32|bf16|auto] [--memory-format contiguous|channels_last|auto]
'use strict';
const fs = require('fs');
const { parseArgs } = require('util');
const { Model, setThreads, runtimeInfo } = require('../../dist/index.js');

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    arch: { type: 'string' }, images: { type: 'string' }, batch: { type: 'string' }, threads: { type: 'string' },
    steps: { type: 'string', default: '10' }, eps: { type: 'string', default: String(8 / 255) },
    device: { type: 'string', default: 'cpu' }, data: { type: 'string' }, labels: { type: 'string' },
    warmup: { type: 'string', default: '1' },
    repeats: { type: 'string', default: '3' },
    precision: { type: 'string', default: 'auto' },
    'memory-format': { type: 'string', default: 'auto' },
  },
});
const workload = positionals[0];
const images = Number(values.images);
const batch = Number(values.batch);
const steps = Number(values.steps);
const eps = Number(values.eps);
setThreads(Number(values.threads));
const [channels, size] = values.arch === 'smallcnn' ? [1, 28] : [3, 32];
const perImage = channels * size * size;

// Same inputs as the reference: real files when given, else seeded noise (content does not change speed).
let pixels;
let labels;
if (values.data) {
  pixels = new Uint8Array(fs.readFileSync(values.data)).subarray(0, images * perImage);
  labels = new Int32Array(new Uint8Array(fs.readFileSync(values.labels)).buffer).subarray(0, images);
} else {
  pixels = new Uint8Array(images * perImage);
  let state = 12345;
  for (let i = 0; i < pixels.length; i++) pixels[i] = (state = (state * 1103515245 + 12345) >>> 0) >>> 24;
  labels = Int32Array.from({ length: images }, (_, i) => i % 10);
}
const floats = Float32Array.from(pixels, (p) => p / 255);

const model = Model.create({
  architecture: values.arch,
  inputShape: [channels, size, size],
  classNames: Array.from({ length: 10 }, (_, k) => String(k)),
  mean: Array(channels).fill(0.5),
  std: Array(channels).fill(0.25),
  device: values.device,
  seed: 0,
});
const attack = { kind: 'pgd', eps, steps, stepSize: (2.5 * eps) / steps };
const order = Int32Array.from({ length: images }, (_, i) => i);
const steps_ = Math.ceil(images / batch);
const fastPath = { precision: values.precision, memoryFormat: values['memory-format'] };
let used;

async function onePass() {
  if (workload === 'pgd-train') {
    used = await model.native.train(
      { images: pixels, labels, order, learningRates: new Float64Array(steps_).fill(0.01) },
      { method: 'pgd', attack, momentum: 0.9, weightDecay: 5e-4, nesterov: false, batchSize: batch, seed: 0, ...fastPath },
    );
  } else if (workload === 'pgd-eval') {
    used = await model.native.evaluate({ images: pixels, labels }, { attack, batchSize: batch, seed: 0, ...fastPath });
  } else {
    used = await model.native.attack({ images: floats, labels }, { attack, batchSize: batch, seed: 0, ...fastPath });
  }
}

(async () => {
  for (let i = 0; i < Number(values.warmup); i++) await onePass();
  // The median of several timed passes: single passes vary by about 10% on a shared 2-core machine.
  // Each pass's wall-clock window (ms since the epoch) comes too, so ceiling.js can pick that pass's kernels out of
  // oneDNN's time-stamped log.
  const passes = [];
  for (let i = 0; i < Number(values.repeats); i++) {
    const startedMs = Date.now();
    const started = process.hrtime.bigint();
    await onePass();
    passes.push({ seconds: Number(process.hrtime.bigint() - started) / 1e9, window: [startedMs, Date.now()] });
  }
  const { seconds, window } = passes.sort((a, b) => a.seconds - b.seconds)[Math.floor(passes.length / 2)];
  const info = runtimeInfo();
  console.log(JSON.stringify({
    workload, arch: values.arch, images, seconds, imagesPerSecond: images / seconds, window,
    peakBytes: process.resourceUsage().maxRSS * 1024, torch: info.torchVersion, threads: info.threads,
    precision: used.precision, memoryFormat: used.memoryFormat, cpuCachingAllocator: info.cpuCachingAllocator,
  }));
})().catch((error) => {
  console.error(error.message);
  process.exit(1);
});
