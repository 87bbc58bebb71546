#!/usr/bin/env node
// Accuracy must not move with the fast path: Fashion-MNIST, the quick default's recipe (SmallCNN, PGD-5 AT, cyclic
// lr, eps 0.1), trained once under fp32 and once under bf16 + channels_last, each evaluated per class (clean and
// PGD-20) under its own precision; and the fp32-trained model evaluated under fp32 and under bf16 + channels_last.
// Prints both per-class comparisons side by side with the difference in points; writes the numbers as JSON.
// Two trainings differ by more than precision: --seed-control trains fp32 again with another seed, so the table of
// fp32 vs fp32 shows how far two runs that differ only in their random draws land apart per class.
//   --train-per-class N   training images per class (default 1000, the quick default)
//   --eval-per-class N    test images per class (default 200, the quick default)
//   --epochs N            (default 3, the quick default)
//   --threads N           CPU threads (default: all cores)
//   --checkpoint FILE     no training: evaluate this model (e.g. the quick default's best.safetensors) under fp32 and
//                         under bf16 + channels_last
//   --seed-control        also train fp32 with seed + 1 and compare the two fp32 runs
//   --no-bf16-training    leave out the bf16 training (on a CPU that emulates bf16 it takes about 40x fp32's time)
//   --out FILE            JSON output (default precision-accuracy.json)
'use strict';
const fs = require('fs');
const { parseArgs } = require('util');
const Table = require('cli-table3');
const {
  Model, RECIPES, evaluate, loadFashionMnist, loadIntoNative, runConfig, runtimeInfo, setThreads, takePerClass, train,
} = require('../../dist/index.js');
const { evalAttack, recipeTrainOptions } = require('../../dist/run/config.js');
const { shareInterval } = require('../../dist/study/proportions.js');

const { values } = parseArgs({
  options: {
    'train-per-class': { type: 'string', default: '1000' },
    'eval-per-class': { type: 'string', default: '200' },
    epochs: { type: 'string', default: '3' },
    threads: { type: 'string' },
    out: { type: 'string', default: 'precision-accuracy.json' },
    checkpoint: { type: 'string' },
    'seed-control': { type: 'boolean', default: false },
    'no-bf16-training': { type: 'boolean', default: false },
  },
});
if (values.threads) setThreads(Number(values.threads));
const config = runConfig({
  dataset: 'fashion-mnist', trainPerClass: Number(values['train-per-class']), evalPerClass: Number(values['eval-per-class']),
  epochs: Number(values.epochs),
  // The measurement of docs/precision.md: PGD-5 at batch 128, not the quick one-step recipe.
  trainSteps: 5, batchSize: 128,
});
const recipe = RECIPES['fashion-mnist'];
const trainSet = values.checkpoint ? undefined : loadIntoNative(takePerClass(loadFashionMnist('train'), config.trainPerClass, config.seed));
const testSet = loadIntoNative(takePerClass(loadFashionMnist('test'), config.evalPerClass, config.seed + 1));
const FP32 = { precision: 'fp32', memoryFormat: 'contiguous' };
const BF16 = { precision: 'bf16', memoryFormat: 'channels_last' };

async function trained(fastPath, seed = config.seed) {
  const model = Model.create({
    architecture: 'smallcnn', inputShape: trainSet.shape, classNames: trainSet.classNames, mean: recipe.mean, std: recipe.std,
    device: 'cpu', seed,
  });
  const started = Date.now();
  const records = await train(model, trainSet, { ...recipeTrainOptions({ ...config, seed }, false), ...fastPath });
  const seconds = (Date.now() - started) / 1000;
  process.stderr.write(`precision-accuracy: trained under ${records.at(-1).precision}, ${records.at(-1).memoryFormat}, seed ${seed} in ${seconds.toFixed(0)} s\n`);
  return { model, seconds, precision: records.at(-1).precision };
}

async function measured(model, fastPath) {
  const result = await evaluate(model, testSet, { attack: evalAttack(config), seed: config.seed, ...fastPath });
  process.stderr.write(`precision-accuracy: evaluated under ${result.precision} in ${result.seconds.toFixed(0)} s\n`);
  return result;
}

const points = (x) => (100 * x).toFixed(1);
const signed = (x) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}`;
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

function comparison(title, left, right, leftName, rightName) {
  const table = new Table({
    head: ['class', `clean ${leftName}`, `${leftName} 95%`, `clean ${rightName}`, 'diff', 'inside', `PGD-${config.evalSteps} ${leftName}`, `${leftName} 95%`, `PGD-${config.evalSteps} ${rightName}`, 'diff', 'inside'],
    style: { head: [], border: [] },
  });
  // The right side's share against the 95% Wilson interval of the left side's share (same images, same count).
  let inside = 0;
  const against = (share, other, n) => {
    const interval = shareInterval(share, n);
    const within = other >= interval.low && other <= interval.high;
    inside += within ? 1 : 0;
    return [`[${points(interval.low)}, ${points(interval.high)}]`, within ? 'yes' : 'NO'];
  };
  left.classNames.forEach((name, k) => {
    const n = left.counts[k];
    const [cleanInterval, cleanInside] = against(left.cleanAccuracy[k], right.cleanAccuracy[k], n);
    const [robustInterval, robustInside] = against(left.robustAccuracy[k], right.robustAccuracy[k], n);
    table.push([name, points(left.cleanAccuracy[k]), cleanInterval, points(right.cleanAccuracy[k]), signed(right.cleanAccuracy[k] - left.cleanAccuracy[k]), cleanInside,
      points(left.robustAccuracy[k]), robustInterval, points(right.robustAccuracy[k]), signed(right.robustAccuracy[k] - left.robustAccuracy[k]), robustInside]);
  });
  const [lc, rc, lr, rr] = [mean(left.cleanAccuracy), mean(right.cleanAccuracy), mean(left.robustAccuracy), mean(right.robustAccuracy)];
  table.push(['mean', points(lc), '', points(rc), signed(rc - lc), '', points(lr), '', points(rr), signed(rr - lr), '']);
  console.log(`${title} (results report: ${left.precision}/${left.memoryFormat} vs ${right.precision}/${right.memoryFormat})`);
  console.log(table.toString());
  const perClassGap = Math.max(...left.classNames.map((_, k) => Math.max(
    Math.abs(right.cleanAccuracy[k] - left.cleanAccuracy[k]), Math.abs(right.robustAccuracy[k] - left.robustAccuracy[k]))));
  console.log(`mean clean diff ${signed(rc - lc)}, mean robust diff ${signed(rr - lr)} points; largest per-class diff ${points(perClassGap)} points ` +
    `(one test image is ${(100 / config.evalPerClass).toFixed(1)} points of its class); ${inside} of ${2 * left.classNames.length} per-class shares of ${rightName} inside the 95% Wilson interval of ${leftName}`);
  return { meanCleanDiff: rc - lc, meanRobustDiff: rr - lr, largestPerClassDiff: perClassGap, insideInterval: inside, shares: 2 * left.classNames.length };
}

(async () => {
  const info = runtimeInfo();
  console.log(`precision-accuracy: LibTorch ${info.torchVersion}, CPU ${info.cpuCapability}, avx512-bf16 ${info.cpuFeatures.avx512Bf16 ? 'yes' : 'no'}, ` +
    `amx-bf16 ${info.cpuFeatures.amxBf16 ? 'yes' : 'no'} (bf16 ${info.cpuFeatures.avx512Bf16 || info.cpuFeatures.amxBf16 ? 'native' : 'emulated'}), ${info.threads} threads`);
  // With --checkpoint nothing is trained here: the header names only what is evaluated.
  const training = trainSet ? `${trainSet.count} training images (${config.trainPerClass} per class), ` : '';
  const recipeText = trainSet ? `SmallCNN, PGD-${config.trainSteps} AT eps ${config.eps}, ${config.epochs} epochs, ${config.schedule} lr ${config.learningRate}; ` : '';
  console.log(`Fashion-MNIST: ${training}${testSet.count} test images (${config.evalPerClass} per class); ${recipeText}` +
    `evaluation PGD-${config.evalSteps} eps ${config.eps} step ${Number(config.evalStepSize.toPrecision(4))}`);
  const pick = (e) => ({ precision: e.precision, memoryFormat: e.memoryFormat, counts: e.counts, cleanAccuracy: e.cleanAccuracy, robustAccuracy: e.robustAccuracy, seconds: e.seconds });
  const output = { config, torch: info.torchVersion, cpuFeatures: info.cpuFeatures };
  if (values.checkpoint) {
    const { model } = await Model.load(values.checkpoint, { device: 'cpu' });
    console.log(`model: ${values.checkpoint} (trained under fp32), no training here`);
    const fp32Eval = await measured(model, FP32);
    const underBf16 = await measured(model, BF16);
    output.sameModel = comparison('the model evaluated under fp32 vs under bf16 + channels_last', fp32Eval, underBf16, 'fp32', 'bf16');
    Object.assign(output, { checkpoint: values.checkpoint, classNames: fp32Eval.classNames, fp32: pick(fp32Eval), underBf16: pick(underBf16) });
  } else {
    const fp32Run = await trained(FP32);
    const fp32Eval = await measured(fp32Run.model, FP32);
    const fp32UnderBf16 = await measured(fp32Run.model, BF16);
    Object.assign(output, { classNames: fp32Eval.classNames, fp32: pick(fp32Eval), fp32ModelUnderBf16: pick(fp32UnderBf16), trainSeconds: { fp32: fp32Run.seconds } });
    if (!values['no-bf16-training']) {
      const bf16Run = await trained(BF16);
      const bf16Eval = await measured(bf16Run.model, BF16);
      output.bf16 = pick(bf16Eval);
      output.trainSeconds.bf16 = bf16Run.seconds;
      output.trainedBoth = comparison('trained and evaluated under fp32 vs under bf16 + channels_last', fp32Eval, bf16Eval, 'fp32', 'bf16');
    }
    if (values['seed-control']) {
      const otherRun = await trained(FP32, config.seed + 1);
      const otherEval = await measured(otherRun.model, FP32);
      output.fp32OtherSeed = pick(otherEval);
      output.seedControl = comparison(`trained and evaluated under fp32, seed ${config.seed} vs seed ${config.seed + 1} (the noise floor of two trainings)`,
        fp32Eval, otherEval, `s${config.seed}`, `s${config.seed + 1}`);
    }
    output.sameModel = comparison('the fp32-trained model evaluated under fp32 vs under bf16 + channels_last', fp32Eval, fp32UnderBf16, 'fp32', 'bf16');
    console.log(`training seconds: fp32 ${fp32Run.seconds.toFixed(0)}${output.trainSeconds.bf16 ? `, bf16 + channels_last ${output.trainSeconds.bf16.toFixed(0)}` : ''}; ` +
      `evaluation seconds: fp32 ${fp32Eval.seconds.toFixed(0)}, bf16 ${fp32UnderBf16.seconds.toFixed(0)}`);
  }
  fs.writeFileSync(values.out, JSON.stringify(output, null, 1));
  console.log(`wrote ${values.out}`);
})().catch((error) => {
  console.error(error.message);
  process.exit(1);
});
