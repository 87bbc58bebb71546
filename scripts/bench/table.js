// The bench's console table: images/s and ratios per workload, within 120 columns. Per-reference seconds per
// epoch and peak memory are in the JSON (bench-results.json), not here.
'use strict';
const Table = require('cli-table3');

const rate = (r) => (r ? r.imagesPerSecond.toFixed(1) : 'n/a');
const times = (x) => (x ? `${x.toFixed(2)}x` : 'n/a');
const mib = (bytes) => (bytes / 2 ** 20).toFixed(0);

/** results: run.js's rows; references: the [{ key, name }] measured beside ours. */
function benchTable(results, references) {
  const table = new Table({
    head: ['workload', 'ours', ...references.map((r) => `(${r.key})`), ...references.map((r) => `x(${r.key})`), 's/epoch', 'MiB'],
    style: { head: [], border: [], compact: true, 'padding-left': 1, 'padding-right': 1 },
  });
  for (const r of results) {
    table.push([
      r.name, rate(r.ours), ...references.map((ref) => rate(r.references[ref.name])), ...references.map((ref) => times(r.ratio[ref.name])),
      r.secondsPerEpoch.toFixed(0), mib(r.ours.peakBytes),
    ]);
  }
  return `${table.toString()}\nimg/s of ours and of each reference (a), (b), (c); x(k): ours / (k); s/epoch and MiB (peak memory): ours`;
}

module.exports = { benchTable };
