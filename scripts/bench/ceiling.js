#!/usr/bin/env node
// `npm run bench:ceiling`: where each CPU workload's time goes, and so the most that any implementation running
// the same convolutions could gain over reference (c). Runs ours and reference (c) with oneDNN's time-stamped log
// (ONEDNN_VERBOSE=1, ONEDNN_VERBOSE_TIMESTAMP=1), keeps the kernels that ran inside the timed pass, and prints per
// workload: the pass's seconds, the seconds spent in convolution kernels (forward, input and weight gradients)
// with their GFLOP/s, and two ceilings on ours/(c):
//   (c) pass / (c) convolutions     nothing but (c)'s own convolutions, at (c)'s rate
//   (c) pass / ours convolutions    nothing but our convolutions (under bf16 they include the fp32 decision pass)
// With the machine's bf16 and fp32 matrix-multiply rate through the same torch, for scale.
// Reference (b) instead of (c) with --reference b, the goal's reference on a CPU without fast bf16 (such a CPU can be
// imitated on one with it: ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 with --precision fp32).
//   --only NAME[,..]   run only these workloads
//   --rounds N         rounds (default 1); the table gives each column's median
//   --reference c|b    the reference (default c)
//   --precision P      fp32 | bf16 for ours and (c) (default: what auto picks here); ours stays channels_last
'use strict';
const { execFileSync } = require('child_process');
const os = require('os');
const path = require('path');
const { parseArgs } = require('util');
const Table = require('cli-table3');
const { runtimeInfo } = require('../../dist/index.js');
const { fashionMnistFiles, median } = require('./rounds.js');
const { selectWorkloads, usageError, workloadArgs } = require('./workloads.js');

const { values } = parseArgs({
  options: { only: { type: 'string' }, rounds: { type: 'string', default: '1' }, reference: { type: 'string', default: 'c' }, precision: { type: 'string' } },
});
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) usageError(`--rounds must be a whole number >= 1, got ${values.rounds}`);
const runtime = runtimeInfo();
const python = process.env.CLASSWISE_REFERENCE_PYTHON ?? runtime.torchPython;
if (!python) usageError('no Python with torch to run the reference: run `bash scripts/setup.sh test` first');
const threads = os.cpus().length;
const auto = runtime.autoFastPath.cpu;
const precision = values.precision ?? auto.precision;
if (!['fp32', 'bf16'].includes(precision)) usageError(`--precision must be fp32 or bf16, got ${values.precision}`);
if (!['b', 'c'].includes(values.reference)) usageError(`--reference must be b or c, got ${values.reference}`);
const reference = values.reference === 'b'
  ? { key: '(b)', args: ['--style', 'input-only'], says: 'input-only gradients, fp32, contiguous' }
  : { key: '(c)', args: ['--style', 'best', '--precision', precision, '--memory-format', 'channels_last'], says: `${precision} + channels_last` };
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

/** The machine's matrix-multiply rate through the same torch, in the precisions in play (bf16 where it is native). */
function gemmRates() {
  const dtypes = precision === 'bf16' ? ['bfloat16', 'float32'] : ['float32'];
  const script = `
import time, torch
torch.set_num_threads(${threads})
n = 2048
for name in ${JSON.stringify(dtypes)}:
    a, b = (torch.randn(n, n, dtype=getattr(torch, name)) for _ in range(2))
    for _ in range(3): a @ b
    started = time.perf_counter()
    for _ in range(10): a @ b
    print(name, round(2 * n ** 3 * 10 / (time.perf_counter() - started) / 1e9))`;
  return execFileSync(python, ['-c', script], { encoding: 'utf8' }).trim().split('\n').map((l) => l.split(' '));
}

const rows = [];
for (const w of workloads) {
  const args = workloadArgs(w, { images: w.images, threads, device: 'cpu', files });
  process.stderr.write(`ceiling: ${w.name} ... `);
  const runs = [];
  for (let round = 0; round < rounds; round++) {
    runs.push({
      ours: profiled(process.execPath, [path.join(__dirname, 'native-workload.js'), ...args, '--precision', precision, '--memory-format', 'channels_last']),
      reference: profiled(python, [path.join(__dirname, 'reference.py'), ...args, ...reference.args]),
    });
  }
  const m = (pick) => median(runs.map(pick));
  const row = {
    name: w.name,
    reference: { pass: m((r) => r.reference.pass), convolution: m((r) => r.reference.convolution), rate: m((r) => r.reference.gflops / r.reference.convolution) },
    ours: { pass: m((r) => r.ours.pass), convolution: m((r) => r.ours.convolution), rate: m((r) => r.ours.gflops / r.ours.convolution) },
    ratio: m((r) => r.reference.pass / r.ours.pass),
    ceilingReference: m((r) => r.reference.pass / r.reference.convolution),
    ceilingOurs: m((r) => r.reference.pass / r.ours.convolution),
  };
  rows.push(row);
  process.stderr.write(`ours ${row.ours.pass.toFixed(2)} s, ${reference.key} ${row.reference.pass.toFixed(2)} s\n`);
}

const cpu = runtime.cpuFeatures;
console.log(`CPU: ${runtime.cpuCapability}; avx512-bf16 ${cpu.avx512Bf16 ? 'yes' : 'no'}, amx-bf16 ${cpu.amxBf16 ? 'yes' : 'no'} (${cpu.detectedBy}); ${threads} threads; ours: ${precision} + channels_last; reference ${reference.key}: ${reference.says}`);
console.log(`matrix multiply 2048^3 through torch ${runtime.torchVersion}: ${gemmRates().map(([dtype, rate]) => `${dtype} ${rate} GFLOP/s`).join(', ')}`);
const table = new Table({
  head: ['workload (timed pass)', ...['s', 'conv s', 'conv GFLOP/s'].map((c) => `${reference.key} ${c}`), 'ours s', 'ours conv s', 'ours conv GFLOP/s',
    `ours/${reference.key}`, `ceiling ${reference.key} conv`, 'ceiling ours conv'],
  style: { head: [], border: [] },
});
for (const r of rows) {
  table.push([r.name, r.reference.pass.toFixed(2), r.reference.convolution.toFixed(2), r.reference.rate.toFixed(0), r.ours.pass.toFixed(2),
    r.ours.convolution.toFixed(2), r.ours.rate.toFixed(0), `${r.ratio.toFixed(2)}x`, `${r.ceilingReference.toFixed(2)}x`, `${r.ceilingOurs.toFixed(2)}x`]);
}
console.log(table.toString());
const key = reference.key;
console.log(`ceiling ${key} conv: ${key} pass / ${key} convolution kernels, the most any implementation could gain by removing everything`);
console.log(`but those convolutions; ceiling ours conv: ${key} pass / the convolutions we run (under bf16, fp32 decisions included).`);
