/**
 * Model.load checks a checkpoint's recorded model (inputShape, classes, normalisation) against its tensors before
 * any model is built: a small file cannot make it allocate a huge layer, and an impossible std is named.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';

import { loadCheckpoint, Model, saveCheckpoint } from '../../src';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-shapes-'));
const good = path.join(dir, 'good.safetensors');

beforeAll(async () => {
  const model = Model.create({ architecture: 'smallcnn', inputShape: [1, 28, 28], classNames: ['a', 'b', 'c'], mean: [0.3], std: [0.35], device: 'cpu' });
  await model.save(good);
});

/** The good checkpoint with its recorded model config changed. */
function withModel(name: string, change: Record<string, unknown>): string {
  const saved = loadCheckpoint(good);
  const file = path.join(dir, name);
  saveCheckpoint(file, { ...saved, meta: { ...saved.meta, config: { ...saved.meta.config, model: { ...(saved.meta.config.model as object), ...change } } } });
  return file;
}

test('an inputShape that the first layer\'s tensors cannot take is refused before the model is built', async () => {
  const file = withModel('huge.safetensors', { inputShape: [1, 1000, 1000] });
  const peakBefore = process.resourceUsage().maxRSS;
  await expect(Model.load(file)).rejects.toMatchObject({
    code: 'ERR_CHECKPOINT_CORRUPT',
    message: `${file}: config.model.inputShape [1,1000,1000] does not match tensor classifier.fc1.weight [200,1024] (smallcnn expects [200,3904576] for that input); the file is damaged or was edited`,
  });
  expect(process.resourceUsage().maxRSS - peakBefore).toBeLessThan(256 * 1024);
});

test.each([
  ['channels', { inputShape: [3, 28, 28] }, 'config.model.inputShape [3,28,28] does not match tensor feature_extractor.conv1.weight [32,1,3,3] (smallcnn expects [32,3,3,3] for that input)'],
  ['classes', { classNames: ['a', 'b'] }, 'config.model.classNames has 2 classes but tensor classifier.fc3.weight is [3,200] (smallcnn expects [2,200])'],
  ['architecture', { architecture: 'preact-resnet18' }, 'config.model.architecture is preact-resnet18 but the file has no tensor conv1.weight'],
])('recorded %s that disagree with the tensors are refused', async (_, change, why) => {
  const file = withModel(`bad-${_}.safetensors`, change);
  await expect(Model.load(file)).rejects.toThrow(`${file}: ${why}; the file is damaged or was edited`);
});

test.each([
  [[0], 'config.model.std[0] is 0'],
  [[-0.5], 'config.model.std[0] is -0.5'],
])('a normalisation std of %j is refused with ERR_NON_FINITE', async (std, what) => {
  const file = withModel(`std-${std[0]}.safetensors`, { std });
  await expect(Model.load(file)).rejects.toMatchObject({
    code: 'ERR_NON_FINITE',
    message: `${file}: ${what}; every std must be a finite number above 0 (images are divided by it)`,
  });
});

test('the untouched checkpoint still loads', async () => {
  const { model } = await Model.load(good);
  expect(model.config.inputShape).toEqual([1, 28, 28]);
});

/** The good checkpoint with one float32 tensor set (added when missing). */
function withTensor(name: string, tensorName: string, values: number[]): string {
  const saved = loadCheckpoint(good);
  const file = path.join(dir, name);
  const data = new Uint8Array(Float32Array.from(values).buffer);
  saveCheckpoint(file, { ...saved, tensors: { ...saved.tensors, [tensorName]: { dtype: 'F32', shape: [values.length], data } } });
  return file;
}

test('a stored normalize.std at or below 0, or unlike the recorded one, is refused naming the tensor', async () => {
  const zero = withTensor('std-tensor-0.safetensors', 'normalize.std', [0]);
  await expect(Model.load(zero)).rejects.toMatchObject({ code: 'ERR_NON_FINITE', message: `${zero}: tensor normalize.std[0] is 0; every std must be a finite number above 0` });
  const other = withTensor('std-tensor-other.safetensors', 'normalize.std', [0.5]);
  await expect(Model.load(other)).rejects.toThrow(`${other}: tensor normalize.std[0] is 0.5 but config.model.std[0] is 0.35; the file is damaged or was edited`);
});

test('a negative BatchNorm running_var is refused naming the tensor', async () => {
  const file = withTensor('running-var.safetensors', 'block.bn1.running_var', [1, -2]);
  await expect(Model.load(file)).rejects.toMatchObject({ code: 'ERR_NON_FINITE', message: `${file}: tensor block.bn1.running_var[1] is -2; a BatchNorm variance must be a finite number >= 0` });
});
