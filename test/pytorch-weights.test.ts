/** Plain PyTorch weights (safetensors with PyTorch names, no classwise-at metadata) into a built-in architecture. */
import fs from 'fs';
import os from 'os';
import path from 'path';

import { attack, Model } from '../src';
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

test('weights saved under their PyTorch names load into a fresh model and predict the same', async () => {
  const original = mnistModel(1);
  const loaded = await Model.fromSafetensors(await pytorchStyleFile(original), options);
  const { images, labels } = mnistTestDigits(20);
  const a = await attack(original, images, labels, { kind: 'pgd', eps: 0, steps: 1 });
  const b = await attack(loaded, images, labels, { kind: 'pgd', eps: 0, steps: 1 });
  expect(Array.from(b.predictions)).toEqual(Array.from(a.predictions));
});

test('a missing tensor is named', async () => {
  const original = mnistModel(1);
  const first = Object.keys(await original.state()).find((name) => name.endsWith('.weight'))!;
  await expect(Model.fromSafetensors(await pytorchStyleFile(original, [first]), options)).rejects.toThrow(
    `1 tensor(s) of smallcnn are missing: ${first}`);
});
