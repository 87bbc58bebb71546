#!/usr/bin/env node
// Per-class robust accuracy of one checkpoint under PGD-20, APGD-CE, APGD-T, FAB-T, Square and the standard
// AutoAttack: ours vs torchattacks vs fra31's AutoAttack (pyautoattack), same weights, images and threads, with
// the standard settings unless told otherwise. Also Square with 1 and 5 restarts. Usage:
//   node scripts/reference/peer-table.js CHECKPOINT [--per-class 20] [--eps 0.1] [--steps 100] [--queries 5000]
//        [--attacks pgd,apgd-ce,apgd-t,fab-t,square,autoattack] [--square-restarts 5] [--threads 2] [--json FILE]
// Needs `scripts/setup.sh test` (torchattacks and pyautoattack in the Python whose torch the addon links).
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { Model, attack, loadDataset, takePerClass, setThreads, runtimeInfo } = require('../../dist');

function option(name, fallback) {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : fallback;
}

function runPeer(python, checkpoint, folder, library, name, settings, threads) {
  const outDir = fs.mkdtempSync(path.join(folder, `${library}-${name}-`));
  const args = [path.join(__dirname, 'peers.py'), checkpoint, path.join(folder, 'images.f32'), path.join(folder, 'labels.i32'),
    '--library', library, '--attack', name, '--eps', String(settings.eps), '--out-dir', outDir, '--threads', String(threads)];
  for (const [flag, key] of [['--steps', 'steps'], ['--queries', 'queries'], ['--restarts', 'restarts'], ['--schedule', 'schedule'], ['--step-size', 'stepSize']]) {
    if (settings[key] !== undefined) args.push(flag, String(settings[key]));
  }
  const run = spawnSync(python, args, { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(threads) }, maxBuffer: 1 << 26 });
  if (run.status !== 0) throw new Error(`peers.py ${library} ${name} failed:\n${run.stderr}`);
  const bytes = fs.readFileSync(path.join(outDir, 'predictions.i32'));
  const summary = JSON.parse(fs.readFileSync(path.join(outDir, 'summary.json'), 'utf8'));
  return { predictions: new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)), seconds: summary.seconds };
}

function perClass(predictions, labels, classes) {
  const robust = new Array(classes).fill(0);
  const total = new Array(classes).fill(0);
  labels.forEach((label, i) => {
    total[label] += 1;
    if (predictions[i] === label) robust[label] += 1;
  });
  return robust.map((r, k) => (100 * r) / total[k]);
}

async function main() {
  const checkpoint = process.argv[2];
  if (!checkpoint || checkpoint.startsWith('--')) throw new Error('usage: node scripts/reference/peer-table.js CHECKPOINT [--per-class N]');
  const threads = Number(option('--threads', '2'));
  setThreads(threads);
  const python = runtimeInfo().torchPython;
  const { model, meta } = await Model.load(checkpoint, { device: 'cpu' });
  const run = meta.config.run || {};
  const eps = Number(option('--eps', String(run.eps ?? 0.1)));
  const steps = Number(option('--steps', '100'));
  const queries = Number(option('--queries', '5000'));
  const squareRestarts = Number(option('--square-restarts', '5'));
  const perClassCount = Number(option('--per-class', '20'));
  const test = takePerClass(loadDataset(run.dataset || 'fashion-mnist', 'test', { dataDir: run.dataDir }), perClassCount, 1);
  const images = Float32Array.from(test.images, (v) => v / 255);
  const labels = test.labels;
  const classes = test.classNames.length;
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'peer-table-'));
  fs.writeFileSync(path.join(folder, 'images.f32'), Buffer.from(images.buffer));
  fs.writeFileSync(path.join(folder, 'labels.i32'), Buffer.from(labels.buffer));
  const names = option('--attacks', 'pgd,apgd-ce,apgd-t,fab-t,square,autoattack').split(',');
  const ours = {
    pgd: { kind: 'pgd', eps, steps: 20 },
    'apgd-ce': { kind: 'apgd-ce', eps, steps },
    'apgd-t': { kind: 'apgd-t', eps, steps },
    'fab-t': { kind: 'fab-t', eps, steps },
    square: { kind: 'square', eps, queries, squareSchedule: 'autoattack' },
    autoattack: { kind: 'autoattack', eps, steps, queries },
  };
  const peer = {
    pgd: { eps, steps: 20 },
    'apgd-ce': { eps, steps },
    'apgd-t': { eps, steps },
    'fab-t': { eps, steps },
    square: { eps, queries, schedule: 'autoattack' },
    autoattack: { eps, steps, queries },
  };
  const out = { checkpoint, examples: labels.length, perClass: perClassCount, eps, steps, queries, threads, classNames: test.classNames, rows: [] };
  console.log(`${checkpoint}: ${labels.length} test images (${perClassCount} per class), eps ${eps}, ${threads} threads, steps ${steps}, queries ${queries}`);
  const header = ['attack', 'library', ...test.classNames.map((n) => n.slice(0, 7)), 'all', 'seconds'];
  console.log(header.join('\t'));
  const print = (row) => console.log([row.attack, row.library, ...row.perClass.map((v) => v.toFixed(1)), row.overall.toFixed(2), row.seconds.toFixed(1)].join('\t'));
  for (const name of names) {
    const started = process.hrtime.bigint();
    const result = await attack(model, images, labels, { ...ours[name], seed: 0 });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (name === 'autoattack') out.standard = { ours: result.ensemble.standard, nonStandard: result.ensemble.nonStandard };
    const report = (row) => {
      row.perClass = perClass(row.predictions, labels, classes);
      row.overall = (100 * row.predictions.filter((p, i) => p === labels[i]).length) / labels.length;
      print(row);
      out.rows.push({ attack: row.attack, library: row.library, perClass: row.perClass, overall: row.overall, seconds: row.seconds });
    };
    // Each row as soon as it is known: the peers' standard settings take minutes per attack.
    report({ attack: name, library: 'ours', predictions: result.predictions, seconds });
    for (const library of ['torchattacks', 'autoattack']) {
      if (library === 'autoattack' && name === 'pgd') continue;
      const peerRun = runPeer(python, checkpoint, folder, library, name, peer[name], threads);
      report({ attack: name, library, predictions: peerRun.predictions, seconds: peerRun.seconds });
    }
  }
  if (squareRestarts > 1) {
    for (const restarts of [1, squareRestarts]) {
      const result = await attack(model, images, labels, { kind: 'square', eps, queries, restarts, squareSchedule: 'autoattack', seed: 0 });
      const overall = (100 * result.predictions.filter((p, i) => p === labels[i]).length) / labels.length;
      console.log(`Square ${queries} queries x${restarts} restart(s): robust ${overall.toFixed(2)}%`);
      out[`squareRestarts${restarts}`] = overall;
    }
  }
  if (option('--json')) fs.writeFileSync(option('--json'), JSON.stringify(out, null, 1));
  fs.rmSync(folder, { recursive: true, force: true });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
