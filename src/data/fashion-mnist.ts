import type { ImageDataset } from './dataset';
import { loadIdxSplit, type IdxDatasetDescription } from './mnist-format';

/** Where Debian's dataset-fashion-mnist package installs the four gzipped IDX files. */
export const FASHION_MNIST_DEFAULT_DIR = '/usr/share/datasets/fashion-mnist';

/** Class names in label order (label 0 is 'T-shirt/top'), as published by Zalando Research. */
export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze([
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
]);

const FASHION_MNIST: IdxDatasetDescription = {
  name: 'fashion-mnist',
  displayName: 'Fashion-MNIST',
  classNames: [...FASHION_MNIST_CLASSES],
  missingFilesHint: "install Debian's dataset-fashion-mnist or pass --data-dir",
};

/** Fashion-MNIST: 60,000 train and 10,000 test 28x28 grayscale images of 10 clothing classes. */
export function loadFashionMnist(split: ImageDataset['split'], dir: string = FASHION_MNIST_DEFAULT_DIR): ImageDataset {
  return loadIdxSplit(dir, split, FASHION_MNIST);
}
