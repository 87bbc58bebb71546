#!/usr/bin/env node
// Per-class robust accuracy of one checkpoint under several attacks, side by side, with the
// gradient-masking ordering warnings. Usage:
//   node scripts/attack-table.js CHECKPOINT [--per-class N] [--queries Q] [--attacks fgsm,pgd@20,cw@20,apgd-ce,apgd-t,autoattack]
// Attacks are written as everywhere else (KIND[@STEPS][xRESTARTS]); the test images come from the run's own loader.
'use strict';
const { Model, evaluate, loadRunTestSet, parseAttackList, orderingWarnings, setThreads, ClasswiseError } = require('../dist');

function option(name, fallback) {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : fallback;
}

async function main() {
  const checkpoint = process.argv[2];
  if (!checkpoint || checkpoint.startsWith('--')) throw new ClasswiseError('ERR_INVALID_ARGUMENT', 'usage: node scripts/attack-table.js CHECKPOINT [--per-class N]');
  if (option('--threads')) setThreads(Number(option('--threads')));
  const perClass = Number(option('--per-class', '30'));
  const queries = Number(option('--queries', '5000'));
  const specs = option('--attacks', 'fgsm,pgd@20,cw@20,apgd-ce,apgd-t,autoattack');
  const { model, meta } = await Model.load(checkpoint, { device: 'cpu' });
  const run = meta.config.run || { dataset: 'fashion-mnist' };
  const eps = Number(option('--eps', String(run.eps ?? 0.1)));
  const test = await loadRunTestSet(run, perClass, 1);
  const fields = { eps, queries };
  if (option('--temperature')) fields.temperature = Number(option('--temperature'));
  const attacks = parseAttackList(specs, fields, '--attacks').map((attack) => {
    // Options a kind does not take are left out (queries: square and autoattack only).
    if (attack.kind !== 'square' && attack.kind !== 'autoattack') delete attack.queries;
    if (attack.kind !== 'tpgd') delete attack.temperature;
    return attack;
  });
  const kinds = specs.split(',').map((spec) => spec.trim());
  const results = [];
  for (const [i, attack] of attacks.entries()) {
    const kind = kinds[i];
    const result = await evaluate(model, test, { attack, seed: 0 });
    results.push({ kind, result });
    console.error(`${result.attackLabel}: robust ${(100 * result.overall.robust).toFixed(1)}% in ${result.seconds.toFixed(1)} s`);
  }
  const names = results[0].result.classNames;
  const pad = (text, width) => String(text).padEnd(width);
  const header = pad('class', 12) + pad('clean', 7) + results.map((r) => pad(r.kind, 11)).join('');
  console.log(`checkpoint ${checkpoint} (${run.method || '?'}, epoch ${meta.epoch}); ${test.count} ${run.dataset} test images (${perClass} per class), eps ${eps}`);
  console.log('robust accuracy = share of ALL examples of the class still classified correctly under attack (%)');
  console.log(header);
  names.forEach((name, k) => {
    console.log(pad(name, 12) + pad((100 * results[0].result.cleanAccuracy[k]).toFixed(1), 7) +
      results.map((r) => pad((100 * r.result.robustAccuracy[k]).toFixed(1), 11)).join(''));
  });
  const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;
  console.log(pad('mean', 12) + pad((100 * mean(results[0].result.cleanAccuracy)).toFixed(1), 7) +
    results.map((r) => pad((100 * mean(r.result.robustAccuracy)).toFixed(1), 11)).join(''));
  console.log(pad('worst', 12) + pad('', 7) + results.map((r) => pad((100 * Math.min(...r.result.robustAccuracy)).toFixed(1), 11)).join(''));
  console.log(pad('seconds', 12) + pad('', 7) + results.map((r) => pad(r.result.seconds.toFixed(1), 11)).join(''));
  for (const r of results) console.log(`${r.kind}: ${r.result.attackLabel}`);
  const ensemble = results.find((r) => r.result.ensemble);
  if (ensemble) {
    const e = ensemble.result.ensemble;
    console.log(`ensemble ran ${e.attacksRun.join(' -> ')}; standard: ${e.standard} (missing ${e.attacksMissing.join(', ')})`);
    console.log('examples first broken per stage, per class: ' + names.map((n, k) => `${n} ${e.brokenPerClass[k].join('/')}`).join(', '));
  }
  const order = ['fgsm', 'pgd', 'apgd-ce', 'autoattack'];
  const ordered = order.map((kind) => results.find((r) => r.kind.split(/[@x]/)[0] === kind)).filter(Boolean)
    .map((r) => ({ label: r.kind, robust: r.result.overall.robust }));
  const warnings = orderingWarnings(ordered);
  console.log(warnings.length ? warnings.map((w) => `warning: ${w}`).join('\n') : `ordering check (${ordered.map((o) => o.label).join(' >= ')}): no gradient-masking warning`);
}

main().catch((error) => {
  console.error(`error: ${error.message}`);
  process.exitCode = 1;
});
