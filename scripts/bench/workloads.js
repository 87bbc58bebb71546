// The benchmark's workloads, shared by run.js (speed against the references) and ceiling.js (where the time goes).
// Image counts are sized so the whole CPU bench ends in minutes; epoch seconds are extrapolated from them.
'use strict';

/** The six workloads; on a GPU, more images and larger batches. */
function benchWorkloads(gpu) {
  return [
    { name: 'smallcnn-fmnist pgd10-train', arch: 'smallcnn', workload: 'pgd-train', steps: 10, eps: 0.1, images: gpu ? 8192 : 1024, batch: 128, epochImages: 60000, data: 'fashion-mnist' },
    { name: 'smallcnn-fmnist pgd10-attack', arch: 'smallcnn', workload: 'pgd-attack', steps: 10, eps: 0.1, images: gpu ? 8192 : 1024, batch: 128, epochImages: 10000, data: 'fashion-mnist' },
    { name: 'smallcnn-fmnist pgd20-eval', arch: 'smallcnn', workload: 'pgd-eval', steps: 20, eps: 0.1, images: gpu ? 8192 : 512, batch: 256, epochImages: 10000, data: 'fashion-mnist' },
    { name: 'preact18-32x32 pgd10-train', arch: 'preact-resnet18', workload: 'pgd-train', steps: 10, eps: 8 / 255, images: gpu ? 4096 : 32, batch: gpu ? 128 : 32, epochImages: 50000 },
    { name: 'preact18-32x32 pgd10-attack', arch: 'preact-resnet18', workload: 'pgd-attack', steps: 10, eps: 8 / 255, images: gpu ? 4096 : 32, batch: gpu ? 256 : 32, epochImages: 10000 },
    { name: 'preact18-32x32 pgd20-eval', arch: 'preact-resnet18', workload: 'pgd-eval', steps: 20, eps: 8 / 255, images: gpu ? 4096 : 32, batch: gpu ? 256 : 32, epochImages: 10000 },
  ];
}

/** Stops the script with one line on stderr (a wrong argument is not a crash). */
function usageError(message) {
  console.error(`bench: ${message}`);
  process.exit(2);
}

/** The names that contain one of `only`'s comma-separated parts (all when it is not given); a part in no name stops. */
function selectNames(names, only) {
  if (only === undefined) return names;
  const parts = only.split(',').map((part) => part.trim()).filter(Boolean);
  const unmatched = parts.filter((part) => !names.some((name) => name.includes(part)));
  const problem = parts.length === 0 ? 'names no workload'
    : unmatched.length > 0 ? `${unmatched.map((part) => JSON.stringify(part)).join(', ')} ${unmatched.length > 1 ? 'are' : 'is'} in no workload's name` : null;
  if (problem) {
    usageError(`--only ${JSON.stringify(only)}: ${problem}; name one or more of: ${names.join(', ')} ` +
      '(or a part of a name, such as preact18)');
  }
  return names.filter((name) => parts.some((part) => name.includes(part)));
}

/** The bench workloads chosen by --only (see selectNames). */
function selectWorkloads(gpu, only) {
  const all = benchWorkloads(gpu);
  const names = selectNames(all.map((w) => w.name), only);
  return all.filter((w) => names.includes(w.name));
}

/** The command-line arguments of native-workload.js and reference.py for one workload. */
function workloadArgs(w, { images, threads, device, files }) {
  const args = [w.workload, '--arch', w.arch, '--images', String(images), '--batch', String(w.batch), '--threads', String(threads),
    '--steps', String(w.steps), '--eps', String(w.eps), '--device', device, '--repeats', '1'];
  if (w.data) args.push('--data', files.data, '--labels', files.labels);
  return args;
}

module.exports = { benchWorkloads, selectNames, selectWorkloads, usageError, workloadArgs };
