/** A class the model never predicts is named, with where its images go, on every run. */
import { collapsedClasses, collapsedClassWarnings, evaluate, loadMnistSample, takeFirst } from '../src';
import { standardTrainedMnistModel } from './helpers/mnist-model';

test('a confusion matrix whose column of a class is empty names that class and its clean targets', () => {
  const names = ['Coat', 'Shirt', 'Pullover'];
  // Shirt (row 1) goes to Pullover 6 and Coat 4; no image is predicted Shirt.
  const confusion = [[9, 0, 1], [4, 0, 6], [1, 0, 9]];
  expect(collapsedClasses(names, confusion)).toEqual([{ index: 1, name: 'Shirt', predicted: 0, count: 10, goesTo: [[2, 0.6], [0, 0.4]] }]);
  expect(collapsedClassWarnings(names, confusion)).toEqual([
    'the model never predicts Shirt (0 of 30 test images, 10 of which are Shirt); clean, its images go to Pullover 60%, Coat 40%; ' +
      'its accuracies measure a collapsed class, not robustness (train longer, more images per class, or --class-weight "shirt=2")',
  ]);
});

test('a class predicted for at least a tenth as many images as it has is not collapsed', () => {
  expect(collapsedClasses(['a', 'b'], [[10, 0], [9, 1]])).toEqual([]);
  expect(collapsedClassWarnings(['a', 'b'], [[10, 0], [10, 0]])[0]).toMatch(/^the model never predicts b \(0 of 20 test images/);
  expect(collapsedClassWarnings(['a', 'b'], [[99, 1], [20, 0]])[0]).toMatch(/^the model almost never predicts b \(1 of 120 test images, 20 of which are b\)/);
});

test('a trained model made never to predict a digit is warned about by name', async () => {
  const model = await standardTrainedMnistModel();
  const test = takeFirst(loadMnistSample('test'), 200);
  // A large negative logit bias on digit 3: the model can no longer predict it.
  const logitBias = Array.from({ length: 10 }, (_, k) => (k === 3 ? -1e4 : 0));
  const result = await evaluate(model, test, { logitBias });
  expect(result.cleanConfusion.reduce((sum, row) => sum + row[3], 0)).toBe(0);
  const warnings = collapsedClassWarnings(result.classNames, result.cleanConfusion);
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toMatch(/^the model never predicts 3 \(0 of 200 test images, \d+ of which are 3\); clean, its images go to \d \d+%/);
  const unbiased = await evaluate(model, test);
  expect(collapsedClassWarnings(unbiased.classNames, unbiased.cleanConfusion)).toEqual([]);
});
