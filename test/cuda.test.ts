/** CUDA paths: run where the addon sees a GPU, skipped with the reason elsewhere. */
import { attack, evaluate, runtimeInfo, train } from '../src';
import { Model } from '../src/model';
import { mnistTestDigits } from './helpers/mnist-model';

const cuda = runtimeInfo().cudaAvailable;
const describeCuda = cuda ? describe : describe.skip;
if (!cuda) console.warn(`cuda tests skipped: CUDA is not available to this addon (LibTorch ${runtimeInfo().torchVersion}, CPU build or no GPU)`);

(cuda ? test.skip : test)('without a visible GPU, device "cuda" is refused with the reason: a CPU build, or a CUDA build on a machine without one', () => {
  const reason = runtimeInfo().builtWithCuda ? 'no CUDA device is visible (the addon is built with CUDA' : 'this addon is built without CUDA';
  expect(() => Model.create({ architecture: 'smallcnn', inputShape: [1, 28, 28], classNames: ['a', 'b'], mean: [0.5], std: [0.5], device: 'cuda' }))
    .toThrow(expect.objectContaining({ code: 'ERR_DEVICE', message: expect.stringContaining(`device "cuda" requested but ${reason}`) }));
});

describeCuda(`on CUDA${cuda ? '' : ' (skipped: CUDA not available in this build or machine)'}`, () => {
  const { images, labels, dataset } = mnistTestDigits(512);
  const create = (device: 'cuda' | 'cpu') =>
    Model.create({ architecture: 'smallcnn', inputShape: [1, 28, 28], classNames: dataset.classNames, mean: [0.13], std: [0.31], device, seed: 1 });

  test('the model lives on the GPU', () => {
    expect(create('cuda').info.device).toMatch(/^cuda/);
  });

  test('PGD keeps images in [0,1] and within eps on the GPU', async () => {
    const model = create('cuda');
    await train(model, dataset, { method: 'standard', epochs: 1, schedule: { kind: 'constant', lr: 0.01 }, batchSize: 64 });
    const result = await attack(model, images, labels, { kind: 'pgd', eps: 0.1, steps: 10 });
    let worst = 0;
    for (let i = 0; i < images.length; i++) {
      expect(result.adversarial[i]).toBeGreaterThanOrEqual(0);
      expect(result.adversarial[i]).toBeLessThanOrEqual(1);
      worst = Math.max(worst, Math.abs(result.adversarial[i] - images[i]));
    }
    expect(worst).toBeLessThanOrEqual(0.1 + 1e-6);
  });

  test('GPU and CPU training from the same seed reach similar per-class accuracy', async () => {
    const results = [];
    for (const device of ['cpu', 'cuda'] as const) {
      const model = create(device);
      await train(model, dataset, { method: 'standard', epochs: 2, schedule: { kind: 'constant', lr: 0.01 }, batchSize: 64, seed: 2 });
      results.push(await evaluate(model, dataset));
    }
    // Both learned (a stalled run on each side would agree vacuously).
    for (const result of results) expect(result.overall.clean).toBeGreaterThan(0.9);
    expect(Math.abs(results[0].overall.clean - results[1].overall.clean)).toBeLessThan(0.05);
  });

  test('the fast path on the GPU: auto follows the compute capability, and graph-replayed PGD keeps every invariant', async () => {
    const model = create('cuda');
    await train(model, dataset, { method: 'standard', epochs: 1, schedule: { kind: 'constant', lr: 0.01 }, batchSize: 64, precision: 'auto', memoryFormat: 'auto' });
    const choice = runtimeInfo().autoFastPath.cuda!;
    expect(choice.reason).toMatch(/compute capability \d+\.\d+/);
    // 500 images in batches of 128: three full batches replay one graph, the last (116) captures a second.
    const count = 500;
    const some = images.subarray(0, count * 784);
    const result = await attack(model, some, labels.subarray(0, count), { kind: 'pgd', eps: 0.1, steps: 10, batchSize: 128, precision: 'auto', memoryFormat: 'auto' });
    expect(result.precision).toBe(choice.precision);
    expect(result.memoryFormat).toBe(choice.memoryFormat);
    let worst = 0;
    let outside = 0;
    for (let i = 0; i < some.length; i++) {
      if (!(result.adversarial[i] >= 0 && result.adversarial[i] <= 1)) outside++;
      worst = Math.max(worst, Math.abs(result.adversarial[i] - some[i]));
    }
    expect(outside).toBe(0);
    expect(worst).toBeLessThanOrEqual(0.1 + 1e-6);
    // Replayed graphs attack as the eager CPU loop does: success rates agree.
    const onCpu = create('cpu');
    await onCpu.loadState(await model.state());
    const eager = await attack(onCpu, some, labels.subarray(0, count), { kind: 'pgd', eps: 0.1, steps: 10, batchSize: 128 });
    expect(Math.abs(result.successRate - eager.successRate)).toBeLessThan(0.05);
  });
});
