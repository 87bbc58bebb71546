/**
 * WideResNet-34-10 and ResNet-50 against their PyTorch definitions (scripts/reference/zoo_models.py, after
 * TRADES and torchvision): same parameter names and shapes (strict load), same losses in eval mode.
 * The PyTorch half runs in the Python whose torch is the addon's LibTorch (test/helpers/torch-python.ts).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { evaluate, Model, setThreads } from '../src/index';
import { makeTempFolder } from './data/idx-fixtures';
import { torchPython } from './helpers/torch-python';

const SCRIPT = path.join(__dirname, '..', 'scripts', 'reference', 'zoo_models.py');
const LOSS_TOLERANCE = 1e-4;
const CLASSES = ['a', 'b', 'c', 'd', 'e'];

beforeAll(() => setThreads(2));

/** Our tensors without the optimizer state, as a state.json + state.bin PyTorch can load. */
async function exportState(model: Model, folder: string, images: Float32Array, labels: number[]): Promise<void> {
  const tensors: Record<string, unknown> = {};
  const blobs: Buffer[] = [];
  let offset = 0;
  for (const [name, tensor] of Object.entries(await model.state())) {
    if (name.startsWith('optimizer.')) continue;
    tensors[name] = { dtype: tensor.dtype, shape: tensor.shape, offset, bytes: tensor.data.length };
    blobs.push(Buffer.from(tensor.data));
    offset += tensor.data.length;
  }
  const [c, h, w] = model.config.inputShape;
  fs.writeFileSync(path.join(folder, 'state.json'), JSON.stringify({ tensors, mean: model.config.mean, std: model.config.std, inputShape: [labels.length, c, h, w], labels }));
  fs.writeFileSync(path.join(folder, 'state.bin'), Buffer.concat(blobs));
  fs.writeFileSync(path.join(folder, 'input.bin'), Buffer.from(images.buffer));
}

describe.each([
  { architecture: 'resnet50' as const, side: 64, parameters: 23_518_277, names: ['conv1.weight', 'bn1.running_var', 'layer1.0.downsample.0.weight', 'layer1.0.downsample.1.bias', 'layer3.5.conv3.weight', 'layer4.2.bn3.weight', 'fc.weight'] },
  { architecture: 'wide-resnet34-10' as const, side: 32, parameters: 46_157_269 /* 46,160,474 with 10 classes, the count usually cited */, names: ['conv1.weight', 'block1.layer.0.convShortcut.weight', 'block1.layer.4.bn2.running_mean', 'block3.layer.4.conv2.weight', 'bn1.weight', 'fc.bias'] },
])('$architecture', ({ architecture, side, parameters, names }) => {
  const labels = [0, 3, 4];
  let model: Model;
  let images: Float32Array;
  beforeAll(async () => {
    model = Model.create({ architecture, inputShape: [3, side, side], classNames: CLASSES, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], seed: 1 });
    images = Float32Array.from({ length: labels.length * 3 * side * side }, (_, i) => ((i * 7919) % 256) / 255);
  });

  test('has the PyTorch parameter names and count', async () => {
    const state = await model.state();
    for (const name of names) expect(Object.keys(state)).toContain(name);
    expect(model.info.parameterCount).toBe(parameters);
  });

  test('PyTorch loads its weights with strict=True and computes the same losses', async () => {
    const temp = makeTempFolder();
    try {
      await exportState(model, temp.folder, images, labels);
      const run = spawnSync(torchPython(), [SCRIPT, architecture, String(CLASSES.length), temp.folder], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '2' } });
      expect(run.stderr).toBe('');
      const reference = JSON.parse(run.stdout) as { parameters: number; losses: number[] };
      expect(reference.parameters).toBe(parameters);
      const pixels = Uint8Array.from(images, (v) => Math.round(v * 255));
      const ours = await evaluate(model, { images: pixels, labels: Int32Array.from(labels) }, { attack: null, precision: 'fp32', memoryFormat: 'contiguous' });
      labels.forEach((label, i) => {
        expect(Math.abs(ours.meanLoss[label] - reference.losses[i])).toBeLessThan(LOSS_TOLERANCE * Math.max(1, reference.losses[i]));
      });
    } finally {
      temp.remove();
    }
  });
});
