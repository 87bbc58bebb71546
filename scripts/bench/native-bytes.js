#!/usr/bin/env node
// Bytes handed from JavaScript into the addon by each native call of a `train` command, summed per epoch.
// Usage: node scripts/bench/native-bytes.js [DIST] -- [train options...]   (DIST: the compiled library, default ./dist)
// Counts the byteLength of every typed array in the data argument of NativeModel.train/evaluate/attack/setState and
// of NativeDataset construction (a dataset handed over once); each train call (one per epoch in memory) opens an epoch.
'use strict';
const path = require('path');

const split = process.argv.indexOf('--');
const dist = path.resolve(split > 2 || (split < 0 && process.argv[2]) ? process.argv[2] : 'dist');
const args = split >= 0 ? process.argv.slice(split + 1) : [];
const addon = require(path.join(dist, 'native')).nativeAddon();

function typedBytes(value, depth = 0) {
  if (!value || typeof value !== 'object' || depth > 3) return 0;
  if (ArrayBuffer.isView(value)) return value.byteLength;
  return Object.values(value).reduce((sum, v) => sum + typedBytes(v, depth + 1), 0);
}

const calls = [];
const counted = ['train', 'evaluate', 'attack', 'setState'];
// Addon methods are read-only: wrap each model in a proxy that counts before calling through.
const NativeModel = addon.NativeModel;
addon.NativeModel = function (spec) {
  const model = new NativeModel(spec);
  return new Proxy(model, {
    get(target, key) {
      const value = target[key];
      if (typeof value !== 'function') return value;
      if (!counted.includes(key)) return value.bind(target);
      return (data, ...rest) => {
        calls.push({ method: key, bytes: typedBytes(data) });
        return value.call(target, data, ...rest);
      };
    },
  });
};
if (addon.NativeDataset) {
  const NativeDataset = addon.NativeDataset;
  addon.NativeDataset = function (data) {
    calls.push({ method: 'NativeDataset', bytes: typedBytes(data) });
    return new NativeDataset(data);
  };
}

require(path.join(dist, 'cli', 'main')).main(['train', ...args]).then(() => {
  let setup = 0;
  let total = 0;
  const perEpoch = [];
  for (const call of calls) {
    total += call.bytes;
    if (call.method === 'train') perEpoch.push(0);
    if (call.method === 'NativeDataset' || call.method === 'setState' || perEpoch.length === 0) setup += call.bytes;
    else perEpoch[perEpoch.length - 1] += call.bytes;
  }
  console.log(`native-bytes: once per run (datasets, state): ${setup.toLocaleString('en-US')} bytes`);
  perEpoch.forEach((bytes, e) => console.log(`native-bytes: epoch ${e + 1}: ${bytes.toLocaleString('en-US')} bytes`));
  console.log(`native-bytes: calls ${calls.map((c) => `${c.method}:${c.bytes}`).join(' ')}`);
  console.log(`native-bytes: total ${total.toLocaleString('en-US')} bytes`);
});
