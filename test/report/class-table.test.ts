import { ClassAccuracyRow, formatClassTable, summarizeClasses } from '../../src/report/class-table';

const rows: ClassAccuracyRow[] = [
  { name: 'T-shirt/top', count: 1000, clean: 0.85, robust: 0.6 },
  { name: 'Trouser', count: 980, clean: 0.97, robust: 0.923 },
  { name: 'Shirt', count: 1020, clean: 0.674, robust: 0.312 },
];

describe('summarizeClasses', () => {
  test('finds the best and worst class by robust accuracy and the gap between them', () => {
    const summary = summarizeClasses(rows);

    expect(summary.best.name).toBe('Trouser');
    expect(summary.worst.name).toBe('Shirt');
    expect(summary.gap).toBeCloseTo(0.923 - 0.312, 12);
  });

  test('averages over classes without weighting by class size', () => {
    const summary = summarizeClasses([
      { name: 'big', count: 9000, clean: 1, robust: 0.5 },
      { name: 'small', count: 10, clean: 0, robust: 0.1 },
    ]);

    expect(summary.meanClean).toBe(0.5);
    expect(summary.meanRobust).toBeCloseTo(0.3, 12);
  });

  test('keeps the first class on ties', () => {
    const tied = [
      { name: 'a', count: 1, clean: 1, robust: 0.5 },
      { name: 'b', count: 1, clean: 1, robust: 0.5 },
    ];
    expect(summarizeClasses(tied)).toMatchObject({ best: { name: 'a' }, worst: { name: 'a' }, gap: 0 });
  });

  test('rejects accuracies given in percent instead of 0..1', () => {
    expect(() => summarizeClasses([{ name: 'Bag', count: 1000, clean: 95, robust: 0.7 }])).toThrow(
      new RangeError('class "Bag" clean accuracy is 95, expected a share in [0, 1]'),
    );
  });

  test('rejects an empty list', () => {
    expect(() => summarizeClasses([])).toThrow(new RangeError('class rows are empty, expected at least one class'));
  });
});

describe('formatClassTable', () => {
  test('prints the known table for a small example', () => {
    const table = formatClassTable(rows, { title: 'Fashion-MNIST, PGD-AT', attackLabel: 'PGD-20 eps=0.1' });

    expect(table).toBe(
      [
        'Fashion-MNIST, PGD-AT (robust under PGD-20 eps=0.1)',
        '┌─────────────┬──────┬─────────┬──────┬──────────┬──────┬────────────┐',
        '│ class       │    n │ clean % │    ± │ robust % │    ± │ robust     │',
        '├─────────────┼──────┼─────────┼──────┼──────────┼──────┼────────────┤',
        '│ T-shirt/top │ 1000 │    85.0 │ ±2.3 │     60.0 │ ±3.1 │ ######.... │',
        '│ Trouser     │  980 │    97.0 │ ±1.2 │     92.3 │ ±1.8 │ #########. │',
        '│ Shirt       │ 1020 │    67.4 │ ±3.0 │     31.2 │ ±2.9 │ ###....... │',
        '└─────────────┴──────┴─────────┴──────┴──────────┴──────┴────────────┘',
        // Unweighted means: (85.0 + 97.0 + 67.4) / 3 = 83.13, (60.0 + 92.3 + 31.2) / 3 = 61.17.
        'mean: clean 83.1%  robust 61.2%',
        'best: Trouser 92.3%  worst: Shirt 31.2%  gap: 61.1 points',
        'robust = classified correctly both clean and under attack (PGD-20 eps=0.1), so robust <= clean; ± = 95% Wilson interval (larger half-width)',
      ].join('\n'),
    );
  });

  test('has no colour escape codes, so it can go to log files', () => {
    expect(formatClassTable(rows, { attackLabel: 'FGSM eps=0.1' })).not.toMatch(/\u001b\[/);
  });

  test('uses a default title that names the attack', () => {
    const firstLine = formatClassTable(rows, { attackLabel: 'FGSM eps=0.1' }).split('\n')[0];
    expect(firstLine).toBe('Per-class accuracy (robust under FGSM eps=0.1)');
  });

  test('computes the printed gap from the printed accuracies, so the line adds up', () => {
    // The raw gap 92.34 - 31.25 would print as 61.1, but the reader sees 92.3 and 31.3 (31.25 rounds up).
    const table = formatClassTable(
      [
        { name: 'Sneaker', count: 10, clean: 1, robust: 0.9234 },
        { name: 'Pullover', count: 10, clean: 1, robust: 0.3125 },
      ],
      { attackLabel: 'PGD-20 eps=0.1' },
    );
    expect(table).toContain('best: Sneaker 92.3%  worst: Pullover 31.3%  gap: 61.0 points');
  });
});

describe('a class with no test images', () => {
  // The evaluation gives such a class accuracy 0 (no division by zero happens); a NaN is read the same.
  const withEmpty: ClassAccuracyRow[] = [
    ...rows,
    { name: 'Sandal', count: 0, clean: 0, robust: 0 },
    { name: 'Bag', count: 0, clean: NaN, robust: NaN },
  ];

  test('is left out of the means, best and worst, and named', () => {
    const summary = summarizeClasses(withEmpty);
    const full = summarizeClasses(rows);
    expect(summary).toEqual({ ...full, untested: ['Sandal', 'Bag'] });
    expect(summary.worst.name).toBe('Shirt');
  });

  test('is n/a in the table, with a warning line', () => {
    const lines = formatClassTable(withEmpty, { attackLabel: 'PGD-20 eps=0.1' }).split('\n');
    expect(lines).toContain('│ Sandal      │    0 │     n/a │      │      n/a │      │            │');
    expect(lines).toContain('│ Bag         │    0 │     n/a │      │      n/a │      │            │');
    expect(lines).toContain('mean: clean 83.1%  robust 61.2%');
    expect(lines).toContain('best: Trouser 92.3%  worst: Shirt 31.2%  gap: 61.1 points');
    expect(lines[lines.length - 1]).toBe('warning: classes "Sandal", "Bag" have no test images: n/a, left out of the mean, best and worst');
  });

  test('every class without test images is refused', () => {
    expect(() => summarizeClasses([{ name: 'a', count: 0, clean: 0, robust: 0 }])).toThrow(
      'none of the 1 classes has a test example; evaluate on a test set that holds images');
  });
});
