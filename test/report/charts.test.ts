/** Per-class charts: one colour per class shown, none repeated. */
import { classCurvesChart, classPalette, groupedBarsChart, renderSvg } from '../../src/report/charts';
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

test('per-class bars and curves draw 95% error bars where the rows carry an interval', async () => {
  const bars = groupedBarsChart({
    title: 't', yTitle: '%', classOrder: ['a', 'b'],
    rows: [{ className: 'a', group: 'before', value: 50, low: 40, high: 60 }, { className: 'b', group: 'before', value: 70, low: 61, high: 78 }],
  });
  const barsSvg = await renderSvg(bars);
  // Vega writes a data layer of rules as "mark-rule role-mark" (axes are "mark-rule role-axis-...").
  expect(barsSvg).toContain('mark-rule role-mark');
  expect(await renderSvg(groupedBarsChart({ title: 't', yTitle: '%', classOrder: ['a'], rows: [{ className: 'a', group: 'g', value: 5 }] }))).not.toContain('mark-rule role-mark');
  const curves = classCurvesChart({ title: 't', xTitle: 'epoch', yTitle: '%', points: [{ className: 'a', x: 1, value: 50, low: 40, high: 60 }, { className: 'a', x: 2, value: 55, low: 45, high: 65 }] });
  expect(await renderSvg(curves)).toContain('mark-rule role-mark');
});

test('per-class curves with error bars keep one legend naming every class, in class order', async () => {
  const names = ['Shirt', 'Coat', 'Bag'];
  const points = names.flatMap((className, k) => [1, 2].map((x) => ({ className, x, value: 40 + 10 * k + x, low: 30 + 10 * k, high: 50 + 10 * k + x })));
  const svg = await renderSvg(classCurvesChart({ title: 't', xTitle: 'epoch', yTitle: '%', points, classOrder: names }));
  expect(svg).toContain('mark-rule role-mark');
  // Legend labels are the only text elements holding the bare class names.
  const labels = [...svg.matchAll(/>(Shirt|Coat|Bag)</g)].map((match) => match[1]);
  expect(labels).toEqual(names);
});
