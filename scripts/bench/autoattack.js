#!/usr/bin/env node
// The standard AutoAttack (APGD-CE -> APGD-T -> FAB-T -> Square, 100 steps, 9 targets, 5000 queries), ours vs
// fra31's reference package (pyautoattack), same weights, images and threads, in the same run: seconds per
// image and the ratio. The cascade's cost depends on the model (points broken early skip later stages), so the
// bench attacks a PGD-trained SmallCNN on Fashion-MNIST (trained here in about a minute, or --checkpoint).
//   node scripts/bench/autoattack.js [--checkpoint FILE] [--images 100] [--threads 2] [--eps 0.1]
//        [--steps 100] [--queries 5000] [--out autoattack-bench.json]
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { parseArgs } = require('util');
const { Model, attack, loadFashionMnist, takePerClass, train, setThreads, runtimeInfo, RECIPES } = require('../../dist/index.js');

const { values } = parseArgs({
  options: {
    checkpoint: { type: 'string' },
    images: { type: 'string', default: '100' },
    threads: { type: 'string', default: '2' },
    eps: { type: 'string', default: '0.1' },
    steps: { type: 'string', default: '100' },
    queries: { type: 'string', default: '5000' },
    out: { type: 'string', default: 'autoattack-bench.json' },
  },
});

async function fixture(folder) {
  if (values.checkpoint) return (await Model.load(values.checkpoint, { device: 'cpu' })).model;
  const trainSet = takePerClass(loadFashionMnist('train'), 300, 3);
  const recipe = RECIPES['fashion-mnist'];
  const model = Model.create({ architecture: 'smallcnn', inputShape: [1, 28, 28], classNames: trainSet.classNames,
    mean: recipe.mean, std: recipe.std, device: 'cpu', seed: 3 });
  await train(model, trainSet, { method: 'pgd', epochs: 4, schedule: { kind: 'cyclic', lrMax: 0.05, peakFraction: 0.4 },
    attack: { kind: 'pgd', eps: Number(values.eps), steps: 5 }, batchSize: 64, seed: 3 });
  values.checkpoint = path.join(folder, 'smallcnn.safetensors');
  await model.save(values.checkpoint);
  return model;
}

async function main() {
  const threads = Number(values.threads);
  setThreads(threads);
  const eps = Number(values.eps), steps = Number(values.steps), queries = Number(values.queries);
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'autoattack-bench-'));
  const model = await fixture(folder);
  const count = Number(values.images);
  const test = takePerClass(loadFashionMnist('test'), Math.ceil(count / 10), 1);
  const images = Float32Array.from(test.images, (v) => v / 255);
  const labels = test.labels;
  fs.writeFileSync(path.join(folder, 'images.f32'), Buffer.from(images.buffer));
  fs.writeFileSync(path.join(folder, 'labels.i32'), Buffer.from(labels.buffer));

  const started = process.hrtime.bigint();
  const ours = await attack(model, images, labels, { kind: 'autoattack', eps, steps, queries, seed: 0, batchSize: 250 });
  const oursSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const oursRobust = ours.predictions.filter((p, i) => p === labels[i]).length / labels.length;

  const outDir = path.join(folder, 'reference');
  const run = spawnSync(runtimeInfo().torchPython, [path.join(__dirname, '..', 'reference', 'peers.py'), values.checkpoint,
    path.join(folder, 'images.f32'), path.join(folder, 'labels.i32'), '--library', 'autoattack', '--attack', 'autoattack',
    '--eps', String(eps), '--steps', String(steps), '--queries', String(queries), '--threads', String(threads), '--out-dir', outDir],
  { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(threads) }, maxBuffer: 1 << 26 });
  if (run.status !== 0) throw new Error(`reference AutoAttack failed:\n${run.stderr}`);
  const reference = JSON.parse(fs.readFileSync(path.join(outDir, 'summary.json'), 'utf8'));

  const result = {
    images: labels.length, threads, eps, steps, queries,
    standard: ours.ensemble.standard,
    ours: { secondsPerImage: oursSeconds / labels.length, seconds: oursSeconds, robustAccuracy: oursRobust },
    reference: { package: 'pyautoattack 0.2.0 (fra31/auto-attack)', torch: reference.torch, secondsPerImage: reference.seconds / labels.length,
      seconds: reference.seconds, robustAccuracy: reference.robustAccuracy },
  };
  result.ratio = result.reference.secondsPerImage / result.ours.secondsPerImage;
  console.log(`standard AutoAttack (standard: ${result.standard}), ${labels.length} Fashion-MNIST images, SmallCNN, eps ${eps}, ${threads} threads`);
  console.log(`  ours:      ${(1000 * result.ours.secondsPerImage).toFixed(1)} ms/image, robust ${(100 * oursRobust).toFixed(1)}%`);
  console.log(`  reference: ${(1000 * result.reference.secondsPerImage).toFixed(1)} ms/image, robust ${(100 * reference.robustAccuracy).toFixed(1)}%`);
  console.log(`  ratio (reference time / ours): ${result.ratio.toFixed(2)}x`);
  fs.writeFileSync(values.out, JSON.stringify(result, null, 1));
  fs.rmSync(folder, { recursive: true, force: true });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
