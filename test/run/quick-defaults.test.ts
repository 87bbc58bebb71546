/** The settings a run takes when the budget is left out: each dataset's quick recipe, and the community one given. */
import { runConfig } from '../../src/run';

test('Fashion-MNIST defaults to the one-step quick recipe: 4,500 per class, step eps from a random start, batch 64, 2 epochs', () => {
  const config = runConfig({ dataset: 'fashion-mnist' });
  expect(config).toMatchObject({ method: 'pgd', trainPerClass: 4500, evalPerClass: 200, epochs: 2, trainSteps: 1, batchSize: 64, learningRate: 0.1, schedule: 'cyclic' });
  expect(config.trainStepSize).toBeCloseTo(0.1, 12);
});

test('steps given by the user take 2.5 eps spread over them, not the quick step', () => {
  expect(runConfig({ dataset: 'fashion-mnist', trainSteps: 10 }).trainStepSize).toBeCloseTo(0.025, 12);
  expect(runConfig({ dataset: 'fashion-mnist', trainSteps: 1 }).trainStepSize).toBeCloseTo(0.25, 12);
  expect(runConfig({ dataset: 'fashion-mnist', method: 'fgsm-rs' }).trainStepSize).toBeCloseTo(0.125, 12);
});

test('the community recipe given in full replaces every quick setting', () => {
  const config = runConfig({ dataset: 'fashion-mnist', trainPerClass: null, trainSteps: 40, trainStepSize: 0.01, epochs: 20, batchSize: 128, learningRate: 0.01 });
  expect(config).toMatchObject({ trainPerClass: null, trainSteps: 40, trainStepSize: 0.01, epochs: 20, batchSize: 128, learningRate: 0.01 });
});

test('MNIST and CIFAR-10 keep PGD-5 with step 2.5 eps / 5 at batch 128 over 3 epochs', () => {
  expect(runConfig({ dataset: 'mnist' })).toMatchObject({ trainPerClass: 1000, evalPerClass: 200, epochs: 3, trainSteps: 5, batchSize: 128, learningRate: 0.1 });
  expect(runConfig({ dataset: 'mnist' }).trainStepSize).toBeCloseTo(0.15, 12);
  expect(runConfig({ dataset: 'cifar10' })).toMatchObject({ trainPerClass: 100, evalPerClass: 20, epochs: 3, trainSteps: 5, batchSize: 128, learningRate: 0.1 });
});
