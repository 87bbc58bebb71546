/** Plain PyTorch weights (safetensors with PyTorch names, no classwise-at metadata) into a built-in architecture. */
import fs from 'fs';
import os from 'os';
import path from 'path';

import { attack, loadMnistSample, Model, takePerClass, train } from '../src';
import { encodeSafetensors, TensorMap } from '../src/checkpoint';
import { mnistModel, mnistTestDigits } from './helpers/mnist-model';

async function pytorchStyleFile(model: Model, drop: string[] = []): Promise<string> {
  const state = await model.state();
  const tensors: TensorMap = {};
  for (const [name, tensor] of Object.entries(state)) {
    if (!name.startsWith('optimizer.') && !name.startsWith('normalize.') && !drop.includes(name)) tensors[name] = tensor;
  }
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'weights-')), 'model.safetensors');
  fs.writeFileSync(file, encodeSafetensors(tensors, {}));
  return file;
}

const options = {
  architecture: 'smallcnn' as const, inputShape: [1, 28, 28] as [number, number, number],
  classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], mean: [0.1307], std: [0.3081], device: 'cpu' as const, seed: 99,
};

/** A briefly trained model: an untrained SmallCNN predicts one class for everything and would prove nothing. */
async function briefly(model: Model): Promise<Model> {
  await train(model, takePerClass(loadMnistSample('train'), 50, 0), { method: 'standard', epochs: 2, schedule: { kind: 'constant', lr: 0.05 }, batchSize: 50, seed: 1, precision: 'fp32', memoryFormat: 'contiguous' });
  return model;
}

test('weights saved under their PyTorch names load into a fresh model and predict the same', async () => {
  const original = await briefly(mnistModel(1));
  const loaded = await Model.fromSafetensors(await pytorchStyleFile(original), options);
  const { images, labels } = mnistTestDigits(100);
  const a = await attack(original, images, labels, { kind: 'pgd', eps: 0, steps: 1 });
  const b = await attack(loaded, images, labels, { kind: 'pgd', eps: 0, steps: 1 });
  // The comparison means something only if the model tells digits apart.
  expect(new Set(a.predictions).size).toBeGreaterThanOrEqual(8);
  expect(Array.from(b.predictions)).toEqual(Array.from(a.predictions));
  // A fresh model with the same seed but without the weights predicts differently.
  const fresh = await attack(await Model.create({ ...options, seed: 1 }), images, labels, { kind: 'pgd', eps: 0, steps: 1 });
  expect(Array.from(fresh.predictions)).not.toEqual(Array.from(a.predictions));
});

test('a missing tensor is named', async () => {
  const original = mnistModel(1);
  const first = Object.keys(await original.state()).find((name) => name.endsWith('.weight'))!;
  await expect(Model.fromSafetensors(await pytorchStyleFile(original, [first]), options)).rejects.toThrow(
    `1 tensor(s) of smallcnn are missing: ${first}`);
});
