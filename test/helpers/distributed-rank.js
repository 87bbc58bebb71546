// One rank of the data-parallel tests (test/distributed/): the job comes as JSON in argv[2], the rank from the
// launcher's environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT); without those it runs as one process.
// Plain JavaScript over dist/, so that a rank starts without compiling TypeScript. Prints JSON lines on stdout.
const path = require('path');
const lib = require(path.join(__dirname, '..', '..', 'dist', 'index.js'));

const job = JSON.parse(process.argv[2]);
const say = (event) => process.stdout.write(JSON.stringify(event) + '\n');

/** Deterministic uint8 images for models that need 3x32x32 input (PreActResNet-18). */
function syntheticSet(count, shape, classes, seed) {
  const [c, h, w] = shape;
  const images = new Uint8Array(count * c * h * w);
  let state = seed >>> 0;
  for (let i = 0; i < images.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    images[i] = state >>> 24;
  }
  const labels = Int32Array.from({ length: count }, (_, i) => i % classes);
  return { images, labels, count, shape, classNames: Array.from({ length: classes }, (_, k) => `class${k}`) };
}

function dataFor(job) {
  if (job.data === 'synthetic') return syntheticSet(job.count, [3, 32, 32], 10, 7);
  return lib.takeFirst(lib.loadMnistSample('train'), job.count);
}

function createModel(job, data) {
  return lib.Model.create({
    architecture: job.architecture ?? 'smallcnn',
    inputShape: data.shape,
    classNames: data.classNames,
    mean: data.shape[0] === 3 ? [0.5, 0.5, 0.5] : [0.5], std: data.shape[0] === 3 ? [0.5, 0.5, 0.5] : [0.5],
    device: 'cpu',
    seed: 1,
  });
}

function trainOptions(job, group) {
  return {
    method: job.method ?? 'pgd',
    epochs: job.epochs ?? 1,
    schedule: { kind: 'constant', lr: job.lr ?? 0.05 },
    attack: { kind: 'pgd', eps: 0.3, steps: job.steps ?? 3 },
    batchSize: job.batchSize,
    seed: 3,
    processGroup: group,
    // The exact reference path: ranks are compared with one process value for value.
    precision: 'fp32',
    memoryFormat: 'contiguous',
  };
}

/** A digest of tensors whose name matches, to compare ranks without printing the tensors. */
function digest(state, pattern) {
  const sums = {};
  for (const [name, tensor] of Object.entries(state)) {
    if (!pattern.test(name) || tensor.dtype !== 'F32') continue;
    const values = new Float32Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength / 4);
    sums[name] = values.reduce((a, b) => a + b, 0);
  }
  return sums;
}

async function main() {
  lib.setThreads(1);
  const joined = await lib.processGroupFromEnvironment({ timeoutSeconds: job.timeoutSeconds ?? 60, device: 'cpu' });
  const group = joined?.group;
  const rank = group?.rank ?? 0;
  say({ event: 'joined', rank, worldSize: group?.worldSize ?? 1 });
  const data = dataFor(job);
  if (job.kind === 'train') {
    const model = createModel(job, data);
    await lib.train(model, data, { ...trainOptions(job, group), onEpochEnd: (record) => say({ event: 'epoch', rank, epoch: record.epoch }) });
    if (rank === 0 && job.save) await model.save(job.save);
    say({ event: 'done', rank });
  } else if (job.kind === 'evaluate') {
    const model = (await lib.Model.load(job.checkpoint, { device: 'cpu' })).model;
    const test = lib.takeFirst(lib.loadMnistSample('test'), job.count);
    const result = await lib.evaluate(model, test, { attack: { kind: 'pgd', eps: 0.3, steps: 5 }, batchSize: job.batchSize, seed: 11, processGroup: group, precision: 'fp32', memoryFormat: 'contiguous' });
    say({ event: 'evaluation', rank, counts: result.counts, cleanConfusion: result.cleanConfusion, adversarialConfusion: result.adversarialConfusion,
      cleanPredictions: Array.from(result.cleanPredictions), adversarialPredictions: Array.from(result.adversarialPredictions),
      meanLoss: result.meanLoss, meanGradientNorm: result.meanGradientNorm });
  } else if (job.kind === 'batchnorm') {
    // One native epoch, then the BatchNorm buffers before and after taking rank 0's.
    const model = createModel(job, data);
    await model.native.synchronize({ processGroup: group.native, parameters: true });
    const order = Int32Array.from({ length: data.count }, (_, i) => i).filter((_, i) => i % group.worldSize === rank);
    const steps = Math.ceil(order.length / (job.batchSize / group.worldSize));
    const result = await model.native.train({ images: data.images, labels: data.labels, order, learningRates: new Float64Array(steps).fill(0.01) },
      { method: 'standard', momentum: 0.9, weightDecay: 5e-4, nesterov: false,
        batchSize: job.batchSize / group.worldSize, seed: 5, processGroup: group.native });
    const before = digest(await model.state(), /running_mean$/);
    const weightsBefore = digest(await model.state(), /weight$/);
    await model.native.synchronize({ processGroup: group.native, parameters: false });
    const after = digest(await model.state(), /running_mean$/);
    say({ event: 'batchnorm', rank, loss: result.lossSum / result.seen, seen: result.seen, before, after, weightsBefore });
  }
}

main().catch((error) => {
  process.stderr.write(`error (rank ${process.env.RANK ?? 0}): [${error.code ?? 'no code'}] ${error.message}\n`);
  process.exitCode = 1;
});
