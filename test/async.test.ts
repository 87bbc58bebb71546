/** Native work runs on worker threads: the event loop keeps turning and progress arrives while it runs. */
import { attack } from '../src';
import { mnistModel, mnistTestDigits } from './helpers/mnist-model';

test('timers fire and progress events arrive while an attack is running natively', async () => {
  const model = mnistModel();
  const { images, labels } = mnistTestDigits(256);
  let ticks = 0;
  const progressDone: number[] = [];
  let ticksAtFirstProgress = -1;
  const timer = setInterval(() => ticks++, 0);
  const running = attack(model, images, labels, {
    kind: 'pgd',
    eps: 0.1,
    steps: 20,
    batchSize: 32,
    onProgress: (event) => {
      if (ticksAtFirstProgress < 0) ticksAtFirstProgress = ticks;
      progressDone.push(event.done);
    },
  });
  const result = await running;
  clearInterval(timer);

  expect(result.predictions).toHaveLength(256);
  // One event per native batch, in order, ending at the total.
  expect(progressDone).toEqual([32, 64, 96, 128, 160, 192, 224, 256]);
  // The JS thread ran timers while the first batches were being attacked.
  expect(ticksAtFirstProgress).toBeGreaterThan(0);
  expect(ticks).toBeGreaterThan(ticksAtFirstProgress);
});

test('two models work concurrently, each call settling its own promise', async () => {
  const { images, labels } = mnistTestDigits(64);
  const [a, b] = [mnistModel(1), mnistModel(2)];
  const options = { kind: 'pgd' as const, eps: 0.1, steps: 2, seed: 3 };
  const [first, second] = await Promise.all([attack(a, images, labels, options), attack(b, images, labels, options)]);
  const alone = await attack(a, images, labels, options);
  expect(Buffer.from(first.adversarial.buffer).equals(Buffer.from(alone.adversarial.buffer))).toBe(true);
  expect(second.adversarial).toHaveLength(images.length);
});
