// One rank of the data-parallel scaling bench (scripts/bench/scaling.js): SmallCNN PGD-10 adversarial training on
// the first --images Fashion-MNIST training images, one warm-up epoch, then one timed epoch. The rank comes from
// torchrun's variables (none: one process). Prints one JSON line: images, seconds.
'use strict';
const { parseArgs } = require('util');
const lib = require('../../dist/index.js');

const { values } = parseArgs({ options: { images: { type: 'string' }, batch: { type: 'string' }, threads: { type: 'string' } } });

async function main() {
  lib.setThreads(Number(values.threads));
  const joined = await lib.processGroupFromEnvironment({ device: 'cpu', timeoutSeconds: 600 });
  const group = joined?.group;
  const data = lib.takeFirst(lib.loadFashionMnist('train'), Number(values.images));
  const model = lib.Model.create({ architecture: 'smallcnn', inputShape: data.shape, classNames: data.classNames, mean: [0.286], std: [0.353], device: 'cpu', seed: 0 });
  const options = { method: 'pgd', epochs: 2, schedule: { kind: 'constant', lr: 0.01 }, attack: { kind: 'pgd', eps: 0.1, steps: 10 }, batchSize: Number(values.batch), processGroup: group };
  await lib.train(model, data, { ...options, epochs: 1 });
  await group?.barrier('the start of the timed epoch');
  const started = process.hrtime.bigint();
  await lib.train(model, data, { ...options, startEpoch: 1 });
  await group?.barrier('the end of the timed epoch');
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(JSON.stringify({ rank: group?.rank ?? 0, images: data.count, seconds }) + '\n');
}

main().catch((error) => {
  process.stderr.write(`scaling rank: ${error.message}\n`);
  process.exitCode = 1;
});
