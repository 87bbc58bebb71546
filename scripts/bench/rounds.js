// What run.js and options.js share: Fashion-MNIST inputs written once for the workload processes, one workload
// process's JSON line, and rounds, which run every side once per round, in turn, in a fresh process, so that a
// shared machine's slow minutes hit both sides of a ratio alike.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { loadFashionMnist } = require('../../dist/index.js');

/** The first `count` Fashion-MNIST training images and labels as raw files, for --data / --labels. */
function fashionMnistFiles(count, prefix = 'classwise-bench-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const train = loadFashionMnist('train');
  fs.writeFileSync(path.join(dir, 'images.u8'), train.images.subarray(0, count * 784));
  fs.writeFileSync(path.join(dir, 'labels.i32'), Buffer.from(train.labels.slice(0, count).buffer));
  return { dir, data: path.join(dir, 'images.u8'), labels: path.join(dir, 'labels.i32') };
}

/** Runs one workload process and returns the JSON object of its last stdout line. */
function runJson(command, args, env = {}) {
  const output = execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  return JSON.parse(output.trim().split('\n').pop());
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * sides: [{ name, run() }]. Each round runs every side once, starting with another side each round (so no side
 * always runs right after the machine was idle). Returns { [name]: [result of round 0, round 1, ...] }.
 */
function runRounds(sides, rounds, onResult = () => undefined) {
  const results = Object.fromEntries(sides.map((side) => [side.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < sides.length; i++) {
      const side = sides[(round + i) % sides.length];
      results[side.name].push(side.run());
      onResult(side.name, round, results[side.name].at(-1));
    }
  }
  return results;
}

module.exports = { fashionMnistFiles, runJson, median, runRounds };
