#!/usr/bin/env node
// `npm run bench`: each workload on the addon and on three PyTorch references (scripts/bench/reference.py), same
// device, batch size, thread count and inputs, in the same run: (a) the usual scripts (robust_overfitting's
// attack_pgd, fp32 eager), (b) torchattacks-style input-only gradients, fp32, (c) the best Python configuration
// (input-only gradients, frozen weights, bf16 autocast + channels_last where the device has fast bf16, torch.compile
// with --compile). Prints a table of images/s, seconds per epoch, peak memory and the ratio to each reference;
// writes the same as JSON.
//   --quick                  fewer images, one round, one timed pass (a smoke run)
//   --rounds N               rounds per workload (default 3): each round runs ours and every reference once, in
//                            turn, each in a fresh process (one warm-up pass, one timed pass); the table gives
//                            each side's median round and the median of the per-round ratios, so that a shared
//                            machine's slow minutes hit both sides of a ratio alike
//   --only NAME[,..]         run only these workloads
//   --device cpu|cuda        (default: cuda when the addon sees it, else cpu)
//   --precision P            ours: fp32 | bf16 | auto (default auto)
//   --memory-format F        ours: contiguous | channels_last | auto (default auto)
//   --refs a,b,c | none      which references to run (default all three)
//   --best-precision P       reference (c): fp32 | bf16 (default: what auto picks on the device)
//   --best-memory-format F   reference (c): contiguous | channels_last (default channels_last)
//   --compile / --no-compile reference (c) with torch.compile (default: on CUDA only; on a 2-core CPU its
//                            compile time dwarfs these runs)
//   --out FILE               JSON output (default bench-results.json)
//   --no-scaling             skip the data-parallel CPU scaling section (1 -> 2 processes, scripts/bench/scaling.js)
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { parseArgs } = require('util');
const Table = require('cli-table3');
const { runtimeInfo } = require('../../dist/index.js');
const { fashionMnistFiles, median, runJson, runRounds } = require('./rounds.js');
const { selectWorkloads, usageError, workloadArgs } = require('./workloads.js');
const { benchTable } = require('./table.js');

// The usage is the comment block at the top of this file: printed by --help, named by a wrong option.
function usage() {
  const lines = fs.readFileSync(__filename, 'utf8').split('\n');
  return lines.slice(1, lines.findIndex((line) => line.startsWith("'use strict'"))).map((line) => line.replace(/^\/\/ ?/, '')).join('\n');
}

let parsed;
try {
  parsed = parseArgs({ options: {
    help: { type: 'boolean', short: 'h', default: false },
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    only: { type: 'string' },
    device: { type: 'string' },
    threads: { type: 'string' },
    precision: { type: 'string', default: 'auto' },
    'memory-format': { type: 'string', default: 'auto' },
    refs: { type: 'string', default: 'a,b,c' },
    'best-precision': { type: 'string' },
    'best-memory-format': { type: 'string', default: 'channels_last' },
    compile: { type: 'boolean' },
    'no-compile': { type: 'boolean' },
    out: { type: 'string', default: 'bench-results.json' },
    'no-scaling': { type: 'boolean', default: false },
  } });
} catch (error) {
  // parseArgs names the option in its message, e.g. "Unknown option '--x'".
  usageError(`${error.message.split('. ')[0]}; see node scripts/bench/run.js --help`);
}
const { values } = parsed;
if (values.help) {
  console.log(usage());
  process.exit(0);
}
const runtime = runtimeInfo();
const device = values.device ?? (runtime.cudaAvailable ? 'cuda' : 'cpu');
const threads = Number(values.threads ?? os.cpus().length);
const gpu = device.startsWith('cuda');
const autoChoice = (gpu ? runtime.autoFastPath.cuda : runtime.autoFastPath.cpu) ?? runtime.autoFastPath.cpu;
const REFERENCES = [
  { key: 'a', name: 'usual', label: '(a) usual fp32', args: ['--style', 'usual'] },
  { key: 'b', name: 'inputOnly', label: '(b) input-only fp32', args: ['--style', 'input-only'] },
  { key: 'c', name: 'best', label: '(c) best Python', args: [] },
];
const best = {
  precision: values['best-precision'] ?? autoChoice.precision,
  memoryFormat: values['best-memory-format'],
  compile: values['no-compile'] ? false : values.compile ?? gpu,
};
REFERENCES[2].args = ['--style', 'best', '--precision', best.precision, '--memory-format', best.memoryFormat, ...(best.compile ? ['--compile'] : [])];
const wanted = values.refs === 'none' ? [] : values.refs.split(',').map((s) => s.trim());
const references = REFERENCES.filter((r) => wanted.includes(r.key));

const scale = values.quick ? 0.25 : 1;
const workloads = selectWorkloads(gpu, values.only);

// The reference runs the torch the addon links (runtimeInfo().torchPython), so both sides are one version.
function findPython() {
  for (const candidate of [process.env.CLASSWISE_REFERENCE_PYTHON, runtime.torchPython].filter(Boolean)) {
    if (spawnSync(candidate, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  return null;
}

const python = findPython();
const scaledImages = (w) => Math.max(w.batch, Math.round((w.images * scale) / w.batch) * w.batch);
const files = workloads.some((w) => w.data) ? fashionMnistFiles(Math.max(...workloads.map(scaledImages))) : null;
const rounds = Number(values.rounds ?? (values.quick ? 1 : 3));
if (!Number.isInteger(rounds) || rounds < 1) usageError(`--rounds must be a whole number >= 1, got ${values.rounds}`);
// The run whose images/s is the median (its peak memory and settings come with it).
const medianRun = (runs) => [...runs].sort((a, b) => a.imagesPerSecond - b.imagesPerSecond)[Math.floor(runs.length / 2)];
const results = [];
for (const w of workloads) {
  const images = scaledImages(w);
  const args = workloadArgs(w, { images, threads, device, files });
  process.stderr.write(`bench: ${w.name} (${images} images, batch ${w.batch}, ${rounds} round${rounds === 1 ? '' : 's'}) ... `);
  const sides = [
    { name: 'ours', run: () => runJson(process.execPath, [path.join(__dirname, 'native-workload.js'), ...args, '--precision', values.precision, '--memory-format', values['memory-format']]) },
    ...references.map((reference) => ({ name: reference.name, run: () => (python ? runJson(python, [path.join(__dirname, 'reference.py'), ...args, ...reference.args]) : null) })),
  ];
  const runs = runRounds(sides, rounds);
  const ours = medianRun(runs.ours);
  const measured = Object.fromEntries(references.map((r) => [r.name, python ? medianRun(runs[r.name]) : null]));
  const ratio = Object.fromEntries(references.map((r) => [r.name, python ? median(runs.ours.map((o, i) => o.imagesPerSecond / runs[r.name][i].imagesPerSecond)) : null]));
  const spread = (list) => `${Math.min(...list.map((x) => x.imagesPerSecond)).toFixed(1)}-${Math.max(...list.map((x) => x.imagesPerSecond)).toFixed(1)}`;
  process.stderr.write(`${ours.imagesPerSecond.toFixed(1)} img/s (${ours.precision}, ${ours.memoryFormat}; rounds ${spread(runs.ours)}); ` +
    references.map((r) => `${r.key} ${measured[r.name] ? `${measured[r.name].imagesPerSecond.toFixed(1)} (${spread(runs[r.name])})` : 'n/a'}`).join(', ') + '\n');
  results.push({
    ...w, images, rounds, ours, references: measured, ratio, runs,
    secondsPerEpoch: w.epochImages / ours.imagesPerSecond,
    referenceSecondsPerEpoch: Object.fromEntries(Object.entries(measured).map(([name, r]) => [name, r ? w.epochImages / r.imagesPerSecond : null])),
  });
}

const features = runtime.cpuFeatures;
const chosen = results[0]?.ours;
console.log(`classwise-at bench: device ${device}, ${threads} threads, LibTorch ${runtime.torchVersion} (addon) vs PyTorch ${Object.values(results[0]?.references ?? {})[0]?.torch ?? 'n/a'} (${python ?? 'no python torch found'})`);
console.log(`CPU: ${runtime.cpuCapability}; avx2 ${features.avx2 ? 'yes' : 'no'}, avx512 ${features.avx512 ? 'yes' : 'no'}, avx512-bf16 ${features.avx512Bf16 ? 'yes' : 'no'}, ` +
  `amx-bf16 ${features.amxBf16 ? 'yes' : 'no'} (${features.detectedBy}); CPU caching allocator ${chosen?.cpuCachingAllocator ? 'on' : 'off'}; ` +
  `packed convolution weights in bf16 attacks ${runtime.packedConvWeights && process.env.CLASSWISE_PACKED_CONV !== '0' ? 'on' : 'off'}`);
console.log(`ours: precision ${values.precision} -> ${chosen?.precision ?? '?'}, memory format ${values['memory-format']} -> ${chosen?.memoryFormat ?? '?'}` +
  `; auto on ${gpu ? 'cuda' : 'cpu'}: ${autoChoice.precision}, ${autoChoice.memoryFormat} (${autoChoice.reason})`);
console.log(`references: (a) robust_overfitting attack_pgd, fp32 eager (loss.backward() also fills weight gradients); (b) torchattacks-style ` +
  `torch.autograd.grad on the input, fp32 eager; (c) input-only gradients, frozen weights, ${best.precision}${best.precision === 'bf16' ? ' autocast' : ''}, ${best.memoryFormat}` +
  `${best.compile ? ', torch.compile' : ', eager'}`);
console.log('epoch sizes: Fashion-MNIST train 60,000 / test 10,000; CIFAR-10-sized train 50,000 / test 10,000 (s/epoch extrapolated from the measured images/s)');
console.log(benchTable(results, references));
console.log(`img/s: each side's median of ${rounds} round${rounds === 1 ? '' : 's'} (a fresh process per side and round: one warm-up pass, one timed pass); ` +
  `ratios: the median of the per-round ratios; peak = process max RSS on CPU, max allocated on CUDA`);
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
  fs.writeFileSync(values.out, JSON.stringify({
    device, threads, torch: runtime.torchVersion, python, date: new Date().toISOString(), cpuCapability: runtime.cpuCapability,
    cpuFeatures: features, autoFastPath: autoChoice, ours: { precision: values.precision, memoryFormat: values['memory-format'] },
    best, results, scaling: scalingResult,
  }, null, 1));
  console.log(`wrote ${values.out}`);
}
