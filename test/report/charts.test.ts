/** Per-class charts: one colour per class shown, none repeated. */
import { classCurvesChart, classPalette } from '../../src/report/charts';
import { FASHION_MNIST_CLASSES } from '../../src';

test('the ten Fashion-MNIST curves get ten different colours, in legend order', () => {
  const points = FASHION_MNIST_CLASSES.flatMap((className, k) => [1, 2].map((x) => ({ className, x, value: 10 * k })));
  const spec = classCurvesChart({ title: 't', points, xTitle: 'epoch', yTitle: '%' }) as unknown as { layer: { encoding: { color: { scale: { domain: string[]; range: string[] } } } }[] };
  const { domain, range } = spec.layer[spec.layer.length - 1].encoding.color.scale;
  expect(domain).toEqual([...FASHION_MNIST_CLASSES]);
  expect(new Set(range).size).toBe(10);
  // T-shirt/top and Bag shared dark blue under the named scheme.
  expect(range[domain.indexOf('T-shirt/top')]).not.toBe(range[domain.indexOf('Bag')]);
});

test.each([1, 10, 12, 20, 21, 100])('a palette of %i colours has no repeats', (count) => {
  const colours = classPalette(count);
  expect(colours).toHaveLength(count);
  expect(new Set(colours).size).toBe(count);
});
