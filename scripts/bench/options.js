#!/usr/bin/env node
// Each fast-path option's own gain: the same workload on the addon under fp32 + contiguous (the baseline),
// channels_last alone, bf16 alone, both, and with the CPU caching allocator off, beside reference (b) (input-only
// gradients, fp32 eager, the same torch), all in one run. Every round runs every variant once, in turn, each in a
// fresh process (one warm-up pass, one timed pass); a variant's speed is its median round, its gain the median of
// its per-round ratios to the baseline, so that a shared machine's slow minutes hit both sides of a ratio alike.
//   --only NAME[,..]     workloads, or parts of their names (default: smallcnn-fmnist pgd10-attack, preact18-32x32 pgd10-attack)
//   --rounds N           (default 3)
//   --variants LIST      of fp32|bf16 [+channels_last] [+nocache] [+nopack] (default: all six)
//   --out FILE           JSON output (default bench-options.json)
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { parseArgs } = require('util');
const Table = require('cli-table3');
const { runtimeInfo } = require('../../dist/index.js');
const { fashionMnistFiles, median, runJson, runRounds } = require('./rounds.js');
const { selectNames, usageError } = require('./workloads.js');

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: 'smallcnn-fmnist pgd10-attack,preact18-32x32 pgd10-attack' },
    rounds: { type: 'string', default: '3' },
    variants: { type: 'string', default: 'fp32,fp32+channels_last,fp32+nocache,bf16,bf16+channels_last,bf16+channels_last+nopack' },
    threads: { type: 'string' },
    out: { type: 'string', default: 'bench-options.json' },
  },
});
const runtime = runtimeInfo();
const threads = Number(values.threads ?? os.cpus().length);
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) usageError(`--rounds must be a whole number >= 1, got ${values.rounds}`);
const WORKLOADS = {
  'smallcnn-fmnist pgd10-attack': { workload: 'pgd-attack', arch: 'smallcnn', steps: 10, eps: 0.1, images: 256, batch: 128, data: true },
  'smallcnn-fmnist pgd10-train': { workload: 'pgd-train', arch: 'smallcnn', steps: 10, eps: 0.1, images: 256, batch: 128, data: true },
  'preact18-32x32 pgd10-attack': { workload: 'pgd-attack', arch: 'preact-resnet18', steps: 10, eps: 8 / 255, images: 32, batch: 32 },
  'preact18-32x32 pgd10-train': { workload: 'pgd-train', arch: 'preact-resnet18', steps: 10, eps: 8 / 255, images: 32, batch: 32 },
};
const chosen = selectNames(Object.keys(WORKLOADS), values.only);
const variants = values.variants.split(',').map((text) => {
  const parts = text.trim().split('+');
  return { label: text.trim(), precision: parts[0], memoryFormat: parts.includes('channels_last') ? 'channels_last' : 'contiguous', cache: !parts.includes('nocache'), pack: !parts.includes('nopack') };
});

const count = Math.max(...chosen.map((name) => WORKLOADS[name].images));
const files = fashionMnistFiles(count, 'classwise-options-');
const python = runtime.torchPython;

const results = [];
for (const name of chosen) {
  const w = WORKLOADS[name];
  const args = [w.workload, '--arch', w.arch, '--images', String(w.images), '--batch', String(w.batch), '--threads', String(threads),
    '--steps', String(w.steps), '--eps', String(w.eps), '--repeats', '1'];
  if (w.data) args.push('--data', files.data, '--labels', files.labels);
  const sides = [
    ...variants.map((v) => ({
      name: v.label,
      run: () => runJson(process.execPath, [path.join(__dirname, 'native-workload.js'), ...args, '--precision', v.precision, '--memory-format', v.memoryFormat],
        { ...(v.cache ? {} : { CLASSWISE_CPU_CACHE: '0' }), ...(v.pack ? {} : { CLASSWISE_PACKED_CONV: '0' }) }),
    })),
    { name: '(b) input-only fp32', run: () => runJson(python, [path.join(__dirname, 'reference.py'), ...args, '--style', 'input-only']) },
  ];
  const runs = runRounds(sides, rounds, (side, round, result) =>
    process.stderr.write(`options: ${name}, round ${round + 1}/${rounds}, ${side}: ${result.imagesPerSecond.toFixed(1)} img/s\n`));
  const speeds = Object.fromEntries(Object.entries(runs).map(([side, results]) => [side, results.map((r) => r.imagesPerSecond)]));
  const baseline = speeds[variants[0].label];
  const reference = speeds['(b) input-only fp32'];
  for (const side of sides) {
    const mine = speeds[side.name];
    results.push({
      workload: name, variant: side.name, imagesPerSecond: median(mine), rounds: mine,
      gain: median(mine.map((x, i) => x / baseline[i])), versusB: median(mine.map((x, i) => x / reference[i])),
    });
  }
}

const table = new Table({ head: ['workload', 'variant', 'img/s (median)', 'rounds', `vs ${variants[0].label}`, 'vs (b)'], style: { head: [], border: [] } });
for (const r of results) {
  table.push([r.workload, r.variant, r.imagesPerSecond.toFixed(1), r.rounds.map((x) => x.toFixed(1)).join(' '), `${r.gain.toFixed(2)}x`, `${r.versusB.toFixed(2)}x`]);
}
const f = runtime.cpuFeatures;
console.log(`classwise-at bench options: cpu, ${threads} threads, LibTorch ${runtime.torchVersion}; CPU ${runtime.cpuCapability}, avx512-bf16 ${f.avx512Bf16 ? 'yes' : 'no'}, ` +
  `amx-bf16 ${f.amxBf16 ? 'yes' : 'no'} (${f.detectedBy}); auto on cpu: ${runtime.autoFastPath.cpu.precision}, ${runtime.autoFastPath.cpu.memoryFormat}`);
console.log(table.toString());
console.log(`${rounds} rounds; each round runs every variant and reference (b) once, in turn, in a fresh process (one warm-up pass, one timed pass); ` +
  'gains are medians of per-round ratios; nocache = CLASSWISE_CPU_CACHE=0 (the CPU caching allocator off); ' +
  'nopack = CLASSWISE_PACKED_CONV=0 (bf16 attacks reorder convolution weights at every call, as eager PyTorch does)');
fs.writeFileSync(values.out, JSON.stringify({ torch: runtime.torchVersion, cpuFeatures: f, threads, rounds, results }, null, 1));
console.log(`wrote ${values.out}`);
fs.rmSync(files.dir, { recursive: true, force: true });
