/** attack and evaluate take a dataset as it is loaded, and refuse one the model was not trained on. */
import fs from 'fs';
import os from 'os';
import path from 'path';

import { attack, ClasswiseError, evaluate, FASHION_MNIST_CLASSES, ImageDataset, loadMnistSample, Model, takeFirst } from '../src';
import { mnistModel } from './helpers/mnist-model';

const digits = takeFirst(loadMnistSample('test'), 32);

/** A checkpoint of a Fashion-MNIST run (class names, dataset in its run settings), loaded back. */
async function fashionMnistCheckpoint(): Promise<Model> {
  const model = Model.create({ architecture: 'smallcnn', inputShape: [1, 28, 28], classNames: [...FASHION_MNIST_CLASSES], mean: [0.286], std: [0.353], device: 'cpu' });
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mismatch-')), 'checkpoint.safetensors');
  await model.save(file, { config: { run: { dataset: 'fashion-mnist', eps: 0.1 } } });
  const loaded = await Model.load(file, { device: 'cpu' });
  expect(loaded.model.dataset).toBe('fashion-mnist');
  return loaded.model;
}

test('attack takes a dataset: its uint8 images give the same adversarial images as their float copies', async () => {
  const model = mnistModel();
  const floats = Float32Array.from(digits.images, (pixel) => pixel / 255);
  const options = { kind: 'pgd' as const, eps: 0.3, steps: 3, seed: 5 };
  const fromDataset = await attack(model, digits, options);
  const fromFloats = await attack(model, floats, digits.labels, options);
  expect(Buffer.from(fromDataset.adversarial.buffer).equals(Buffer.from(fromFloats.adversarial.buffer))).toBe(true);
  expect(Array.from(fromDataset.predictions)).toEqual(Array.from(fromFloats.predictions));
  for (let i = 0; i < floats.length; i++) expect(Math.abs(fromDataset.adversarial[i] - floats[i])).toBeLessThanOrEqual(0.3 + 1e-6);
});

describe('a checkpoint refuses data of another dataset', () => {
  const expected =
    'the model was trained on fashion-mnist (10 classes T-shirt/top, Trouser, Pullover, ...; input 1x28x28) but the data is ' +
    'mnist (10 classes 0, 1, 2, ...; input 1x28x28) (dataset, class names differ); use the model\'s dataset, or pass allowDatasetMismatch: true to run it anyway';

  test('evaluate names both sides', async () => {
    const model = await fashionMnistCheckpoint();
    const error = await evaluate(model, digits).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClasswiseError);
    expect((error as ClasswiseError).code).toBe('ERR_DATASET_MISMATCH');
    expect((error as ClasswiseError).message).toBe(expected);
  });

  test('attack names both sides', async () => {
    const model = await fashionMnistCheckpoint();
    await expect(attack(model, digits, { kind: 'fgsm', eps: 0.1 })).rejects.toThrow(expected);
  });

  test('an input shape that differs is named', async () => {
    const model = await fashionMnistCheckpoint();
    const wide: ImageDataset = { ...digits, name: 'fashion-mnist', classNames: [...FASHION_MNIST_CLASSES], shape: [1, 32, 24] };
    await expect(evaluate(model, wide)).rejects.toThrow('(input shape differ)');
  });

  test('allowDatasetMismatch runs it anyway', async () => {
    const model = await fashionMnistCheckpoint();
    const result = await evaluate(model, digits, { allowDatasetMismatch: true });
    expect(result.counts.reduce((a, b) => a + b, 0)).toBe(digits.count);
    const attacked = await attack(model, digits, { kind: 'fgsm', eps: 0.1, allowDatasetMismatch: true });
    expect(attacked.predictions.length).toBe(digits.count);
  });

  test('plain arrays carry no dataset and are not checked', async () => {
    const model = await fashionMnistCheckpoint();
    const result = await evaluate(model, { images: digits.images, labels: digits.labels });
    expect(result.classNames).toEqual([...FASHION_MNIST_CLASSES]);
  });
});
