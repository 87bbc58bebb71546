import { describeSchedule, learningRatesForEpoch, LrSchedule, parseSchedule } from '../../src/train/schedule';

/** All rates of a run, epoch after epoch. */
function wholeRun(schedule: LrSchedule, stepsPerEpoch: number, totalEpochs: number): number[] {
  const rates: number[] = [];
  for (let epoch = 0; epoch < totalEpochs; epoch++) {
    rates.push(...learningRatesForEpoch(schedule, epoch, stepsPerEpoch, totalEpochs));
  }
  return rates;
}

describe('learningRatesForEpoch', () => {
  test('returns one Float32 rate per step', () => {
    const rates = learningRatesForEpoch({ kind: 'constant', lr: 0.05 }, 2, 7, 10);
    expect(rates).toBeInstanceOf(Float32Array);
    expect(rates).toHaveLength(7);
    expect(Array.from(rates)).toEqual(new Array(7).fill(Math.fround(0.05)));
  });

  test('piecewise multiplies by the factor from each milestone on, mid-epoch included', () => {
    const schedule: LrSchedule = { kind: 'piecewise', lr: 0.1, milestones: [1.5, 3], factor: 0.1 };
    // 4 steps per epoch: step t of epoch e is at e + t/4 epochs.
    expect(learningRatesForEpoch(schedule, 0, 4, 4)).toEqual(Float32Array.from([0.1, 0.1, 0.1, 0.1]));
    expect(learningRatesForEpoch(schedule, 1, 4, 4)).toEqual(Float32Array.from([0.1, 0.1, 0.01, 0.01]));
    expect(learningRatesForEpoch(schedule, 2, 4, 4)).toEqual(Float32Array.from([0.01, 0.01, 0.01, 0.01]));
    expect(learningRatesForEpoch(schedule, 3, 4, 4)).toEqual(Float32Array.from([0.001, 0.001, 0.001, 0.001]));
  });

  test('cyclic rises linearly to lrMax at the peak and falls to 0 at the last step', () => {
    const schedule: LrSchedule = { kind: 'cyclic', lrMax: 0.2, peakFraction: 0.4 };
    const rates = wholeRun(schedule, 5, 5);
    const peakStep = rates.indexOf(Math.max(...rates));

    // As in Wong et al.: rate = np.interp(epoch + (i+1)/steps, [0, 2, 5], [0, 0.2, 0]).
    expect(rates[0]).toBeCloseTo(0.02, 7);
    expect(rates[peakStep]).toBe(Math.fround(0.2));
    expect(peakStep).toBe(9); // (9 + 1) / 5 = epoch 2 = 0.4 * 5
    expect(rates[rates.length - 1]).toBe(0);
    for (let step = 1; step < rates.length; step++) {
      if (step <= peakStep) expect(rates[step]).toBeGreaterThan(rates[step - 1]);
      else expect(rates[step]).toBeLessThan(rates[step - 1]);
    }
  });

  test('cyclic samples each step the same way whatever the epoch split', () => {
    const schedule: LrSchedule = { kind: 'cyclic', lrMax: 0.2, peakFraction: 0.4 };
    const fine = wholeRun(schedule, 10, 3);
    const coarse = wholeRun(schedule, 5, 3);
    // Every second fine step lands where a coarse step does.
    coarse.forEach((rate, step) => expect(fine[2 * step + 1]).toBeCloseTo(rate, 7));
  });

  test('rejects an epoch outside the run', () => {
    expect(() => learningRatesForEpoch({ kind: 'constant', lr: 0.1 }, 10, 5, 10)).toThrow(
      new RangeError('epoch is 10, expected an integer in [0, 10) (epochs are 0-based)'),
    );
  });

  test('rejects zero steps per epoch', () => {
    expect(() => learningRatesForEpoch({ kind: 'constant', lr: 0.1 }, 0, 0, 10)).toThrow(
      new RangeError('stepsPerEpoch is 0, expected a positive integer'),
    );
  });

  test('rejects a cyclic peak at the very end', () => {
    expect(() => learningRatesForEpoch({ kind: 'cyclic', lrMax: 0.2, peakFraction: 1 }, 0, 5, 10)).toThrow(
      new RangeError('cyclic schedule peakFraction is 1, expected a number in (0, 1)'),
    );
  });
});

describe('parseSchedule', () => {
  test("'constant' keeps the base rate", () => {
    expect(parseSchedule('constant', 0.01, 20)).toEqual({ kind: 'constant', lr: 0.01 });
  });

  test("'piecewise:F1,F2' decays by 10x at those fractions of training, converted to epochs", () => {
    expect(parseSchedule('piecewise:0.5,0.75', 0.1, 30)).toEqual({
      kind: 'piecewise',
      lr: 0.1,
      milestones: [15, 22.5],
      factor: 0.1,
    });
  });

  test('piecewise milestones are exact epochs despite floating-point products', () => {
    // 0.14 * 50 is 7.000000000000001 in floating point.
    expect(parseSchedule('piecewise:0.14', 0.1, 50)).toMatchObject({ milestones: [7] });
  });

  test("'cyclic' uses the base rate as the peak, at 40% of training", () => {
    expect(parseSchedule('cyclic', 0.2, 15)).toEqual({ kind: 'cyclic', lrMax: 0.2, peakFraction: 0.4 });
  });

  const accepted =
    "expected 'constant', 'cyclic' or 'piecewise:F1,F2,...' with increasing fractions of the total epochs in (0, 1), " +
    "e.g. 'piecewise:0.5,0.75'";

  test.each(['linear', 'piecewise', 'piecewise:', 'piecewise:0.75,0.5', 'piecewise:0.5,1.5', 'piecewise:a', 'Cyclic'])(
    'rejects %p, naming the value and what is accepted',
    (text) => {
      expect(() => parseSchedule(text, 0.1, 10)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
      expect(() => parseSchedule(text, 0.1, 10)).toThrow(`learning-rate schedule is '${text}', ${accepted}`);
    },
  );

  test('rejects a non-positive base rate', () => {
    expect(() => parseSchedule('constant', 0, 10)).toThrow(new RangeError('learning rate is 0, expected a positive number'));
  });
});

describe('describeSchedule', () => {
  test('gives one readable line per kind', () => {
    expect(describeSchedule({ kind: 'constant', lr: 0.01 })).toBe('constant lr 0.01');
    expect(describeSchedule(parseSchedule('piecewise:0.5,0.75', 0.1, 30))).toBe('piecewise lr 0.1, x0.1 at epochs 15, 22.5');
    expect(describeSchedule(parseSchedule('cyclic', 0.2, 15))).toBe('cyclic lr 0 -> 0.2 at 40% of training -> 0');
  });
});
