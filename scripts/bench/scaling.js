// Data-parallel CPU scaling, 1 -> 2 processes (a section of `npm run bench`; alone: node scripts/bench/scaling.js):
// SmallCNN PGD-10 adversarial training on Fashion-MNIST, same global batch, on
//   1 process x 1 thread (the per-rank baseline), 1 process x all threads, 2 ranks (Gloo) x threads / 2 each.
// Efficiency = 2-rank images/s / (2 x 1-process-1-thread images/s); beside it, 2 ranks against one process
// using the same cores. Returns the rows; prints a table when run alone.
'use strict';
const { spawn } = require('child_process');
const os = require('os');
const path = require('path');
const { freePort } = require('../../dist/distributed/launch.js');

const rankScript = path.join(__dirname, 'scaling-rank.js');

function runRanks(ranks, threadsPerRank, images, batch, port) {
  return Promise.all(Array.from({ length: ranks }, (_, rank) => new Promise((resolve, reject) => {
    const env = ranks > 1
      ? { ...process.env, RANK: String(rank), WORLD_SIZE: String(ranks), LOCAL_RANK: String(rank), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) }
      : { ...process.env };
    const child = spawn(process.execPath, [rankScript, '--images', String(images), '--batch', String(batch), '--threads', String(threadsPerRank)], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop())) : reject(new Error(`rank ${rank} exited with ${code}`))));
  })));
}

async function scaling({ images = 512, batch = 128, threads = os.cpus().length } = {}) {
  const rows = [];
  const measure = async (label, ranks, threadsPerRank) => {
    const results = await runRanks(ranks, threadsPerRank, images, batch, await freePort());
    const seconds = Math.max(...results.map((r) => r.seconds));
    rows.push({ label, ranks, threadsPerRank, imagesPerSecond: images / seconds, seconds });
    process.stderr.write(`bench scaling: ${label}: ${(images / seconds).toFixed(1)} img/s\n`);
  };
  await measure('1 process x 1 thread', 1, 1);
  if (threads > 1) await measure(`1 process x ${threads} threads`, 1, threads);
  await measure(`2 ranks x ${Math.max(1, Math.floor(threads / 2))} thread(s) (gloo)`, 2, Math.max(1, Math.floor(threads / 2)));
  const base = rows[0].imagesPerSecond;
  const two = rows[rows.length - 1].imagesPerSecond;
  const sameCores = rows.length === 3 ? rows[1].imagesPerSecond : base;
  return { images, batch, threads, rows, efficiency: two / (2 * base), versusOneProcessSameCores: two / sameCores };
}

module.exports = { scaling };

if (require.main === module) {
  scaling().then((result) => {
    for (const r of result.rows) console.log(`${r.label.padEnd(34)} ${r.imagesPerSecond.toFixed(1).padStart(8)} img/s`);
    console.log(`scaling 1 -> 2 processes: efficiency ${(100 * result.efficiency).toFixed(0)}% (2 ranks vs 2 x one single-thread process); ` +
      `2 ranks vs 1 process on the same ${result.threads} cores: ${result.versusOneProcessSameCores.toFixed(2)}x`);
  }).catch((error) => {
    console.error(error.message);
    process.exitCode = 1;
  });
}
