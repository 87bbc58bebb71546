/**
 * Any PyTorch model: a TorchScript file exported by the PyTorch of the addon's own version
 * (test/helpers/torch-python.ts), attacked and evaluated class-wise like a built-in model.
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { attack, Model } from '../src';
import { torchPython } from './helpers/torch-python';

const root = path.resolve(__dirname, '..');
const CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

// A small CNN with its normalisation inside (inputs in [0,1]), scripted and saved; also a plain state dict.
const EXPORT = `
import json, sys, torch
torch.manual_seed(0)
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 8, 3, padding=1)
        self.fc = torch.nn.Linear(8 * 14 * 14, 10)
    def forward(self, x):
        x = (x - 0.286) / 0.353
        x = torch.nn.functional.max_pool2d(torch.relu(self.conv(x)), 2)
        return self.fc(x.flatten(1))
net = Net().eval()
out = sys.argv[1]
torch.jit.save(torch.jit.script(net), out + '/model.pt')
torch.save(net.state_dict(), out + '/state_dict.pt')
x = (torch.arange(6 * 784, dtype=torch.float32).reshape(6, 1, 28, 28) * 7 % 255) / 255
print(json.dumps(net(x).argmax(1).tolist()))
`;

describe('a TorchScript model from PyTorch', () => {
  let folder: string;
  let pythonPredictions: number[];

  beforeAll(() => {
    folder = fs.mkdtempSync(path.join(os.tmpdir(), 'torchscript-'));
    // torch.jit.script reads the class's source, so the script must be a file.
    fs.writeFileSync(path.join(folder, 'export.py'), EXPORT);
    const exported = spawnSync(torchPython(), [path.join(folder, 'export.py'), folder], { encoding: 'utf8' });
    if (exported.status !== 0) throw new Error(`export failed: ${exported.stderr}`);
    pythonPredictions = JSON.parse(exported.stdout.trim().split('\n').pop()!);
  });

  const images = () => Float32Array.from({ length: 6 * 784 }, (_, i) => ((i * 7) % 255) / 255);

  test('predicts what PyTorch predicts for the same images', async () => {
    const model = Model.loadTorchScript(path.join(folder, 'model.pt'), { inputShape: [1, 28, 28], classNames: CLASSES, device: 'cpu' });
    expect(model.numClasses).toBe(10);
    const labels = Int32Array.from(pythonPredictions);
    const clean = await attack(model, images(), labels, { kind: 'pgd', eps: 0, steps: 1 });
    expect(Array.from(clean.predictions)).toEqual(pythonPredictions);
  });

  test('is attacked within eps like a built-in model (PGD and APGD-CE)', async () => {
    const model = Model.loadTorchScript(path.join(folder, 'model.pt'), { inputShape: [1, 28, 28], classNames: CLASSES, device: 'cpu' });
    const labels = Int32Array.from(pythonPredictions);
    for (const options of [{ kind: 'pgd' as const, eps: 0.1, steps: 5 }, { kind: 'apgd-ce' as const, eps: 0.1, steps: 5 }]) {
      const result = await attack(model, images(), labels, options);
      let max = 0;
      const original = images();
      result.adversarial.forEach((value, i) => (max = Math.max(max, Math.abs(value - original[i]))));
      expect(max).toBeLessThanOrEqual(0.1 + 1e-6);
      expect(result.successRate).toBeGreaterThan(0);
    }
  });

  test('a torch.save state dict is refused with how to export TorchScript', () => {
    expect(() => Model.loadTorchScript(path.join(folder, 'state_dict.pt'), { inputShape: [1, 28, 28], classNames: CLASSES })).toThrow(
      /state_dict.pt" could not be loaded as TorchScript: it is a torch.save archive \(a pickled state dict or model\), not TorchScript; export it in Python with: .*torch.jit.save/);
  });

  test('a class count that does not match the outputs is named', () => {
    expect(() => Model.loadTorchScript(path.join(folder, 'model.pt'), { inputShape: [1, 28, 28], classNames: ['a', 'b'] })).toThrow(
      'has 10 outputs but 2 class names were given');
  });

  test('an input shape the model cannot take is named', () => {
    expect(() => Model.loadTorchScript(path.join(folder, 'model.pt'), { inputShape: [3, 32, 32], classNames: CLASSES })).toThrow(
      /fails on images of shape \[1, 3, 32, 32\]/);
  });

  test('the CLI evaluates it class-wise on Fashion-MNIST', () => {
    if (!fs.existsSync('/usr/share/datasets/fashion-mnist')) {
      console.warn('CLI part skipped: /usr/share/datasets/fashion-mnist is missing (apt-get install dataset-fashion-mnist)');
      return;
    }
    const result = spawnSync(process.execPath, ['dist/cli/main.js', 'evaluate', '--model', path.join(folder, 'model.pt'),
      '--dataset', 'fashion-mnist', '--per-class', '5', '--attack', 'apgd-ce', '--steps', '5', '--device', 'cpu'], { cwd: root, encoding: 'utf8' });
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('TorchScript model');
    expect(result.stdout).toContain('per-class accuracy on 50 fashion-mnist test images');
    expect(result.stdout).toContain('APGD-CE-5 Linf eps=0.1');
    for (const name of CLASSES) expect(result.stdout).toContain(name);
  });
});
