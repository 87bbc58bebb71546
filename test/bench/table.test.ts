/** The bench's console table fits in 120 columns with every workload name and all three references. */
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { benchTable } = require('../../scripts/bench/table.js') as { benchTable: (results: unknown[], references: unknown[]) => string };

const references = [{ key: 'a', name: 'usual' }, { key: 'b', name: 'inputOnly' }, { key: 'c', name: 'best' }];
const row = (name: string, ours: number) => ({
  name,
  ours: { imagesPerSecond: ours, peakBytes: 1234 * 2 ** 20 },
  references: { usual: { imagesPerSecond: 1234.5 }, inputOnly: { imagesPerSecond: 23456.7 }, best: null },
  ratio: { usual: ours / 1234.5, inputOnly: ours / 23456.7, best: null },
  secondsPerEpoch: 12793.4,
});

test('every line is at most 120 columns, with the numbers in it', () => {
  const text = benchTable([row('smallcnn-fmnist pgd10-attack', 12345.6), row('preact18-32x32 pgd10-attack', 4.2)], references);
  const lines = text.split('\n');
  lines.forEach((line) => expect(line.length).toBeLessThanOrEqual(120));
  const first = lines.find((line) => line.includes('smallcnn-fmnist pgd10-attack'))!;
  expect(first.split('│').map((cell) => cell.trim()).filter(Boolean)).toEqual(
    ['smallcnn-fmnist pgd10-attack', '12345.6', '1234.5', '23456.7', 'n/a', '10.00x', '0.53x', 'n/a', '12793', '1234']);
});
