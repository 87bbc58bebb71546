#!/usr/bin/env node
// `npm run bench:ceiling`: where each CPU workload's time goes, and so the most that any implementation running
// the same convolutions could gain over reference (c). Runs ours and reference (c) with oneDNN's time-stamped log
// (ONEDNN_VERBOSE=1, ONEDNN_VERBOSE_TIMESTAMP=1), keeps the kernels that ran inside the timed pass, and prints per
// workload: the pass's seconds, the seconds spent in convolution kernels (forward, input and weight gradients)
// with their GFLOP/s, and two ceilings on ours/(c):
//   (c) pass / (c) convolutions     nothing but (c)'s own convolutions, at (c)'s rate
//   (c) pass / ours convolutions    nothing but our convolutions (under bf16 they include the fp32 decision pass)
// With the machine's bf16 and fp32 matrix-multiply rate through the same torch, for scale.
//   --only NAME[,..]   run only these workloads
//   --rounds N         rounds (default 1); the table gives each column's median
'use strict';
const { execFileSync } = require('child_process');
const os = require('os');
const path = require('path');
const { parseArgs } = require('util');
const Table = require('cli-table3');
const { runtimeInfo } = require('../../dist/index.js');
const { fashionMnistFiles, median } = require('./rounds.js');
const { selectWorkloads, usageError, workloadArgs } = require('./workloads.js');

const { values } = parseArgs({ options: { only: { type: 'string' }, rounds: { type: 'string', default: '1' } } });
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) usageError(`--rounds must be a whole number >= 1, got ${values.rounds}`);
const runtime = runtimeInfo();
const python = process.env.CLASSWISE_REFERENCE_PYTHON ?? runtime.torchPython;
if (!python) usageError('no Python with torch to run reference (c): run `bash scripts/setup.sh test` first');
const threads = os.cpus().length;
const best = runtime.autoFastPath.cpu;
const workloads = selectWorkloads(false, values.only);
const files = fashionMnistFiles(Math.max(...workloads.map((w) => w.images)));

/** Multiply-accumulates of one convolution from oneDNN's problem descriptor (mb32_ic64oc64_ih32oh32kh3..._iw32ow32kw3...). */
function convolutionMacs(kind, problem) {
  const field = (name) => Number((problem.match(new RegExp(`(?<![a-z])${name}(\\d+)`)) ?? [])[1] ?? 1);
  const [mb, g, ic, oc, kh, kw] = ['mb', 'g', 'ic', 'oc', 'kh', 'kw'].map(field);
  // A deconvolution (PyTorch's input gradient in the packed path) scatters each input pixel; a convolution gathers
  // into each output pixel. Either way: pixels x in-channels x out-channels / groups x kernel area.
  const pixels = kind === 'deconvolution' ? field('ih') * field('iw') : field('oh') * field('ow');
  return (mb * pixels * ic * oc * kh * kw) / g;
}

/** One workload process under oneDNN's log: its JSON result and the timed pass's kernel seconds and FLOPs. */
function profiled(command, args) {
  const output = execFileSync(command, args, {
    encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ONEDNN_VERBOSE: '1', ONEDNN_VERBOSE_TIMESTAMP: '1' },
  });
  const lines = output.trim().split('\n');
  const result = JSON.parse(lines.pop());
  const [from, to] = result.window;
  const seconds = { convolution: 0, reorder: 0, other: 0 };
  let flops = 0;
  for (const line of lines) {
    // onednn_verbose,v1,TIMESTAMP,primitive,exec,cpu,KIND,IMPLEMENTATION,PROP,MEMORY,ATTRIBUTES,AUX,PROBLEM,MS
    const f = line.split(',');
    if (f[0] !== 'onednn_verbose' || f[3] !== 'primitive' || f[4] !== 'exec') continue;
    const stamp = Number(f[2]);
    if (!(stamp >= from && stamp <= to)) continue;
    const kind = f[6];
    const ms = Number(f[f.length - 1]);
    if (kind === 'convolution' || kind === 'deconvolution') {
      seconds.convolution += ms / 1000;
      flops += 2 * convolutionMacs(kind, f[f.length - 2]);
    } else seconds[kind === 'reorder' ? 'reorder' : 'other'] += ms / 1000;
  }
  return { pass: result.seconds, precision: result.precision ?? null, ...seconds, gflops: flops / 1e9 };
}

function gemmRates() {
  const script = `
import time, torch
torch.set_num_threads(${threads})
n = 2048
for dtype in (torch.bfloat16, torch.float32):
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(3): a @ b
    started = time.perf_counter()
    for _ in range(10): a @ b
    print(dtype, round(2 * n ** 3 * 10 / (time.perf_counter() - started) / 1e9))`;
  return execFileSync(python, ['-c', script], { encoding: 'utf8' }).trim().split('\n').map((l) => l.split(' '));
}

const rows = [];
for (const w of workloads) {
  const args = workloadArgs(w, { images: w.images, threads, device: 'cpu', files });
  process.stderr.write(`ceiling: ${w.name} ... `);
  const runs = [];
  for (let round = 0; round < rounds; round++) {
    runs.push({
      ours: profiled(process.execPath, [path.join(__dirname, 'native-workload.js'), ...args]),
      best: profiled(python, [path.join(__dirname, 'reference.py'), ...args, '--style', 'best', '--precision', best.precision, '--memory-format', best.memoryFormat]),
    });
  }
  const m = (pick) => median(runs.map(pick));
  const row = {
    name: w.name,
    best: { pass: m((r) => r.best.pass), convolution: m((r) => r.best.convolution), rate: m((r) => r.best.gflops / r.best.convolution) },
    ours: { pass: m((r) => r.ours.pass), convolution: m((r) => r.ours.convolution), rate: m((r) => r.ours.gflops / r.ours.convolution) },
    ratio: m((r) => r.best.pass / r.ours.pass),
    ceilingBest: m((r) => r.best.pass / r.best.convolution),
    ceilingOurs: m((r) => r.best.pass / r.ours.convolution),
  };
  rows.push(row);
  process.stderr.write(`ours ${row.ours.pass.toFixed(2)} s, (c) ${row.best.pass.toFixed(2)} s\n`);
}

const cpu = runtime.cpuFeatures;
console.log(`CPU: ${runtime.cpuCapability}; avx512-bf16 ${cpu.avx512Bf16 ? 'yes' : 'no'}, amx-bf16 ${cpu.amxBf16 ? 'yes' : 'no'} (${cpu.detectedBy}); ${threads} threads; ours and (c): ${best.precision} + ${best.memoryFormat}`);
console.log(`matrix multiply 2048^3 through torch ${runtime.torchVersion}: ${gemmRates().map(([dtype, rate]) => `${dtype.replace('torch.', '')} ${rate} GFLOP/s`).join(', ')}`);
const table = new Table({
  head: ['workload (timed pass)', '(c) s', '(c) conv s', '(c) conv GFLOP/s', 'ours s', 'ours conv s', 'ours conv GFLOP/s', 'ours/(c)', 'ceiling (c) conv', 'ceiling ours conv'],
  style: { head: [], border: [] },
});
for (const r of rows) {
  table.push([r.name, r.best.pass.toFixed(2), r.best.convolution.toFixed(2), r.best.rate.toFixed(0), r.ours.pass.toFixed(2),
    r.ours.convolution.toFixed(2), r.ours.rate.toFixed(0), `${r.ratio.toFixed(2)}x`, `${r.ceilingBest.toFixed(2)}x`, `${r.ceilingOurs.toFixed(2)}x`]);
}
console.log(table.toString());
console.log('ceiling (c) conv: (c) pass / (c) convolution kernels, the most any implementation could gain by removing everything');
console.log('but those convolutions; ceiling ours conv: the same with the convolutions we run (fp32 decisions included).');
