/**
 * Models whose first forward gives NaN or infinite logits: finite weights that overflow float32 (a layer scaled
 * by 1e30) and TorchScript models that compute NaN or infinity. evaluate, attack and train refuse them at their
 * first forward with ERR_NON_FINITE naming the output, in the library and on the command line.
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { attack, evaluate, loadMnistSample, Model, takeFirst, train } from '../../src';
import { mnistModel } from '../helpers/mnist-model';
import { torchPython } from '../helpers/torch-python';

const root = path.resolve(__dirname, '..', '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'non-finite-logits-'));
const overflowing = path.join(dir, 'overflowing.safetensors');
const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
const OVERFLOW = /^the model's logits for the first batch hold \d+ NaN and \d+ infinite values of \d+ although its weights are finite: a layer overflows float32 \(weights far too large\) or the model computes NaN; fix or retrain the model before evaluating, attacking or training it$/;

// NaN wherever a pixel is above 0.5 (a black image passes the load check); infinite for every image.
const EXPORT = `
import sys, torch
class Net(torch.nn.Module):
    def __init__(self, infinite: bool):
        super().__init__()
        self.fc = torch.nn.Linear(784, 10)
        self.infinite = infinite
    def forward(self, x):
        logits = self.fc(x.flatten(1))
        if self.infinite:
            return logits + float('inf')
        bright = x.flatten(1).amax(1, keepdim=True) > 0.5
        return torch.where(bright, torch.full_like(logits, float('nan')), logits)
torch.jit.save(torch.jit.script(Net(False).eval()), sys.argv[1] + '/nan.pt')
torch.jit.save(torch.jit.script(Net(True).eval()), sys.argv[1] + '/inf.pt')
`;

const data = () => takeFirst(loadMnistSample('test'), 20);

function cli(args: string[]) {
  const result = spawnSync(process.execPath, ['dist/cli/main.js', ...args], { cwd: root, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(async () => {
  // The first two layers' weights scaled by 1e30: every value fits float32 (below 3.4e38), their product does not.
  const model = mnistModel();
  const state = await model.state();
  let scaled = 0;
  for (const [name, tensor] of Object.entries(state)) {
    if (!/weight$/.test(name) || tensor.dtype !== 'F32' || scaled === 2) continue;
    const values = new Float32Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength / 4);
    for (let i = 0; i < values.length; i++) values[i] *= 1e30;
    scaled += 1;
  }
  await model.loadState(state);
  await model.save(overflowing);
  fs.writeFileSync(path.join(dir, 'export.py'), EXPORT);
  const exported = spawnSync(torchPython(), [path.join(dir, 'export.py'), dir], { encoding: 'utf8' });
  if (exported.status !== 0) throw new Error(`export failed: ${exported.stderr}`);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('weights that overflow float32', () => {
  let model: Model;
  beforeAll(async () => {
    model = (await Model.load(overflowing, { device: 'cpu' })).model;
  });

  test('evaluate refuses them at the first forward', async () => {
    const error = await evaluate(model, data(), { attack: { kind: 'pgd', eps: 0.1, steps: 2 } }).then(() => undefined, (e: Error & { code: string }) => e);
    expect(error).toMatchObject({ code: 'ERR_NON_FINITE' });
    expect(error!.message).toMatch(OVERFLOW);
  });

  test('attack refuses them at the first forward', async () => {
    const test = data();
    const images = Float32Array.from(test.images, (v) => v / 255);
    await expect(attack(model, images, test.labels, { kind: 'pgd', eps: 0.1, steps: 2 })).rejects.toMatchObject({ code: 'ERR_NON_FINITE', message: expect.stringMatching(OVERFLOW) });
  });

  test('train refuses them at the first forward, not as a diverged learning rate', async () => {
    await expect(train(model, data(), { method: 'standard', epochs: 1, schedule: { kind: 'constant', lr: 0.01 }, batchSize: 10 }))
      .rejects.toMatchObject({ code: 'ERR_NON_FINITE', message: expect.stringMatching(OVERFLOW) });
  });

  test('the CLI prints one line for evaluate and train --init-from', () => {
    const evaluated = cli(['evaluate', '--checkpoint', overflowing, '--dataset', 'mnist', '--per-class', '2', '--attack', 'pgd@2', '--eps', '0.1', '--threads', '1']);
    expect(evaluated.status).toBe(1);
    expect(evaluated.stderr).toMatch(/^error: the model's logits for the first batch hold \d+ NaN and \d+ infinite values of \d+ although its weights are finite: .*\n$/);
    const trained = cli(['train', '--dataset', 'mnist', '--init-from', overflowing, '--train-per-class', '2', '--eval-per-class', '2', '--epochs', '1',
      '--method', 'standard', '--threads', '1', '--out', path.join(dir, 'run')]);
    expect(trained.status).toBe(1);
    console.log(`train --init-from the overflowing checkpoint:\n${trained.stderr}`);
    expect(trained.stderr).toMatch(/^error: the model's logits for the first batch hold \d+ NaN and \d+ infinite values of \d+ although its weights are finite: [^\n]*\n$/);
  });
});

describe('a TorchScript model', () => {
  test('that returns infinity for every image is refused at load', () => {
    const file = path.join(dir, 'inf.pt');
    expect(() => Model.loadTorchScript(file, { inputShape: [1, 28, 28], classNames: DIGITS, device: 'cpu' })).toThrow(expect.objectContaining({
      code: 'ERR_NON_FINITE',
      message: `the TorchScript model in "${file}" returns NaN or infinite logits for a black image of shape [1, 1, 28, 28] (0 NaN, 10 infinite of 10); it must return finite logits: fix the model and export it again`,
    }));
  });

  test('that returns NaN for real images is refused at the first forward of evaluate, attack and train', async () => {
    const model = Model.loadTorchScript(path.join(dir, 'nan.pt'), { inputShape: [1, 28, 28], classNames: DIGITS, device: 'cpu' });
    const nan = /^the TorchScript model's logits for the first batch hold \d+ NaN and 0 infinite values of \d+ although its weights are finite/;
    await expect(evaluate(model, data(), { attack: null })).rejects.toMatchObject({ code: 'ERR_NON_FINITE', message: expect.stringMatching(nan) });
    const test = data();
    await expect(attack(model, Float32Array.from(test.images, (v) => v / 255), test.labels, { kind: 'fgsm', eps: 0.1 }))
      .rejects.toMatchObject({ code: 'ERR_NON_FINITE', message: expect.stringMatching(nan) });
    await expect(train(model, data(), { method: 'standard', epochs: 1, schedule: { kind: 'constant', lr: 0.01 }, batchSize: 10 }))
      .rejects.toMatchObject({ code: 'ERR_NON_FINITE', message: expect.stringMatching(nan) });
  });

  test('that returns NaN is one CLI line in evaluate --model', () => {
    const file = path.join(dir, 'nan.pt');
    const result = cli(['evaluate', '--model', file, '--dataset', 'mnist', '--per-class', '2', '--attack', 'none', '--threads', '1']);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^error: the TorchScript model's logits for the first batch hold \d+ NaN and 0 infinite values of \d+ although its weights are finite: .*\n$/);
  });
});
